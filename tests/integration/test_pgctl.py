"""deploy/pgctl.sh bindir: the directory of the server binaries the script runs a cluster
with, for tools that run them directly (tests/bench/instructions.py runs `postgres --single`
on a copy of a cluster, which only a server of the cluster's own version can open)."""

import os
import subprocess
from pathlib import Path

from fsutil import PGCTL, child_env


def test_bindir_names_the_binaries_the_running_cluster_uses(pg_cluster):
    p = subprocess.run(["bash", str(PGCTL), "bindir", str(pg_cluster.dir)], env=child_env({}),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    postmaster = int((pg_cluster.dir / "data" / "postmaster.pid").read_text().split()[0])
    running = Path(os.readlink(f"/proc/{postmaster}/exe"))
    assert Path(p.stdout.strip()).resolve() == running.parent.resolve()
