#!/usr/bin/env python3
"""make bench-instructions: instructions executed per request and per statement, counted
by valgrind's callgrind. Unlike `make bench`'s rates, these counts do not move with the
machine's load (on a shared 2-core VM identical wall-clock runs differ by 15-30%), so they
compare two versions of the code exactly; they do not see waits (fsync, locks, the network).

Counted:
- gateway: instructions per `POST /api/jobs` (16 keep-alive connections, one request each
  in flight, so the group commit takes up to 16 rows a statement) and per `GET /health`;
  the storing server (storeserver.c) per `POST /api/jobs` the same way, and the
  hello-world ceiling per `GET /health`. Each is (a run with 2N requests - a run with N)
  / N, so start-up and shutdown cancel out.
- PostgreSQL: a copy of a migrated cluster started under callgrind (fsync off, children
  traced), each measurement in its own session, so its backend's count is its own:
  instructions per statement of the gateway's group-commit inserts, the plain form (no
  idempotency keys) and the tagged one, with 1 and 16 rows (its own SQL, printed by
  build/bench/printquery; rows sent back as to any client), and per job for a round of
  "claim 100 with fs_jobs_claim as workers do, complete them with the column form of
  fs_jobs_complete" (results the size of a ping job's). Each is (a session of 2R rounds - a
  session of R rounds) / R, so connecting and the first executions' planning cancel out.
  (Single-user mode, used before, printed every result column with printf, which made
  statements returning many columns look dearer than they are.)

Writes docs/instructions.md (and prints it); --smoke: small N and R, seconds, and the table
goes to build/bench/instructions-smoke.md instead. Needs valgrind (make bench-instructions
installs it as root)."""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (tests/bench/run.py: cluster, process and port helpers)

AGENT = bench.AGENT
FULL = dict(requests=4000, rounds=20)
SMOKE = dict(requests=200, rounds=6)
CLAIM = 100
PING_RESULT = '{"pong":true,"worker":"host-abcdef:12345","jobId":%d,"attempt":1,"sleptMs":0}'


def log(msg):
    print(f"bench-instructions: {msg}", flush=True)


def callgrind_total(path):
    """The Ir total callgrind wrote at exit."""
    m = re.search(r"^(?:summary|totals): (\d+)", path.read_text(), re.M)
    if not m:
        raise RuntimeError(f"{path}: no callgrind totals")
    return int(m.group(1))


def as_cluster_owner(cmd):
    """cmd run as the postgres user when we are root: the cluster is its (deploy/pgctl.sh)."""
    return ["runuser", "-u", "postgres", "--"] + cmd if os.geteuid() == 0 else cmd


