#!/usr/bin/python3
"""Flowstate benchmarks (`make bench`, `make bench SMOKE=1`). See tests/bench/README.md.

Starts a private PostgreSQL (default durability) in a temp dir, builds the ceilings
(build/bench/hello, storeserver, claimloop, insertloop), runs every scenario REPEATS times against
Flowstate and the ceilings, and writes the report (docs/benchmarks.md and
docs/benchmarks-drain.svg; in smoke mode build/bench/benchmarks-smoke.md and
build/bench/benchmarks-drain-smoke.svg). Python 3 stdlib + psycopg2 only.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402  (tests/bench/peers.py)

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "build" / "bin"
OUT = ROOT / "build" / "bench"
PGCTL = ROOT / "deploy" / "pgctl.sh"
AGENT = "code_analyzer"

FULL = dict(repeats=3, wrk_seconds=10, drain_jobs=50000, drain_procs=(1, 2, 4),
            latency_rate=500, latency_seconds=10, crash_jobs=8, crash_sleep_ms=1000,
            concurrency=16, prefetch=1000, claim_batch=500, batch_jobs=1000, peers=True,
            mixed_jobs=10000, mixed_rate=800, mixed_seconds=10,
            wf_runs=2000, wf_rate=100, wf_seconds=10)
SMOKE = dict(repeats=1, wrk_seconds=1, drain_jobs=2000, drain_procs=(1, 2, 4),
             latency_rate=200, latency_seconds=2, crash_jobs=4, crash_sleep_ms=500,
             concurrency=16, prefetch=1000, claim_batch=500, batch_jobs=1000, peers=False,
             mixed_jobs=400, mixed_rate=100, mixed_seconds=2,
             wf_runs=40, wf_rate=20, wf_seconds=1)

PEERS_SETUP = """Peer settings, as their docs recommend for throughput (comments at the top of
`tests/bench/peers/graphile.mjs` and `pgboss.mjs` cite each): graphile-worker with
concurrentJobs 24, localQueue size 500 (batched fetching), completeJobBatchDelay and
failJobBatchDelay 0 (batched completion), maxPoolSize 25, prepared statements; pg-boss with
work() batchSize 100 (one complete() per batch), localConcurrency 4 polling loops per process,
burstWhenBatchFull, pollingIntervalSeconds 0.5. Both pre-queue with their bulk APIs (addJobs,
insert). Their jobs/s run from the first handler call to the moment the database shows no
open job (polled every 20 ms)."""

COMMANDS = []  # every command the benchmark ran, for the report (deduplicated, in order)
PROCS = []  # processes to stop at exit


def log(msg):
    print(f"bench: {msg}", flush=True)


def note_cmd(cmd, env=None):
    s = " ".join(str(c) for c in cmd)
    if env:
        s = " ".join(f"{k}={v}" for k, v in env.items()) + " " + s
    s = s.replace(str(ROOT) + "/", "")
    if s not in COMMANDS:
        COMMANDS.append(s)


def run(cmd, env=None, **kw):
    note_cmd(cmd, kw.pop("note_env", None))
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([str(c) for c in cmd], env=full_env, check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def start(cmd, env=None, log_path=None, note_env=None):
    note_cmd(cmd, note_env)
    full_env = dict(os.environ, **(env or {}))
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    p = subprocess.Popen([str(c) for c in cmd], env=full_env, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True)
    PROCS.append(p)
    return p


def stop(p, timeout=30):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in PROCS:
        PROCS.remove(p)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path="/health", timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port}{path}")


def median(xs):
    return statistics.median(xs) if xs else None


def proc_status_kb(pid, field):
    """A kB field of /proc/<pid>/status (RssAnon: private memory now), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def pss_kb(pid):
    """Proportional set size in kB from /proc/<pid>/smaps_rollup: the process's private pages
    plus its share of each page it shares with others (a shared library's pages divided by
    the processes mapping them), or None."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class MemoryPeaks:
    """The highest PSS and RssAnon seen of a gateway and of the largest of a pool's workers,
    sampled whenever sample() is called (wait_drained's polls). RSS, which this replaced,
    counts every shared library page in full in every process; what a process costs the host
    is its private memory (RssAnon) and its share of the rest (PSS)."""

    def __init__(self, gateway_pid, pool_pid, workers):
        self.gateway_pid, self.pool_pid, self.workers = gateway_pid, pool_pid, workers
        self.worker_pids = []
        self.peak = {"pss_gateway": 0, "anon_gateway": 0, "pss_worker": 0, "anon_worker": 0}

    def _workers(self):
        # Found once all have started: scanning /proc on every poll would take CPU from the
        # drain being measured.
        if len(self.worker_pids) < self.workers:
            try:
                with open(f"/proc/{self.pool_pid}/task/{self.pool_pid}/children") as f:
                    self.worker_pids = [int(x) for x in f.read().split()]
            except OSError:
                self.worker_pids = children_of(self.pool_pid)
        return self.worker_pids

    def sample(self):
        for role, pids in (("gateway", [self.gateway_pid]), ("worker", self._workers())):
            for pid in pids:
                for key, kb in (("pss", pss_kb(pid)), ("anon", proc_status_kb(pid, "RssAnon"))):
                    if kb:
                        self.peak[f"{key}_{role}"] = max(self.peak[f"{key}_{role}"], kb)

    def record(self, bench, scenario):
        """Records each peak in MB as <pss|anon>_<gateway|worker>_<scenario>."""
        self.sample()
        for key, kb in self.peak.items():
            if not kb:
                raise RuntimeError(f"memory: no {key} sample in the {scenario} run")
            bench.record(f"{key}_{scenario}", kb / 1024)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, reaped=False):
    """CPU time of a process (user + system), with reaped also that of the children it has
    waited for (how the postmaster keeps the time of backends that have exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return 0.0
    fields = st[st.rfind(")") + 2:].split()  # fields[0] is field 3 of proc(5)
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return ticks / CLK_TCK


def machine_seconds():
    """(busy, all) CPU seconds of the whole machine so far, all cores together (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]  # user … steal
    return (sum(v) - v[3] - v[4]) / CLK_TCK, sum(v) / CLK_TCK


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            fields = st[st.rfind(")") + 2:].split()
            if len(fields) > 1 and int(fields[1]) == pid:
                out.append(int(d))
    return sorted(out)


class Bench:
    def __init__(self, cfg, smoke):
        self.cfg = cfg
        self.smoke = smoke
        self.results = {}  # name -> list of values (one per repeat)
        self.errors = []
        self.tmp = Path(tempfile.mkdtemp(prefix="fsbench.", dir="/tmp"))
        self.pgdir = self.tmp / "pg"
        self.logs = OUT / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        for f in self.logs.glob("*.log"):
            f.unlink()
        self.url = None
        self.db = None
        self.peer_results = {}  # "drain graphile-worker ×2" etc. -> list of values
        self.peer_versions = {}

    # ---------------------------------------------------------------- setup
    def build_ceilings(self):
        OUT.mkdir(parents=True, exist_ok=True)
        cc = os.environ.get("CC", "cc")

        def pkg(*names):
            return run(["pkg-config", "--cflags", "--libs", *names]).stdout.split()
        flags = ["-O2", "-g", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE", "-I", ROOT]
        obj = ROOT / "build" / "obj"  # the gateway's loop and what it logs with (make all)
        evbase = [obj / "gateway/http/evbase.o", obj / "common/log.o", obj / "common/clock.o"]
        run([cc, *flags, "-o", OUT / "hello", ROOT / "tests/bench/hello.c", *evbase, *pkg("libevent")])
        run([cc, *flags, "-o", OUT / "storeserver", ROOT / "tests/bench/storeserver.c", *evbase,
             *pkg("libevent", "libpq")])
        for loop in ("claimloop", "insertloop"):
            run([cc, *flags, "-o", OUT / loop, ROOT / f"tests/bench/{loop}.c", *pkg("libpq")])

    def start_pg(self):
        note_cmd(["bash", "deploy/pgctl.sh", "start", "$TMPDIR/pg"])
        self.url = subprocess.run(["bash", str(PGCTL), "start", str(self.pgdir)], check=True,
                                  stdout=subprocess.PIPE, text=True,
                                  env=dict(os.environ, PGCTL_OPTS="")).stdout.strip()
        self.db = psycopg2.connect(self.url)
        self.db.autocommit = True
        env = {"DATABASE_URL": self.url}
        run([BIN / "flowstate-gateway", "--migrate"], env=env)
        self.admin_key = run([BIN / "flowstate-gateway", "--create-key", "admin"], env=env).stdout.split()[-1]
        self.agent_key = run([BIN / "flowstate-gateway", "--create-key", "agent"], env=env).stdout.split()[-1]
        with open(OUT / "post.lua", "w") as f:
            f.write('wrk.method = "POST"\n'
                    'wrk.body = \'{"targetAgent":"code_analyzer","payload":{"taskType":"ping"}}\'\n'
                    'wrk.headers["Content-Type"] = "application/json"\n'
                    f'wrk.headers["Authorization"] = "Bearer {self.admin_key}"\n')
        batch = {"jobs": [{"targetAgent": AGENT, "payload": {"taskType": "ping"}}] * self.cfg["batch_jobs"]}
        (OUT / "batch.json").write_text(json.dumps(batch))
        with open(OUT / "batch.lua", "w") as f:
            f.write('wrk.method = "POST"\n'
                    f'local f = io.open("{OUT / "batch.json"}"); wrk.body = f:read("*a"); f:close()\n'
                    'wrk.headers["Content-Type"] = "application/json"\n'
                    f'wrk.headers["Authorization"] = "Bearer {self.admin_key}"\n')

    def cleanup(self):
        for p in list(PROCS):
            try:
                stop(p, timeout=10)
            except Exception:
                pass
        if self.db is not None:
            try:
                self.db.close()
            except Exception:
                pass
        subprocess.run(["bash", str(PGCTL), "destroy", str(self.pgdir)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sql(self, q, args=None):
        with self.db.cursor() as c:
            c.execute(q, args)
            return c.fetchall() if c.description else None

    def truncate(self, tables):
        """TRUNCATE … RESTART IDENTITY CASCADE while a gateway may be running: its sweeper
        reads these tables (workflow timers, pruning) and may take their locks in another
        order, so a deadlock is retried."""
        for attempt in range(5):
            try:
                return self.sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            except psycopg2.errors.DeadlockDetected:
                if attempt == 4:
                    raise
                time.sleep(0.1)

    def reset(self):
        self.truncate("job_queue")

    def gateway(self, tag):
        port = free_port()
        env = {"DATABASE_URL": self.url, "PORT": str(port), "FLOWSTATE_LOG_LEVEL": "warn",
               "FLOWSTATE_MIGRATE_ON_START": "off"}
        p = start([BIN / "flowstate-gateway"], env=env, log_path=self.logs / f"gateway-{tag}.log",
                  note_env={"PORT": port, "FLOWSTATE_LOG_LEVEL": "warn", "FLOWSTATE_MIGRATE_ON_START": "off"})
        wait_http(port)
        return p, port

    def pool(self, port, procs, tag, extra=None, prefetch=0, claim_batch=None, no_flags=False):
        """flowstate-pool with --concurrency and --prefetch (and --claim-batch when given), or,
        with no_flags, with nothing but --agents: every worker setting at its default."""
        env = {"DATABASE_URL": self.url, "BACKEND_API_URL": f"http://127.0.0.1:{port}",
               "FLOWSTATE_API_KEY": self.agent_key, "FLOWSTATE_LOG_LEVEL": "warn"}
        env.update(extra or {})
        note = {"BACKEND_API_URL": f"http://127.0.0.1:{port}", "FLOWSTATE_API_KEY": "fsk_…",
                "FLOWSTATE_LOG_LEVEL": "warn"}
        note.update(extra or {})
        batch = ["--claim-batch", claim_batch] if claim_batch else []
        flags = [] if no_flags else ["--concurrency", self.cfg["concurrency"], "--prefetch", prefetch, *batch]
        return start([BIN / "flowstate-pool", "--agents", f"{AGENT}={procs}", *flags], env=env,
                     log_path=self.logs / f"pool-{tag}.log", note_env=note)

    def record(self, name, value):
        self.results.setdefault(name, []).append(value)

    # ---------------------------------------------------------------- wrk
    def wrk(self, port, path, conns, threads, script=None):
        cmd = ["wrk", "-t", threads, "-c", conns, "-d", f"{self.cfg['wrk_seconds']}s"]
        if script:
            cmd += ["-s", script]
        cmd.append(f"http://127.0.0.1:{port}{path}")
        out = run(cmd).stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if not m:
            raise RuntimeError(f"wrk printed no rate:\n{out}")
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        errs = re.search(r"Socket errors:.*", out)
        if bad and int(bad.group(1)) > 0:
            raise RuntimeError(f"wrk: {bad.group(0)} on {path}")
        if errs and re.search(r"(connect|read|write|timeout) [1-9]", errs.group(0)):
            raise RuntimeError(f"wrk: {errs.group(0)} on {path}")
        return float(m.group(1))

    # ---------------------------------------------------------------- CPU per request
    def cpu_now(self, server_pid):
        """CPU seconds so far: the HTTP server, PostgreSQL (postmaster, its backends and the
        ones that exited), this script's waited-for children (wrk), the whole machine."""
        pm = int((self.pgdir / "data" / "postmaster.pid").read_text().split()[0])
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, total = machine_seconds()
        return {"server": cpu_seconds(server_pid),
                "postgres": cpu_seconds(pm, reaped=True) + sum(cpu_seconds(c) for c in children_of(pm)),
                "wrk": kids.ru_utime + kids.ru_stime, "machine": busy, "all": total}

    def wrk_cpu(self, what, server_pid, port, path, conns, threads, script=None):
        """wrk's rate, recording besides the CPU microseconds each request cost the server,
        PostgreSQL, wrk and the whole machine, and how busy the machine was (cpu_<what>_*)."""
        before = self.cpu_now(server_pid)
        rate = self.wrk(port, path, conns, threads, script)
        after = self.cpu_now(server_pid)
        requests = rate * self.cfg["wrk_seconds"]
        for part in ("server", "postgres", "wrk", "machine"):
            self.record(f"cpu_{what}_{part}", (after[part] - before[part]) / requests * 1e6)
        self.record(f"cpu_{what}_busy", 100 * (after["machine"] - before["machine"]) / (after["all"] - before["all"]))
        return rate

    def scenario_http(self, rep):
        """(1) enqueue and (4) GET /health, with the hello-world ceiling."""
        hport = free_port()
        hello = start([OUT / "hello", hport], log_path=self.logs / "hello.log")
        wait_http(hport)
        self.record("hello_get_c1", self.wrk(hport, "/health", 1, 1))
        self.record("hello_get_c32", self.wrk_cpu("hello", hello.pid, hport, "/health", 32, 2))
        stop(hello)
        self.reset()
        gw, port = self.gateway(f"http-{rep}")
        for c, t in ((1, 1), (32, 2)):
            self.record(f"health_c{c}", self.wrk(port, "/health", c, t))
        for c, t in ((1, 1), (32, 2)):
            self.reset()
            rate = (self.wrk_cpu("post", gw.pid, port, "/api/jobs", c, t, script=OUT / "post.lua") if c == 32
                    else self.wrk(port, "/api/jobs", c, t, script=OUT / "post.lua"))
            self.stored_count_check("enqueue", rate)
            self.record(f"enqueue_c{c}", rate)
        stop(gw)
        self.insert_ceiling()
        self.store_ceiling()
        gw, port = self.gateway(f"http-batch-{rep}")
        for c, t in ((1, 1), (4, 2)):
            self.reset()
            rate = self.wrk(port, "/api/jobs/batch", c, t, script=OUT / "batch.lua") * self.cfg["batch_jobs"]
            self.stored_count_check("batch enqueue", rate)
            self.record(f"enqueue_batch_c{c}", rate)
        stop(gw)
        self.reset()

    # The shapes of group commit 32 closed-loop clients can form: statements in flight ×
    # jobs a statement.
    INSERT_SHAPES = ((1, 32), (2, 16), (4, 8))

    def stored_count_check(self, what, rate):
        """Raises unless job_queue holds at least half the jobs wrk's rate says were stored."""
        stored = self.sql("SELECT count(*) FROM job_queue")[0][0]
        if stored < rate * self.cfg["wrk_seconds"] * 0.5:
            raise RuntimeError(f"{what}: wrk says {rate:.0f}/s but only {stored} jobs were stored")

    # Statements the storing server may have in flight; 1 is the gateway's default.
    STORE_INFLIGHT = (1, 2)

    def store_ceiling(self):
        """The other ceiling of (1) at 32 connections: `storeserver`, the smallest evhttp server
        that stores each POST with group commit, with each of STORE_INFLIGHT statements in
        flight; the best is the ceiling. The CPU per request is recorded with 1 in flight."""
        best = 0.0
        for inflight in self.STORE_INFLIGHT:
            self.reset()
            port = free_port()
            srv = start([OUT / "storeserver", port, self.url, AGENT, inflight],
                        log_path=self.logs / f"storeserver-{inflight}.log", note_env={})
            wait_http(port)
            rate = (self.wrk_cpu("store", srv.pid, port, "/api/jobs", 32, 2, script=OUT / "post.lua")
                    if inflight == 1 else self.wrk(port, "/api/jobs", 32, 2, script=OUT / "post.lua"))
            stop(srv)
            self.stored_count_check("storeserver", rate)
            self.record(f"store_c32_inflight{inflight}", rate)
            best = max(best, rate)
        self.record("store_c32_best", best)
        self.reset()

    def insert_ceiling(self):
        """The ceiling of (1) at 32 connections: `insertloop` processes, no gateway, for each
        shape in INSERT_SHAPES; the best shape is the ceiling."""
        best = 0.0
        for conns, group in self.INSERT_SHAPES:
            self.reset()
            logs = [self.logs / f"insertloop-{conns}x{group}-{i}.log" for i in range(conns)]
            loops = [start([OUT / "insertloop", self.url, AGENT, group, self.cfg["wrk_seconds"]],
                           log_path=path, note_env={}) for path in logs]
            rows, secs = 0, 0.0
            for p, path in zip(loops, logs):
                p.wait(timeout=self.cfg["wrk_seconds"] + 60)
                PROCS.remove(p)
                if p.returncode != 0:
                    raise RuntimeError(f"insertloop failed (see {path})")
                n, t = path.read_text().split("\n")[-2].split()  # its last line: "ROWS SECONDS"
                rows, secs = rows + int(n), max(secs, float(t))
            if self.sql("SELECT count(*) FROM job_queue")[0][0] != rows:
                raise RuntimeError(f"insertloop: reported {rows} jobs, the table holds another count")
            self.record(f"insertloop_{conns}x{group}", rows / secs)
            best = max(best, rows / secs)
        self.record("insertloop_best", best)
        self.reset()

    # ---------------------------------------------------------------- drain
    def prepare_drain(self, n, sleep_ms=0):
        self.reset()
        payload = json.dumps({"taskType": "ping", "sleepMs": sleep_ms} if sleep_ms else {"taskType": "ping"})
        self.sql("INSERT INTO job_queue (payload, target_agent) SELECT %s::jsonb, %s FROM generate_series(1, %s)",
                 (payload, AGENT, n))
        self.sql("VACUUM ANALYZE job_queue")
        self.sql("CHECKPOINT")

    def wait_drained(self, n, timeout, procs=(), memory=None):
        """Polls until no job is open; memory (MemoryPeaks) is sampled at each poll."""
        deadline = time.monotonic() + timeout
        while True:
            if memory:
                memory.sample()
            # Two index probes (the claim index holds the pending jobs, the lease index the
            # running ones): counting the open jobs every 0.2 s took CPU from the drain being
            # measured, which the claim loop's own run does not pay.
            if not self.sql("SELECT EXISTS (SELECT 1 FROM job_queue WHERE status = 'pending')"
                            " OR EXISTS (SELECT 1 FROM job_queue WHERE status = 'running'"
                            " AND locked_until IS NOT NULL)")[0][0]:
                break
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited with {p.returncode} while draining")
            if time.monotonic() > deadline:
                left = self.sql("SELECT count(*) FROM job_queue WHERE status IN ('pending','running')")[0][0]
                raise RuntimeError(f"drain: {left} of {n} jobs still open after {timeout} s")
            time.sleep(0.2)
        done, secs, max_att = self.sql(
            "SELECT count(*) FILTER (WHERE status='completed'),"
            " extract(epoch FROM max(processed_at) - min(started_at)), max(attempts) FROM job_queue")[0]
        if done != n:
            raise RuntimeError(f"drain: {done} of {n} jobs completed")
        return n / float(secs), max_att

    # The drain's middle configuration: some prefetch, claims of the default size (100).
    SMALL_PREFETCH = 200

    def scenario_drain(self, rep):
        n = self.cfg["drain_jobs"]
        timeout = max(120, n / 200)
        # the ceiling: 2 claim-loop processes, no gateway; claims of 100 (issue 5's ceiling) and
        # of the size Flowstate's workers claim here
        for batch, name in ((100, "claimloop_drain"), (self.cfg["claim_batch"], "claimloop_drain_big")):
            self.prepare_drain(n)
            log_path = self.logs / f"claimloop-{batch}.log"
            loops = [start([OUT / "claimloop", self.url, AGENT, batch], log_path=log_path, note_env={})
                     for _ in range(2)]
            for p in loops:
                p.wait(timeout=timeout)
                PROCS.remove(p)
                if p.returncode != 0:
                    raise RuntimeError(f"claimloop failed (see {log_path})")
            rate, _ = self.wait_drained(n, timeout)
            self.record(name, rate)
        # (figure, processes, --prefetch, --claim-batch or None for the default); the pool with
        # no flags at all right after the tuned one with as many processes, so that the two
        # figures compared share the machine's state as far as possible
        runs = []
        for procs in self.cfg["drain_procs"]:
            runs.append((f"drain_p{procs}", procs, self.cfg["prefetch"], self.cfg["claim_batch"]))
            if procs == 2:
                runs.append(("drain_p2_noflags", 2, None, None))
        runs += [("drain_p2_smallclaims", 2, self.SMALL_PREFETCH, 100), ("drain_p2_noprefetch", 2, 0, 100)]
        for name, procs, prefetch, claim_batch in runs:
            self.prepare_drain(n)
            tag = f"{name}-{rep}"
            gw, port = self.gateway(tag)
            pool = self.pool(port, procs, tag, prefetch=prefetch, claim_batch=claim_batch,
                             no_flags=prefetch is None)
            # private memory is reported for the drain with the most processes
            memory = MemoryPeaks(gw.pid, pool.pid, procs) if name == f"drain_p{max(self.cfg['drain_procs'])}" else None
            rate, max_att = self.wait_drained(n, timeout, procs=(gw, pool), memory=memory)
            if memory:
                memory.record(self, "drain")
            stop(pool, timeout=60)
            stop(gw)
            self.record(name, rate)
            if max_att and max_att > 1:
                log(f"note: {name}: some job took {max_att} attempts")
        self.reset()
        if self.cfg["peers"]:
            self.peer_drains()

    # ---------------------------------------------------------------- latency
    def scenario_latency(self, rep):
        self.reset()
        gw, port = self.gateway(f"latency-{rep}")
        pool = self.pool(port, 1, f"latency-{rep}")
        time.sleep(1.0)  # let the worker register and LISTEN
        rate, secs = self.cfg["latency_rate"], self.cfg["latency_seconds"]
        total = rate * secs
        nthreads = 4
        body = json.dumps({"targetAgent": AGENT, "payload": {"taskType": "ping"}})
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.admin_key}"}
        errors = []
        late = [0]
        t0 = time.monotonic() + 0.2

        def sender(k):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for i in range(k, total, nthreads):
                due = t0 + i / rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                elif now - due > 0.05:
                    late[0] += 1
                try:
                    conn.request("POST", "/api/jobs", body, headers)
                    r = conn.getresponse()
                    r.read()
                    if r.status != 201:
                        errors.append(r.status)
                except OSError as e:
                    errors.append(str(e))
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        threads = [threading.Thread(target=sender, args=(k,)) for k in range(nthreads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent_secs = time.monotonic() - t0
        if errors:
            raise RuntimeError(f"latency: {len(errors)} POSTs failed, e.g. {errors[0]}")
        memory = MemoryPeaks(gw.pid, pool.pid, 1)
        self.wait_drained(total, 120, procs=(gw, pool), memory=memory)
        memory.record(self, "latency")
        stop(pool, timeout=60)
        stop(gw)
        q = ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)),"
             " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)),"
             " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - created_at)),"
             " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - created_at))"
             " FROM job_queue")
        s50, s99, c50, c99 = self.sql(q)[0]
        self.record("lat_started_p50", s50 * 1000)
        self.record("lat_started_p99", s99 * 1000)
        self.record("lat_completed_p50", c50 * 1000)
        self.record("lat_completed_p99", c99 * 1000)
        self.record("lat_offered_rate", total / sent_secs)
        if late[0]:
            log(f"note: latency: {late[0]} of {total} requests left more than 50 ms late")
        self.reset()

    # ---------------------------------------------------------------- mixed
    MIXED_LONG_MS = 200

    def insert_mixed(self, n, first):
        """n ping jobs, every tenth (counting from first) with data.sleepMs MIXED_LONG_MS;
        one statement, so one NOTIFY."""
        self.sql("INSERT INTO job_queue (payload, target_agent)"
                 " SELECT CASE WHEN g %% 10 = 0 THEN %s::jsonb ELSE %s::jsonb END, %s"
                 " FROM generate_series(%s, %s) g",
                 (json.dumps({"taskType": "ping", "data": {"sleepMs": self.MIXED_LONG_MS}}),
                  json.dumps({"taskType": "ping"}), AGENT, first, first + n - 1))

    def scenario_mixed(self, rep):
        """90% no-op pings and 10% jobs of 200 ms, 2 worker processes, with no flags and with
        the tuned flags (alternating which goes first): a drain of pre-queued jobs (jobs/s),
        then jobs arriving at a steady rate (the short jobs' created→started and
        created→completed percentiles)."""
        c = self.cfg
        confs = [("noflags", True), ("tuned", False)]
        for label, no_flags in (confs if rep % 2 == 0 else confs[::-1]):
            # the drain
            self.reset()
            self.insert_mixed(c["mixed_jobs"], 1)
            self.sql("VACUUM ANALYZE job_queue")
            self.sql("CHECKPOINT")
            tag = f"mixed-{label}-{rep}"
            gw, port = self.gateway(tag)
            pool = self.pool(port, 2, tag, prefetch=c["prefetch"], claim_batch=c["claim_batch"],
                             no_flags=no_flags)
            rate, _ = self.wait_drained(c["mixed_jobs"], max(120, c["mixed_jobs"] / 20), procs=(gw, pool))
            self.record(f"mixed_drain_{label}", rate)
            # the steady stream: groups inserted every 50 ms into the same running pool (a
            # commit each: more often, the loaded machine's fsyncs would not keep the pace)
            self.reset()
            total = c["mixed_rate"] * c["mixed_seconds"]
            group = max(1, c["mixed_rate"] // 20)
            t0 = time.monotonic()
            for k, first in enumerate(range(1, total + 1, group)):
                due = t0 + k * group / c["mixed_rate"]
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                self.insert_mixed(min(group, total - first + 1), first)
            offered = total / (time.monotonic() - t0)
            self.wait_drained(total, 120, procs=(gw, pool))
            stop(pool, timeout=60)
            stop(gw)
            q = ("SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)),"
                 " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - created_at)),"
                 " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - created_at))"
                 " FROM job_queue WHERE NOT payload ? 'data'")
            s99, c50, c99 = self.sql(q)[0]
            self.record(f"mixed_short_started_p99_{label}", s99 * 1000)
            self.record(f"mixed_short_completed_p50_{label}", c50 * 1000)
            self.record(f"mixed_short_completed_p99_{label}", c99 * 1000)
            self.record(f"mixed_offered_rate_{label}", offered)
        self.reset()

    # ---------------------------------------------------------------- workflows
    # The shapes DBOS runs too (tests/bench/peers/dbos.mjs): no-op steps, 3 in a row, and
    # 1 → 4 in parallel → 1.
    WF_SHAPES = {
        "chain": [("a", []), ("b", ["a"]), ("c", ["b"])],
        "fan": [("a", [])] + [(f"m{i}", ["a"]) for i in range(1, 5)] + [("z", [f"m{i}" for i in range(1, 5)])],
    }
    WF_INFLIGHT = 32  # runs being started at once (DBOS: enqueues in flight, or runs at a time)

    def post_runs(self, port, shape, n, rate=None):
        """Starts n runs of `shape` with POST /api/workflows/runs: WF_INFLIGHT connections as
        fast as they go, or one connection at `rate` runs a second."""
        body = json.dumps({"definition": {"steps": [
            {"key": k, "agent": AGENT, "task": "ping", "dependsOn": deps} for k, deps in self.WF_SHAPES[shape]]}})
        headers = {"Authorization": f"Bearer {self.admin_key}", "Content-Type": "application/json"}
        left = [n]
        lock = threading.Lock()
        errors = []

        def loop(pace):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            t0 = time.monotonic()
            k = 0
            while True:
                with lock:
                    if left[0] == 0:
                        break
                    left[0] -= 1
                if pace:
                    due = t0 + k / pace
                    k += 1
                    if due > time.monotonic():
                        time.sleep(due - time.monotonic())
                conn.request("POST", "/api/workflows/runs", body, headers)
                r = conn.getresponse()
                r.read()
                if r.status != 201:
                    errors.append(r.status)
                    break
            conn.close()
        threads = [threading.Thread(target=loop, args=(rate,)) for _ in range(1 if rate else self.WF_INFLIGHT)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError(f"POST /api/workflows/runs answered {errors[0]}")

    def wait_runs(self, n, timeout):
        deadline = time.monotonic() + timeout
        while True:
            done, bad = self.sql("SELECT count(*) FILTER (WHERE status = 'completed'),"
                                 " count(*) FILTER (WHERE status IN ('failed', 'cancelled')) FROM workflow_runs")[0]
            if bad:
                raise RuntimeError(f"workflows: {bad} runs failed")
            if done >= n:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"workflows: {done} of {n} runs completed in {timeout} s")
            time.sleep(0.05)

    def scenario_workflows(self, rep):
        """Workflow runs of no-op steps on 2 worker processes with no flags: runs/s of each
        shape (n runs started as fast as 32 connections go, from the first run created to the
        last finished), then runs started at a steady rate: the handoff from a step's end (its
        job's outcome) to the start of the step after it (its job's claim), for the fan-in the
        latest parent's end. DBOS runs the same shapes on the same cluster (peers)."""
        c = self.cfg
        tag = f"wf-{rep}"
        gw, port = self.gateway(tag)
        pool = self.pool(port, 2, tag, no_flags=True)
        try:
            for shape in self.WF_SHAPES:
                self.truncate("workflow_runs, job_queue")
                self.post_runs(port, shape, c["wf_runs"])
                self.wait_runs(c["wf_runs"], 120 + c["wf_runs"] / 10)
                secs = self.sql("SELECT extract(epoch FROM max(finished_at) - min(created_at)) FROM workflow_runs")[0][0]
                self.record(f"wf_runs_{shape}", c["wf_runs"] / float(secs))
                self.truncate("workflow_runs, job_queue")
                total = c["wf_rate"] * c["wf_seconds"]
                self.post_runs(port, shape, total, rate=c["wf_rate"])
                self.wait_runs(total, 120)
                p50, p99 = self.sql(
                    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY h), percentile_cont(0.99) WITHIN GROUP (ORDER BY h)"
                    " FROM (SELECT extract(epoch FROM s.started_at - max(p.finished_at)) * 1000 AS h"
                    "       FROM workflow_steps s JOIN workflow_steps p ON p.run_id = s.run_id AND p.key = ANY (s.depends_on)"
                    "       GROUP BY s.run_id, s.key, s.started_at) x")[0]
                self.record(f"wf_handoff_p50_{shape}", float(p50))
                self.record(f"wf_handoff_p99_{shape}", float(p99))
        finally:
            stop(pool, timeout=60)
            stop(gw)
            self.truncate("workflow_runs, job_queue")
        if c["peers"]:
            for shape in self.WF_SHAPES:
                rate = peers.workflow_runs(self.url, shape, c["wf_runs"], self.WF_INFLIGHT, self.logs)
                self.peer_results.setdefault(f"workflow dbos {shape}", []).append(rate)
                p50, p99 = peers.workflow_handoff(self.url, shape, c["wf_rate"], c["wf_seconds"], self.logs)
                self.peer_results.setdefault(f"handoff p50 dbos {shape}", []).append(p50)
                self.peer_results.setdefault(f"handoff p99 dbos {shape}", []).append(p99)

    # ---------------------------------------------------------------- crash
    def scenario_crash(self, rep):
        self.reset()
        n, sleep_ms = self.cfg["crash_jobs"], self.cfg["crash_sleep_ms"]
        gw, port = self.gateway(f"crash-{rep}")
        pool = self.pool(port, 2, f"crash-{rep}", extra={"FLOWSTATE_SHUTDOWN_TIMEOUT": "1"})
        deadline = time.monotonic() + 15
        while len(children_of(pool.pid)) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("crash: the pool did not start 2 workers")
            time.sleep(0.05)
        time.sleep(1.0)
        # long ping jobs: the claims must all happen before the kill
        self.sql("INSERT INTO job_queue (payload, target_agent) SELECT %s::jsonb, %s FROM generate_series(1, %s)",
                 (json.dumps({"taskType": "ping", "sleepMs": sleep_ms * 4}), AGENT, n))
        deadline = time.monotonic() + 10
        while True:
            rows = self.sql("SELECT id, locked_by FROM job_queue WHERE status = 'running'")
            if len(rows) == n:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"crash: only {len(rows)} of {n} jobs running")
            time.sleep(0.02)
        holders = {}
        for jid, lb in rows:
            holders.setdefault(int(lb.rsplit(":", 1)[1]), []).append(jid)
        victim, ids = max(holders.items(), key=lambda kv: len(kv[1]))
        # let the re-runs be short: the recovery, not the job, is measured
        self.sql("UPDATE job_queue SET payload = %s::jsonb WHERE id = ANY(%s)",
                 (json.dumps({"taskType": "ping", "sleepMs": sleep_ms}), ids))
        t_kill = time.time()
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            left = self.sql("SELECT count(*) FROM job_queue WHERE id = ANY(%s) AND status <> 'completed'", (ids,))[0][0]
            if left == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"crash: {left} of the killed worker's jobs not completed after 60 s")
            time.sleep(0.02)
        restarted, completed, min_att = self.sql(
            "SELECT extract(epoch FROM max(started_at)), extract(epoch FROM max(processed_at)), min(attempts)"
            " FROM job_queue WHERE id = ANY(%s)", (ids,))[0]
        if min_att < 2:
            raise RuntimeError("crash: a killed job was not run again")
        stop(pool, timeout=60)
        stop(gw)
        self.record("crash_reclaimed", (float(restarted) - t_kill) * 1000)
        self.record("crash_completed", (float(completed) - t_kill) * 1000)
        self.record("crash_overhead", (float(completed) - t_kill) * 1000 - sleep_ms)
        self.record("crash_jobs_killed", len(ids))
        self.reset()

    # ---------------------------------------------------------------- peers
    def peer_drains(self):
        """graphile-worker and pg-boss drain the same number of jobs on the same cluster, one
        configuration after another, right after Flowstate's drains of the same round."""
        for conf in peers.CONFIGS:
            rate = peers.drain(conf.peer, self.url, self.cfg["drain_jobs"], conf.procs, self.logs)
            self.peer_results.setdefault(f"drain {conf.label}", []).append(rate)

    def scenario_peers(self, rep):
        """graphile-worker and pg-boss on the same cluster: single adds at 1 and 32 in flight
        and batch adds (their drains run in scenario_drain)."""
        c = self.cfg
        for peer in peers.JOB_PEERS:
            for conns in (1, 32):
                rate = peers.enqueue(peer, self.url, conns, c["wrk_seconds"], self.logs)
                self.peer_results.setdefault(f"enqueue {peer} c{conns}", []).append(rate)
            rate = peers.enqueue_batch(peer, self.url, c["batch_jobs"], c["wrk_seconds"], self.logs)
            self.peer_results.setdefault(f"batch {peer}", []).append(rate)

    # ---------------------------------------------------------------- report
    def info(self):
        def sh(cmd):
            try:
                return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True).stdout.strip()
            except OSError:
                return "?"
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
        pg = {k: self.sql(f"SHOW {k}")[0][0] for k in
              ("server_version", "fsync", "synchronous_commit", "shared_buffers", "wal_level",
               "max_connections", "full_page_writes")}
        return {
            "nproc": os.cpu_count(), "cpu": cpu, "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
            "kernel": platform.release(), "pg": pg,
            "flowstate": sh(f"{BIN}/flowstate-gateway --version") + " (git " + sh(f"git -C {ROOT} rev-parse --short HEAD")
            + (", uncommitted changes" if sh(f"git -C {ROOT} status --porcelain -- common gateway worker sql") else "") + ")",
            "libevent": sh("pkg-config --modversion libevent"), "libpq": sh("pkg-config --modversion libpq"),
            "cc": sh(f"{os.environ.get('CC', 'cc')} --version | head -1"), "wrk": sh("wrk --version 2>&1 | head -1"),
            "python": platform.python_version(), "psycopg2": psycopg2.__version__.split()[0],
            "gnuplot": sh("gnuplot --version") if shutil.which("gnuplot") else "not installed",
        }

    def plot(self, svg):
        procs = self.cfg["drain_procs"]
        dat = OUT / "drain.dat"
        peer_names = list(peers.JOB_PEERS) if self.peer_results else []
        with open(dat, "w") as f:
            f.write("# processes flowstate_jobs_per_s claimloop_ceiling " + " ".join(peer_names) + "\n")
            ceil = median(self.results["claimloop_drain"])
            for p in procs:
                cols = [median(self.peer_results[k]) if k in self.peer_results else float("nan")
                        for k in (f"drain {name} ×{p}" for name in peer_names)]
                f.write(f"{p} {median(self.results[f'drain_p{p}']):.0f} {ceil:.0f}"
                        + "".join(f" {v:.0f}" if v == v else " NaN" for v in cols) + "\n")
        peer_lines = "".join(f', \\\n     "{dat}" using 1:{4 + i} with linespoints lw 2 pt {5 + i} title "{name}"'
                             for i, name in enumerate(peer_names))
        script = f"""set terminal svg size 640,400 dynamic font "sans,11"
set output "{svg}"
set title "Drain: {self.cfg['drain_jobs']} no-op jobs (median of {self.cfg['repeats']})"
set xlabel "worker processes"
set ylabel "jobs/s (first claim to last completion)"
set xtics ({", ".join(str(p) for p in procs)})
set xrange [0.5:{max(procs) + 0.5}]
set yrange [0:*]
set datafile missing "NaN"
set grid ytics
set key bottom right
plot "{dat}" using 1:2 with linespoints lw 2 pt 7 title "Flowstate (--prefetch {self.cfg['prefetch']} --claim-batch {self.cfg['claim_batch']})", \\
     "{dat}" using 1:3 with lines lw 2 dt 2 title "C claim loop, 2 processes (ceiling)"{peer_lines}
"""
        (OUT / "drain.gp").write_text(script)
        run(["gnuplot", OUT / "drain.gp"])

    def cpu_section(self, m, f):
        """The report's "Where the CPU goes" section (markdown), and the POST rate the
        machine's cores could give at this run's CPU per POST if they were fully busy."""
        rows = []
        for what, label in (("hello", "hello-world server, `GET /health`"),
                            ("store", "storing server, `POST /api/jobs` (1 statement in flight)"),
                            ("post", "flowstate-gateway, `POST /api/jobs`")):
            parts = [m[f"cpu_{what}_{p}"] for p in ("server", "postgres", "wrk", "machine")]
            rest = max(0.0, parts[3] - sum(parts[:3]))  # CPU times come in 10 ms ticks
            rows.append(f"| {label} | " + " | ".join(f(v) for v in parts[:3]) + f" | {f(rest)} | {f(parts[3])} | "
                        f"{m[f'cpu_{what}_busy']:.0f}% |")
        bound = os.cpu_count() * 1e6 / m["cpu_post_machine"] if m["cpu_post_machine"] else None

        ratio_text = f"{bound / m['hello_get_c32']:.2f}×" if bound and m["hello_get_c32"] else "—"
        text = f"""## Where the CPU goes at 32 connections

Microseconds of CPU per request while `wrk` ran at 32 connections (process CPU times from
`/proc`; "rest" is the kernel's work outside those processes, such as softirqs, and anything
else on the machine), and how busy the machine's {os.cpu_count()} cores were. The server is the
hello-world server, the storing server (`storeserver`) or flowstate-gateway; PostgreSQL counts
every process of the cluster.

| request | server | PostgreSQL | wrk | rest | whole machine | machine busy |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

At this CPU per POST, fully busy cores would answer at most {f(bound, ' POSTs/s')}
({ratio_text} the hello GET rate).
"""
        return text, bound

    def write_report(self, path, svg, argv, elapsed):
        R = self.results
        m = {k: median(v) for k, v in R.items()}

        def f(v, unit=""):
            if v is None:
                return "—"
            if abs(v) >= 100:
                return f"{v:,.0f}{unit}"
            return f"{v:.1f}{unit}"

        def ratio(a, b):
            return a / b if a is not None and b else None

        def pf(ok):
            return "—" if ok is None else ("**pass**" if ok else "**miss**")

        best_drain = max(m[f"drain_p{p}"] for p in self.cfg["drain_procs"])
        best_p = max(self.cfg["drain_procs"], key=lambda p: m[f"drain_p{p}"])
        rows = []
        notes = []  # below the table: why a target cannot be met in this run

        def row(name, val, unit, ceil_name, ceil, target, ok, ceil_unit=None):
            r = ratio(val, ceil)
            rows.append(f"| {name} | {f(val, unit)} | {ceil_name} | {f(ceil, ceil_unit or unit) if ceil else '—'} | "
                        f"{'—' if r is None else f'{r:.2f}×'} | {target} | {pf(ok)} |")

        c = self.cfg
        row("Enqueue `POST /api/jobs`, 1 connection", m["enqueue_c1"], " req/s", "hello GET, 1 conn", m["hello_get_c1"], "", None)
        r32 = ratio(m["enqueue_c32"], m["hello_get_c32"])
        row("Enqueue `POST /api/jobs`, 32 connections", m["enqueue_c32"], " req/s", "hello GET, 32 conns",
            m["hello_get_c32"], "≥ 0.50× hello GET", r32 >= 0.5)
        row("Enqueue `POST /api/jobs`, 32 connections, against PostgreSQL alone", m["enqueue_c32"], " req/s",
            "C insert loop, best shape", m["insertloop_best"], "", None, ceil_unit=" jobs/s")
        row("Enqueue `POST /api/jobs`, 32 connections, against the smallest storing server", m["enqueue_c32"],
            " req/s", "storeserver, best shape", m["store_c32_best"], "", None)
        if 0.5 * m["hello_get_c32"] > m["store_c32_best"]:
            notes.append(f"The 0.50× hello target for `POST /api/jobs` at 32 connections needs "
                         f"{f(0.5 * m['hello_get_c32'], ' req/s')} in this run, above the "
                         f"{f(m['store_c32_best'], ' req/s')} ({m['store_c32_best'] / m['hello_get_c32']:.2f}× hello GET) "
                         "of `storeserver`, the hello-world server plus only what storing a job needs: each POST "
                         "body written to `job_queue` by a group-commit insert and answered after its commit, "
                         "with no authentication, validation or job document, in the better of 1 and 2 "
                         "statements in flight. So no gateway that stores its jobs durably can reach the target "
                         "on this machine; the gateway's rate over this server's is what its own work costs.")
        if 0.5 * m["hello_get_c32"] > m["insertloop_best"]:
            notes.append(f"The 0.50× hello target for `POST /api/jobs` at 32 connections needs "
                         f"{f(0.5 * m['hello_get_c32'], ' req/s')} in this run, above the C insert loop's "
                         f"{f(m['insertloop_best'], ' jobs/s')}: the insert loop does only the database's part "
                         "(durable multi-row inserts into the same table, in the best of the group shapes 32 "
                         "closed-loop clients can form), with no gateway and no HTTP, so no gateway can "
                         "reach the target on this machine.")
        cpu_text, post_bound = self.cpu_section(m, f)
        if post_bound is not None and post_bound < 0.5 * m["hello_get_c32"]:
            notes.append(f"At the CPU a `POST /api/jobs` took in this run ({f(m['cpu_post_machine'], ' µs')} of the "
                         f"machine's, all processes together), {os.cpu_count()} fully busy cores would answer at "
                         f"most {f(post_bound, ' req/s')}, {post_bound / m['hello_get_c32']:.2f}× hello GET: the "
                         "0.50× target also needs less CPU per job, not only less waiting (see \"Where the CPU "
                         "goes\" below).")
        row(f"Batch enqueue `POST /api/jobs/batch`, {c['batch_jobs']:,}-job batches, 1 connection", m["enqueue_batch_c1"],
            " jobs/s", "", None, "", None)
        row(f"Batch enqueue `POST /api/jobs/batch`, {c['batch_jobs']:,}-job batches, 4 connections", m["enqueue_batch_c4"],
            " jobs/s", "", None, "≥ 100,000 jobs/s", m["enqueue_batch_c4"] >= 100000)
        for p in c["drain_procs"]:
            r = ratio(m[f"drain_p{p}"], m["claimloop_drain"])
            row(f"Drain, {p} worker process{'es' if p > 1 else ''}", m[f"drain_p{p}"], " jobs/s",
                "C claim loop, 2 procs", m["claimloop_drain"],
                "≥ 0.80× claim loop" if p == best_p else "", (r >= 0.8) if p == best_p else None)
        row("Drain, best Flowstate configuration, against claims of its size", best_drain, " jobs/s",
            f"C claim loop, claims of {c['claim_batch']}, 2 procs", m["claimloop_drain_big"], "", None)
        row(f"Drain, 2 worker processes, `--prefetch {self.SMALL_PREFETCH} --claim-batch 100`",
            m["drain_p2_smallclaims"], " jobs/s", "C claim loop, 2 procs", m["claimloop_drain"], "", None)
        row("Drain, 2 worker processes, `--prefetch 0` (claims for idle executors only)", m["drain_p2_noprefetch"],
            " jobs/s", "C claim loop, 2 procs", m["claimloop_drain"], "", None)
        noflags = m["drain_p2_noflags"]
        row("Drain, 2 worker processes, no flags (sizes chosen by the workers)", noflags, " jobs/s",
            f"best tuned row ({best_p} proc{'s' if best_p > 1 else ''})", best_drain, "≥ 0.90× best tuned",
            noflags >= 0.9 * best_drain)
        g2 = self.peer_results.get("drain graphile-worker ×2")
        if g2:
            row("Drain, 2 worker processes, no flags", noflags, " jobs/s", "graphile-worker ×2", median(g2),
                "≥ 1.3× graphile-worker ×2", noflags >= 1.3 * median(g2))
        else:
            rows.append("| Drain, 2 worker processes, no flags, vs graphile-worker ×2 | — | peers not run | — | — | "
                        "≥ 1.3× graphile-worker ×2 | — |")
        mixed = f"mixed 90% ping / 10% {self.MIXED_LONG_MS} ms, 2 procs"
        row(f"Drain, {mixed}, no flags", m["mixed_drain_noflags"], " jobs/s", "the same, tuned flags",
            m["mixed_drain_tuned"], "", None)
        for key, what in (("started_p99", "created→started p99"), ("completed_p50", "created→completed p50"),
                          ("completed_p99", "created→completed p99")):
            ok = None
            if key == "completed_p99":
                ok = m[f"mixed_short_{key}_noflags"] <= m[f"mixed_short_{key}_tuned"]
            row(f"Short jobs' {what}, {mixed} @ {c['mixed_rate']}/s, no flags", m[f"mixed_short_{key}_noflags"],
                " ms", "the same, tuned flags", m[f"mixed_short_{key}_tuned"],
                "≤ 1.00× tuned" if ok is not None else "", ok)
        if self.peer_results:
            best_peer, best_peer_rate = max(((k, median(v)) for k, v in self.peer_results.items()
                                             if k.startswith("drain ")), key=lambda kv: kv[1])
            row("Drain, best Flowstate configuration", best_drain, " jobs/s", f"best peer: {best_peer[6:]}",
                best_peer_rate, "≥ 1.3× best peer", best_drain >= 1.3 * best_peer_rate)
        else:
            rows.append("| Drain vs best peer | — | peers not run (smoke mode) | — | — | ≥ 1.3× best peer | — |")
        row(f"created→started p50 @ {c['latency_rate']}/s", m["lat_started_p50"], " ms", "", None, "≤ 5 ms",
            m["lat_started_p50"] <= 5)
        row(f"created→started p99 @ {c['latency_rate']}/s", m["lat_started_p99"], " ms", "", None, "≤ 25 ms",
            m["lat_started_p99"] <= 25)
        row(f"created→completed p50 @ {c['latency_rate']}/s", m["lat_completed_p50"], " ms", "", None, "", None)
        row(f"created→completed p99 @ {c['latency_rate']}/s", m["lat_completed_p99"], " ms", "", None, "", None)
        row("`GET /health`, 1 connection", m["health_c1"], " req/s", "hello GET, 1 conn", m["hello_get_c1"], "", None)
        row("`GET /health`, 32 connections", m["health_c32"], " req/s", "hello GET, 32 conns", m["hello_get_c32"],
            "≥ 0.90× hello GET", ratio(m["health_c32"], m["hello_get_c32"]) >= 0.9)
        for s, label, target in (("drain", f"peak during the {max(c['drain_procs'])}-process drain", True),
                                 ("latency", "at the end of the latency run", False)):
            for who, limit in (("gateway", 20), ("worker", 5)):
                for key, what in (("pss", "PSS"), ("anon", "private memory (RssAnon)")):
                    v = m[f"{key}_{who}_{s}"]
                    row(f"{'Gateway' if who == 'gateway' else 'Largest worker'} {what}, {label}", v, " MB", "",
                        None, f"≤ {limit} MB" if target else "", (v <= limit) if target else None)
        P = {k: median(v) for k, v in self.peer_results.items()}
        for shape, what in (("chain", "3-step chain"), ("fan", "1→4→1 fan")):
            dbos = P.get(f"workflow dbos {shape}")
            row(f"Workflow runs, {what} of no-op steps, 2 procs, no flags", m[f"wf_runs_{shape}"], " runs/s",
                "DBOS Transact" if dbos else "DBOS (peers not run)", dbos, "≥ 1.5× DBOS",
                m[f"wf_runs_{shape}"] >= 1.5 * dbos if dbos else None)
            for q, limit in (("p50", 2), ("p99", 10)):
                v = m[f"wf_handoff_{q}_{shape}"]
                row(f"Workflow step handoff {q}, {what} @ {c['wf_rate']} runs/s", v, " ms",
                    "DBOS Transact" if dbos else "", P.get(f"handoff {q} dbos {shape}"), f"≤ {limit} ms", v <= limit)
        row("Crash: kill -9 → jobs claimed again", m["crash_reclaimed"], " ms", "", None, "", None)
        row(f"Crash: kill -9 → jobs completed, minus the {c['crash_sleep_ms']} ms job", m["crash_overhead"], " ms",
            "", None, "≤ 2,000 ms", m["crash_overhead"] <= 2000)

        peer_rows = []
        if self.peer_results:
            P = {k: median(v) for k, v in self.peer_results.items()}
            for conf in peers.CONFIGS:
                v = P[f"drain {conf.label}"]
                peer_rows.append(f"| Drain, {conf.label} | {f(v, ' jobs/s')} | {f(best_drain, ' jobs/s')} | "
                                 f"{ratio(best_drain, v):.2f}× |")
            for name in peers.JOB_PEERS:
                for conns in (1, 32):
                    v = P[f"enqueue {name} c{conns}"]
                    fs = m[f"enqueue_c{conns}"]
                    peer_rows.append(f"| Single adds, {name}, {conns} in flight | {f(v, ' jobs/s')} | "
                                     f"{f(fs, ' jobs/s')} (`POST /api/jobs`) | {ratio(fs, v):.2f}× |")
                v = P[f"batch {name}"]
                fs = m["enqueue_batch_c4"]
                peer_rows.append(f"| Batch adds ({c['batch_jobs']:,} a call), {name} | {f(v, ' jobs/s')} | "
                                 f"{f(fs, ' jobs/s')} (`POST /api/jobs/batch`, 4 conns) | {ratio(fs, v):.2f}× |")
            peers_text = ("| peer figure | peer | Flowstate (best) | Flowstate ÷ peer |\n|---|---|---|---|\n"
                          + "\n".join(peer_rows) + "\n\n" + PEERS_SETUP)
        else:
            peers_text = "Not run (smoke mode runs Flowstate and the ceilings only)."
        info = self.info()
        pg = info["pg"]
        raw = [f"| `{k}` | " + ", ".join(f(v) for v in vs) + " |"
               for k, vs in sorted({**R, **self.peer_results}.items())]
        mode = "SMOKE (tiny sizes; not a measurement)" if self.smoke else "full"
        text = f"""# Flowstate benchmarks

Generated by `{' '.join(argv)}` on {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}
({mode} run, {elapsed:.0f} s). Every figure is the median of {c['repeats']} run(s); each ratio is
against the ceiling measured in the same run on the same machine and PostgreSQL cluster.
What each scenario does:
[tests/bench/README.md](../tests/bench/README.md).

| figure | Flowstate | ceiling | ceiling value | ratio | target | result |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
{''.join(chr(10) + n + chr(10) for n in notes)}
{cpu_text}
## Peers

Measured in the same run, on the same cluster, one after another; each round's peer drains
right after Flowstate's (see
[tests/bench/peers/README.md](../tests/bench/peers/README.md)).

{peers_text}

Drain throughput against worker processes:

![drain throughput]({svg.name})

## Sizes

- Enqueue and `GET /health`: `wrk` for {c['wrk_seconds']} s; 1 connection with 1 thread, 32 connections with 2 threads.
  `POST /api/jobs` body `{{"targetAgent":"code_analyzer","payload":{{"taskType":"ping"}}}}` with an admin key.
- Batch enqueue: `wrk` `POST /api/jobs/batch` with {c['batch_jobs']:,} `ping` jobs a request, 1 connection/1 thread
  and 4 connections/2 threads; jobs/s = requests/s × {c['batch_jobs']:,} (the stored row count is checked).
- Drain: {c['drain_jobs']:,} pre-queued `ping` jobs (inserted by SQL, then `VACUUM ANALYZE` and `CHECKPOINT`);
  `flowstate-pool --agents code_analyzer=P --concurrency {c['concurrency']} --prefetch {c['prefetch']} --claim-batch {c['claim_batch']}`
  (report batch at its default) with P = {', '.join(map(str, c['drain_procs']))} (the tuned rows); P = 2 with no
  flags at all (`flowstate-pool --agents code_analyzer=2`: concurrency, prefetch and claim size at their
  defaults, the last two sized by the workers), right after the tuned P = 2 run; and P = 2 with
  `--prefetch {self.SMALL_PREFETCH} --claim-batch 100`, and with `--prefetch 0 --claim-batch 100`; jobs/s = jobs /
  (last `processed_at` − first `started_at`).
  Ceiling: 2 `build/bench/claimloop` processes (claim 100 `FOR UPDATE SKIP LOCKED`, mark completed, repeat);
  also with claims of {c['claim_batch']}, the size the workers claim here.
- Enqueue ceiling (PostgreSQL alone): `build/bench/insertloop` processes, each committing one multi-row
  `INSERT INTO job_queue … RETURNING id` after another for {c['wrk_seconds']} s, in the shapes
  {', '.join(f'{n} × {g} jobs' for n, g in Bench.INSERT_SHAPES)} (processes × jobs a statement: the groups 32
  closed-loop clients can form); the best shape is the ceiling.
- Storing-server ceiling: `build/bench/storeserver` (the hello-world server plus a group-commit
  `INSERT INTO job_queue … SELECT FROM jsonb_array_elements($2) RETURNING id` of the POST bodies that
  arrived while the last statement was in flight, each answered `201 {{"id":N}}` after the commit; no
  authentication, validation or job document) under the same `wrk` `POST /api/jobs` at 32 connections,
  with {' and '.join(map(str, Bench.STORE_INFLIGHT))} statements in flight; the best is the ceiling.
- Latency: {c['latency_rate']} `POST /api/jobs`/s for {c['latency_seconds']} s (4 keep-alive connections, paced),
  1 worker process, concurrency {c['concurrency']}; percentiles of `started_at − created_at` and
  `processed_at − created_at` over every job. Offered rate achieved: {f(m['lat_offered_rate'])}/s.
- Mixed: 2 worker processes with no flags, and with `--concurrency {c['concurrency']} --prefetch {c['prefetch']}
  --claim-batch {c['claim_batch']}` (the tuned flags), in turn (the first alternates between runs). Jobs: `ping`, every
  tenth with `data.sleepMs` {self.MIXED_LONG_MS}. A drain of {c['mixed_jobs']:,} pre-queued jobs (jobs/s as above);
  then, in the same pool, {c['mixed_rate']} jobs/s inserted by SQL in groups every 50 ms for {c['mixed_seconds']} s
  (offered rate achieved: {f(m['mixed_offered_rate_noflags'])}/s and {f(m['mixed_offered_rate_tuned'])}/s), and the
  percentiles of `started_at − created_at` and `processed_at − created_at` over the short jobs.
- Memory: the peak PSS (`/proc/<pid>/smaps_rollup`) and `RssAnon` (`/proc/<pid>/status`) of the gateway
  and of the largest worker, sampled every 0.2 s during the drain with {max(c['drain_procs'])} processes (the
  highest value counts) and at the end of the latency run (each in a fresh gateway and pool).
- Crash: a pool with 2 workers (concurrency {c['concurrency']}), {c['crash_jobs']} long `ping` jobs all running; the
  worker holding the most is killed with SIGKILL after its jobs' payload is shortened to `sleepMs`
  {c['crash_sleep_ms']} (so the re-run is short); time from the kill to the jobs' new `started_at` and
  to their `processed_at`, minus the {c['crash_sleep_ms']} ms run.

## Machine and software

- {info['nproc']} CPUs: {info['cpu']}; {info['ram']} RAM; Linux {info['kernel']}
- PostgreSQL {pg['server_version']} (private cluster from `deploy/pgctl.sh`, default settings plus
  `max_connections=200`): fsync `{pg['fsync']}`, synchronous_commit `{pg['synchronous_commit']}`,
  shared_buffers `{pg['shared_buffers']}`, wal_level `{pg['wal_level']}`, full_page_writes `{pg['full_page_writes']}`
- Flowstate: {info['flowstate']}; libevent {info['libevent']}; libpq {info['libpq']}; {info['cc']}
- {info['wrk']}; Python {info['python']}, psycopg2 {info['psycopg2']}; {info['gnuplot']}
- Peers: {', '.join(f'{k} {v}' for k, v in self.peer_versions.items()) or 'not run'}
- Everything (PostgreSQL, gateway, workers, load generator) shares the same {info['nproc']} CPUs.

## Every run

| figure | values |
|---|---|
{chr(10).join(raw)}

## Commands

```sh
{' '.join(argv)}
{chr(10).join(COMMANDS)}
```
"""
        path.write_text(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat, report under build/bench/")
    ap.add_argument("--repeats", type=int, help="runs of each scenario (default 3; smoke 1)")
    ap.add_argument("--drain-jobs", type=int, help="jobs per drain run")
    ap.add_argument("--no-peers", action="store_true", help="skip graphile-worker and pg-boss (full mode)")
    args = ap.parse_args()
    cfg = dict(SMOKE if args.smoke else FULL)
    if args.repeats:
        cfg["repeats"] = args.repeats
    if args.drain_jobs:
        cfg["drain_jobs"] = args.drain_jobs
    if args.no_peers:
        cfg["peers"] = False
    for tool in ("wrk", "gnuplot"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing (make bench installs it as root: sh tests/bench/deps.sh)")
    for exe in ("flowstate-gateway", "flowstate-pool", AGENT):
        if not (BIN / exe).exists():
            sys.exit(f"bench: {BIN / exe} is missing (make all)")
    if args.smoke:
        report, svg = OUT / "benchmarks-smoke.md", OUT / "benchmarks-drain-smoke.svg"
    else:
        report, svg = ROOT / "docs" / "benchmarks.md", ROOT / "docs" / "benchmarks-drain.svg"
    OUT.mkdir(parents=True, exist_ok=True)
    for p in (report, svg):
        if args.smoke and p.exists():
            p.unlink()
    argv = ["make bench" + (" SMOKE=1" if args.smoke else "")] if os.environ.get("BENCH_VIA_MAKE") else \
        ["/usr/bin/python3", "tests/bench/run.py"] + sys.argv[1:]

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    b = Bench(cfg, args.smoke)
    t_start = time.monotonic()
    scenarios = [("http (enqueue, GET /health, hello ceiling)", b.scenario_http),
                 ("drain (claim loop ceiling, 1/2/4 processes" + (", peers)" if cfg["peers"] else ")"),
                  b.scenario_drain),
                 ("latency", b.scenario_latency),
                 ("mixed (90% ping, 10% 200 ms; no flags and tuned)", b.scenario_mixed),
                 ("crash recovery", b.scenario_crash),
                 ("workflows (chain and fan of no-op steps" + (", DBOS)" if cfg["peers"] else ")"),
                  b.scenario_workflows)]
    if cfg["peers"]:
        scenarios.append(("peers' adds (graphile-worker, pg-boss)", b.scenario_peers))
    failed = []
    try:
        log("building the ceilings into build/bench/")
        b.build_ceilings()
        if cfg["peers"]:
            log("installing the peers (npm ci in tests/bench/peers, when needed)")
            b.peer_versions = peers.install()
        log(f"starting a private PostgreSQL in {b.pgdir}")
        b.start_pg()
        for name, fn in scenarios:
            for rep in range(cfg["repeats"]):
                t = time.monotonic()
                try:
                    fn(rep)
                    log(f"{name}: run {rep + 1}/{cfg['repeats']} done in {time.monotonic() - t:.1f} s")
                except (RuntimeError, subprocess.SubprocessError, psycopg2.Error, OSError) as e:
                    msg = e.stderr if isinstance(e, subprocess.CalledProcessError) else e
                    log(f"{name}: run {rep + 1} FAILED: {msg}")
                    failed.append(name)
                    for p in list(PROCS):
                        stop(p, timeout=10)
        if failed:
            log(f"failed scenarios: {', '.join(sorted(set(failed)))}; logs in build/bench/logs/")
            return 1
        b.plot(svg)
        b.write_report(report, svg, argv, time.monotonic() - t_start)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except (subprocess.CalledProcessError, psycopg2.Error, OSError) as e:
        log(f"setup failed: {e}\n{getattr(e, 'stderr', '') or ''}")
        return 1
    finally:
        b.cleanup()
    if not report.exists() or not svg.exists():
        log("the report was not produced")
        return 1
    for k, v in sorted({**b.results, **b.peer_results}.items()):
        log(f"{k:22s} median {median(v):12.1f}   runs {', '.join(f'{x:.1f}' for x in v)}")
    log(f"report: {report.relative_to(ROOT)}, plot: {svg.relative_to(ROOT)} ({time.monotonic() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
