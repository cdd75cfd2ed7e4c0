"""The build embeds exactly the migrations sql/ holds: adding or removing one rebuilds the
generated table, whatever the files' modification times (a migration checked out or copied
with an older mtime than build/gen/migrations_data.c used to be left out of the binaries)."""

import subprocess

from fsutil import REPO


def embedded(build, migrations):
    target = build / "gen" / "migrations_data.c"
    subprocess.run(["make", "-s", f"BUILD={build}", f"MIGRATIONS={' '.join(migrations)}", str(target)],
                   cwd=REPO, check=True, capture_output=True, timeout=60)
    return target.read_text()


def test_embedded_migrations_follow_the_set_of_files(tmp_path):
    tables, jobs = "sql/001_tables.sql", "sql/002_jobs.sql"
    assert '"002_jobs"' not in embedded(tmp_path, [tables])
    # sql/002 is older than the table just generated: only the changed set can rebuild it
    assert '"002_jobs"' in embedded(tmp_path, [tables, jobs])
    assert '"002_jobs"' not in embedded(tmp_path, [tables])
    assert "migrations_count = 1;" in embedded(tmp_path, [tables])