def http_requests(port, raw, n, conns=16):
    """Sends n copies of the raw request over conns keep-alive connections, one in flight
    on each; every answer must be 2xx."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=120) for _ in range(conns)]
    try:
        left = n
        while left > 0:
            batch = socks[:min(conns, left)]
            for s in batch:
                s.sendall(raw)
            for s in batch:
                buf = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise RuntimeError("the server closed a connection")
                    buf += chunk
                    head = buf.find(b"\r\n\r\n")
                    if head < 0:
                        continue
                    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", buf[:head])
                    if length and len(buf) >= head + 4 + int(length.group(1)):
                        break
                if not re.match(rb"HTTP/1\.1 2\d\d ", buf):
                    raise RuntimeError(f"unexpected answer: {buf[:200]!r}")
            left -= len(batch)
    finally:
        for s in socks:
            s.close()


class Counter:
    def __init__(self, cfg):
        self.cfg = cfg
        self.b = bench.Bench(bench.SMOKE, True)  # its private cluster and keys
        self.out = bench.OUT / "callgrind"
        self.rows = []

    def build(self):
        bench.OUT.mkdir(parents=True, exist_ok=True)
        cc = os.environ.get("CC", "cc")
        obj = bench.ROOT / "build" / "obj" / "gateway" / "db" / "queries.o"
        bench.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-I", bench.ROOT, "-o", bench.OUT / "printquery",
                   bench.ROOT / "tests/bench/printquery.c", obj,
                   *bench.run(["pkg-config", "--cflags", "libpq", "libevent"]).stdout.split()])
        self.b.build_ceilings()  # the hello-world server among them
        self.out.mkdir(parents=True, exist_ok=True)

    # ---------------------------------------------------------------- servers
    def server_count(self, name, cmd, env, raw, n):
        """Instructions of one server run under callgrind that answers n requests."""
        port = bench.free_port()
        out = self.out / f"{name}-{n}.cg"
        p = bench.start(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd(port)],
                        env={**env, "PORT": str(port)}, log_path=self.out / f"{name}.log")
        try:
            bench.wait_http(port, timeout=120)
            http_requests(port, raw, n)
        finally:
            bench.stop(p, timeout=120)
        return callgrind_total(out)

    def per_request(self, label, name, cmd, env, raw):
        n = self.cfg["requests"]
        one, two = (self.server_count(name, cmd, env, raw, k) for k in (n, 2 * n))
        value = (two - one) / n
        self.rows.append((label, value, "instructions per request"))
        return value

    def gateway(self):
        env = {"DATABASE_URL": self.b.url, "FLOWSTATE_LOG_LEVEL": "warn", "FLOWSTATE_MIGRATE_ON_START": "off"}
        body = json.dumps({"targetAgent": AGENT, "payload": {"taskType": "ping"}}).encode()
        post = (b"POST /api/jobs HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + self.b.admin_key.encode() + b"\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        get = b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"
        gateway = lambda port: [bench.BIN / "flowstate-gateway"]  # noqa: E731  (port from env)
        hello = lambda port: [bench.OUT / "hello", port]  # noqa: E731
        store = lambda port: [bench.OUT / "storeserver", port, self.b.url, AGENT, 1]  # noqa: E731
        self.per_request("gateway, `POST /api/jobs` (16 connections)", "gateway-post", gateway, env, post)
        self.per_request("storing server, `POST /api/jobs` (16 connections; the ceiling for a stored POST)",
                         "store-post", store, {}, post)
        self.per_request("gateway, `GET /health`", "gateway-health", gateway, env, get)
        self.per_request("hello-world server, `GET /health` (the ceiling)", "hello", hello, {}, get)

    # ---------------------------------------------------------------- PostgreSQL
    def server_sessions(self, name, sessions):
        """Instructions of each session's backend: a copy of the cluster's data directory is
        started (fsync off, autovacuum off) under callgrind, children traced, and each
        session(conn) runs on its own connection, one after the other."""
        data = self.b.pgdir / "data"
        copy = self.b.pgdir / "counted"  # inside the cluster's directory: the postgres user can reach it
        shutil.rmtree(copy, ignore_errors=True)
        subprocess.run(["cp", "-a", str(data), str(copy)], check=True)
        (copy / "postmaster.pid").unlink(missing_ok=True)
        out = self.b.pgdir / f"cg-{name}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        port = bench.free_port()
        postgres = Path(bench.run(["bash", bench.PGCTL, "bindir", self.b.pgdir]).stdout.strip()) / "postgres"
        cmd = ["valgrind", "--tool=callgrind", "--trace-children=yes", f"--callgrind-out-file={out}/%p.cg",
               postgres, "-D", copy, "-p", port, "-c", "listen_addresses=127.0.0.1",
               "-c", f"unix_socket_directories={copy}", "-c", "fsync=off", "-c", "autovacuum=off"]
        if os.geteuid() == 0:
            subprocess.run(["chown", "postgres", str(out)], check=True)
        server = subprocess.Popen([str(c) for c in as_cluster_owner(cmd)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  cwd="/", start_new_session=True)  # cwd: readable by the postgres user
        url = f"postgresql://postgres@127.0.0.1:{port}/flowstate"
        pids = []
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    psycopg2.connect(url).close()
                    break
                except psycopg2.OperationalError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"postgres under callgrind did not start ({name})")
                    time.sleep(0.2)
            for session in sessions:
                conn = psycopg2.connect(url)
                conn.autocommit = True  # each statement its own transaction, as the gateway's
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_backend_pid()")
                    pids.append(cur.fetchone()[0])
                    session(cur)
                conn.close()
        finally:  # a fast shutdown; each backend wrote its file as it exited
            stop = [postgres.parent / "pg_ctl", "stop", "-D", copy, "-m", "fast", "-w", "-t", "120"]
            subprocess.run([str(c) for c in as_cluster_owner(stop)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd="/")
            server.wait(timeout=120)
        return [callgrind_total(out / f"{pid}.cg") for pid in pids]

    def per_round(self, label, name, make, unit, divisor):
        """(a session of 2R rounds - a session of R rounds) / R / divisor, so the session's
        start and the first executions' planning cancel out."""
        r = self.cfg["rounds"]
        one, two = self.server_sessions(name, [make(r), make(2 * r)])
        self.rows.append((label, (two - one) / r / divisor, unit))

    def postgres(self):
        self.b.sql("TRUNCATE job_queue RESTART IDENTITY CASCADE")
        self.b.sql("INSERT INTO job_queue (payload, target_agent) SELECT '{\"taskType\": \"ping\"}', %s"
                   " FROM generate_series(1, %s)", (AGENT, 3 * self.cfg["rounds"] * CLAIM))
        self.b.sql("VACUUM ANALYZE job_queue")
        statements = {name: bench.run([bench.OUT / "printquery", name]).stdout.strip()
                      for name in ("fs_jobs_insert", "fs_jobs_insert_plain")}
        subprocess.run(["bash", str(bench.PGCTL), "stop", str(self.b.pgdir)], check=True,
                       stdout=subprocess.DEVNULL)

        def inserts(name, rows):
            doc = json.dumps([{"i": i, "agent": AGENT, "payload": {"taskType": "ping"}} for i in range(rows)])

            def session(r):
                def run(cur):
                    cur.execute(f"PREPARE ins(jsonb) AS {statements[name]}")
                    for _ in range(r):
                        cur.execute("EXECUTE ins(%s)", (doc,))
                        if len(cur.fetchall()) != rows:
                            raise RuntimeError(f"{name}: not {rows} rows back")
                return run
            return session

        def claim_complete(r):
            def run(cur):
                for _ in range(r):  # the worker's claim, then the gateway's column form of completion
                    cur.execute("SELECT id, attempt, lease, payload FROM fs_jobs_claim(%s, %s, 'bench:1', 60)",
                                (AGENT, CLAIM))
                    claimed = cur.fetchall()
                    if len(claimed) != CLAIM:
                        raise RuntimeError(f"claimed {len(claimed)} jobs, not {CLAIM}")
                    results = "[" + ",".join(PING_RESULT % job[0] for job in claimed) + "]"
                    cur.execute("SELECT count(*) FROM fs_jobs_complete(%s::bigint[], %s::int[], %s::jsonb, false)",
                                ([job[0] for job in claimed], [job[1] for job in claimed], results))
                    cur.fetchall()
            return run

        for name, what in (("fs_jobs_insert_plain", "rows without idempotency keys"),
                           ("fs_jobs_insert", "any rows")):
            for rows in (1, 16):
                self.per_round(f"PostgreSQL, group-commit insert (`{name}`, {what}), {rows} row{'s' * (rows > 1)}",
                               f"{name}-{rows}", inserts(name, rows), "instructions per statement", 1)
        self.per_round(f"PostgreSQL, claim {CLAIM} (`fs_jobs_claim`) + complete them (`fs_jobs_complete`)",
                       "claim-complete", claim_complete, "instructions per job", CLAIM)

    def report(self, path, argv, elapsed):
        git = subprocess.run(["git", "-C", str(bench.ROOT), "rev-parse", "--short", "HEAD"],
                             stdout=subprocess.PIPE, text=True).stdout.strip() or "unknown"
        lines = [f"# Instruction counts (git {git})", "",
                 f"Generated by `{' '.join(argv)}` in {elapsed:.0f} s: callgrind `Ir`, "
                 f"N = {self.cfg['requests']:,} requests, R = {self.cfg['rounds']} rounds. Counts, not "
                 "rates: they do not move with the machine's load, and they do not see waits (fsync, "
                 "locks, the network). What each line runs: "
                 "[tests/bench/README.md](../tests/bench/README.md).", "",
                 "| what | instructions | per |", "|---|---|---|"]
        lines += [f"| {label} | {value:,.0f} | {unit[len('instructions '):]} |" for label, value, unit in self.rows]
        path.write_text("\n".join(lines) + "\n")
        print(path.read_text())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="small N and R (seconds; checks the harness)")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("bench-instructions: valgrind is missing (make bench-instructions installs it as root)")
    for exe in ("flowstate-gateway",):
        if not (bench.BIN / exe).exists():
            sys.exit(f"bench-instructions: {bench.BIN / exe} is missing (make all)")
    argv = ["make bench-instructions" + (" SMOKE=1" if args.smoke else "")] if os.environ.get("BENCH_VIA_MAKE") \
        else ["/usr/bin/python3", "tests/bench/instructions.py"] + sys.argv[1:]
    c = Counter(SMOKE if args.smoke else FULL)
    t0 = time.monotonic()
    try:
        c.build()
        log(f"starting a private PostgreSQL in {c.b.pgdir}")
        c.b.start_pg()
        log("gateway and hello-world server under callgrind")
        c.gateway()
        log("PostgreSQL under callgrind")
        c.postgres()
        report = bench.OUT / "instructions-smoke.md" if args.smoke else bench.ROOT / "docs" / "instructions.md"
        c.report(report, argv, time.monotonic() - t0)
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        log(f"failed: {e}\n{getattr(e, 'stderr', '') or ''}")
        return 1
    finally:
        c.b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
