"""The schema and its migrator: sql/schema.sql is what the migrations make; every applied
migration is recorded with the SHA-256 of its file; and the migrator refuses, changing
nothing, a database whose applied migrations it cannot vouch for — one applied from a file
that has changed since, one that records a migration this build does not have, and one
created by the numbering that preceded the current baseline (001_core to
013_inlined_row_json). Refusals are checked both from --migrate and from a gateway start."""

import difflib
import hashlib
import itertools
import re
import subprocess

import pytest

from conftest import DB
from fsutil import REPO, free_port, run_cli

MIGRATIONS = sorted(p for p in (REPO / "sql").glob("[0-9]*.sql"))
OLD_NUMBERING = ["001_core", "002_lifecycle", "003_memory", "004_worker_api", "005_stats",
                 "006_document_notify", "007_pgvector_search", "008_claim_plans",
                 "009_announce_fast_path", "010_cached_plans", "011_cheaper_announce",
                 "012_report_columns", "013_inlined_row_json"]

_names = itertools.count(1)


@pytest.fixture
def empty_db(pg_cluster):
    """A new, empty database (not cloned from the migrated template); yields its URL."""
    name = f"schema_{next(_names)}"
    pg_cluster.admin(f"CREATE DATABASE {name}")
    try:
        yield pg_cluster.url_for(name)
    finally:
        pg_cluster.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def snapshot(db):
    """Everything a migration could change: the catalog's view of the public schema
    (relations with their columns, functions with their definitions, types, triggers) and
    the rows of schema_migrations."""
    return {
        "columns": db.query("SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod) AS t"
                            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                            " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
                            "  AND NOT a.attisdropped"
                            " WHERE n.nspname = 'public' ORDER BY 1, 3"),
        "functions": db.query("SELECT p.oid::regprocedure::text AS f, pg_get_functiondef(p.oid) AS def"
                              " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                              " WHERE n.nspname = 'public' ORDER BY 1"),
        "types": db.query("SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                          " WHERE n.nspname = 'public' ORDER BY 1"),
        "triggers": db.query("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"),
        "migrations": db.query("SELECT * FROM schema_migrations ORDER BY version"),
        "rows": db.counts(),
    }


def refused(url, expect_in_log):
    """Runs --migrate and then a plain gateway start against url: both must exit non-zero
    with the reason in their log."""
    for args, env in ((["--migrate"], {}), ([], {"PORT": free_port(), "FLOWSTATE_HOST": "127.0.0.1"})):
        p = run_cli(args, {"DATABASE_URL": url, **env}, timeout=30)
        out = p.stdout + p.stderr
        assert p.returncode != 0, f"flowstate-gateway {' '.join(args) or '(serve)'} exited 0:\n{out}"
        for text in expect_in_log:
            assert text in out, f"flowstate-gateway {' '.join(args) or '(serve)'}: {text!r} not in its log:\n{out}"
        assert "Sanitizer" not in out, out  # a refusal is a clean exit, not a crash or a leak


def test_each_applied_migration_is_recorded_with_the_sha256_of_its_file(db):
    rows = db.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    want = [(int(p.name.split("_")[0]), p.stem, hashlib.sha256(p.read_bytes()).hexdigest()) for p in MIGRATIONS]
    assert [(r["version"], r["name"], r["checksum"]) for r in rows] == want
    # migrating again applies nothing and accepts what it recorded
    p = run_cli(["--migrate"], {"DATABASE_URL": db.url, "FLOWSTATE_LOG_LEVEL": "info"})
    assert p.returncode == 0 and "migration applied" not in p.stdout + p.stderr, p.stdout + p.stderr


def test_a_migration_changed_after_it_was_applied_is_refused_naming_the_file(db):
    # The database holds what 002_jobs.sql said when it was applied; the file says something
    # else now (the recorded checksum is that of the earlier text).
    earlier = (REPO / "sql" / "002_jobs.sql").read_text() + "-- an edit after the fact\n"
    db.execute("UPDATE schema_migrations SET checksum = %s WHERE name = '002_jobs'",
               (hashlib.sha256(earlier.encode()).hexdigest(),))
    before = snapshot(db)
    refused(db.url, ["sql/002_jobs.sql has changed since it was applied", "new migration"])
    assert snapshot(db) == before


def test_a_migration_this_build_does_not_have_is_refused(db):
    db.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (99, '099_from_the_future', 'x')")
    before = snapshot(db)
    refused(db.url, ["099_from_the_future.sql", "does not have"])
    assert snapshot(db) == before


def test_a_database_of_the_old_numbering_is_refused_and_left_alone(empty_db):
    # What the earlier migrator left: schema_migrations without checksums, the old names,
    # and the tables they made (one is enough to show that nothing is touched).
    db = DB(empty_db)
    try:
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                   " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        for version, name in enumerate(OLD_NUMBERING, 1):
            db.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
        db.execute("CREATE TABLE job_queue (id BIGSERIAL PRIMARY KEY, payload JSONB NOT NULL,"
                   " target_agent TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending')")
        db.execute("INSERT INTO job_queue (payload, target_agent) VALUES ('{}', 'a')")
        before = snapshot(db)
        refused(empty_db, ["migrated by an earlier Flowstate", "001_core", "drop and recreate the database"])
        assert snapshot(db) == before
    finally:
        db.close()


def test_schema_sql_is_what_the_migrations_make(empty_db):
    p = run_cli(["--migrate"], {"DATABASE_URL": empty_db}, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    got = subprocess.run(["sh", str(REPO / "sql" / "dump-schema.sh"), empty_db], capture_output=True,
                         text=True, timeout=60)
    assert got.returncode == 0, got.stderr
    committed = (REPO / "sql" / "schema.sql").read_text()
    if got.stdout != committed:
        diff = "".join(difflib.unified_diff(committed.splitlines(True), got.stdout.splitlines(True),
                                            "sql/schema.sql (committed)", "what the migrations make", n=2))
        pytest.fail("sql/schema.sql differs from the schema the migrations make; if the migrations are "
                    "right, regenerate it with `make schema` and commit it (and update docs/schema.md):\n"
                    + diff[:20000], pytrace=False)


def test_every_function_is_defined_once_in_one_migration(db):
    """A later migration changes a function an earlier one made with CREATE OR REPLACE of the
    same signature (installs already applied the earlier file); anything else that defines a
    function twice, or replaces one no earlier migration made, is refused."""
    defined = {}
    for p in MIGRATIONS:
        for m in re.finditer(r"CREATE\s+(OR\s+REPLACE\s+)?FUNCTION\s+(\w+)\s*\(([^)]*)\)", p.read_text()):
            sig = m.group(2) + "(" + " ".join(m.group(3).split()) + ")"
            if m.group(1):
                assert defined.get(sig, p.name) != p.name, \
                    f"{p.name} replaces {sig}, which no earlier migration defines (CREATE OR REPLACE)"
                continue
            assert sig not in defined, f"{sig} is defined in {defined[sig]} and in {p.name}"
            defined[sig] = p.name
    functions = db.scalar("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                          " WHERE n.nspname = 'public'")
    assert len(defined) == functions, sorted(defined)


def test_docs_schema_md_names_every_table_column_index_function_and_trigger(db):
    doc = (REPO / "docs" / "schema.md").read_text()
    names = db.query(
        "SELECT 'table' AS kind, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        " UNION SELECT 'column', a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        "  JOIN pg_namespace n ON n.oid = c.relnamespace"
        "  WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped"
        " UNION SELECT 'index', c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "  WHERE n.nspname = 'public' AND c.relkind = 'i' AND c.relname NOT LIKE '%%\\_pkey'"
        " UNION SELECT 'function', p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        "  WHERE n.nspname = 'public'"
        " UNION SELECT 'type', t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        "  WHERE n.nspname = 'public' AND t.typtype = 'c' AND t.typname LIKE 'fs\\_%%'"
        " UNION SELECT 'trigger', tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2")
    assert len(names) > 80, names
    missing = [f"{r['kind']} {r['name']}" for r in names if not re.search(r"`[^`]*\b" + r["name"] + r"\b[^`]*`", doc)]
    assert not missing, f"docs/schema.md does not mention: {missing}"
