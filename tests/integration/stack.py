"""The whole stack for the worker tests: a gateway, agent processes (single agent executables
or flowstate-pool) reporting to it, and helpers to feed them jobs and watch the database.

- `Stack` (fixtures `stack` / `stack_factory` in conftest.py) owns every process a test
  starts. Each writes its log to a file under the test's tmp_path; failure messages quote the
  log tails. At teardown every process still running gets SIGTERM (SIGCONT first, in case a
  test stopped it) and must exit 0 within its stop timeout; it is SIGKILLed otherwise, and
  the test fails. Logs are checked for sanitizer reports (ASan/LSan/UBSan) in every case.
- Children get PR_SET_PDEATHSIG (fsutil._die_with_parent), and pool children already get it
  from the pool, so a killed test run leaves nothing behind.
- `wait_until(...)` polls every 50 ms with generous timeouts (multiplied under sanitizers:
  `SLOW`); no test asserts tight timings.
- `GatewayProxy`: an HTTP proxy in front of a gateway that can hold chosen requests, for
  making a worker's report arrive late deterministically.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

import fsutil
from fsutil import BIN_DIR, child_env, expect, tail

AGENTS = ("code_analyzer", "data_processor", "coordinator", "learning", "monitoring")
POOL_BIN = BIN_DIR / "flowstate-pool"
EXIT_FATAL = 78

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:", "ERROR: UndefinedBehaviorSanitizer")


def _sanitized():
    try:
        with open(fsutil.GATEWAY_BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = _sanitized()
# Timeouts are multiplied by this under ASan/UBSan (everything runs several times slower).
SLOW = 3 if SANITIZED else 1

# Worker settings for tests: quick polling and heartbeats, a short shutdown timeout.
WORKER_DEFAULTS = {
    "FLOWSTATE_POLL_INTERVAL_MS": 200,
    "FLOWSTATE_HEARTBEAT": 2,
    "FLOWSTATE_SHUTDOWN_TIMEOUT": 10,
    "FLOWSTATE_LOG_LEVEL": "info",
}
# Gateway settings for tests: a quick sweeper and short retry backoffs.
GATEWAY_DEFAULTS = {
    "FLOWSTATE_SWEEP_INTERVAL_MS": 200,
    "FLOWSTATE_RETRY_BASE_MS": 200,
    "FLOWSTATE_RETRY_MAX_MS": 2000,
}


def agent_bin(name):
    path = BIN_DIR / name
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"agent executable {path} not found: build it (make {path})", pytrace=False)
    return path


def pool_bin():
    if not POOL_BIN.is_file() or not os.access(POOL_BIN, os.X_OK):
        pytest.fail(f"flowstate-pool not found at {POOL_BIN}: build it (make {POOL_BIN})", pytrace=False)
    return POOL_BIN


def sanitizer_report(text):
    """The first line of a sanitizer report in text, or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKS):
            return line
    return None


def children_of(pid):
    """Pids whose parent is pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command may hold spaces and parentheses: the fields after the last ')' are fixed
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            out.append(int(d))
    return sorted(out)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def pid_exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def worker_pid(locked_by):
    """The pid in a "host:pid" worker id."""
    return int(str(locked_by).rsplit(":", 1)[1])


class Proc:
    """An agent process or a pool started by Stack, with its log file."""

    def __init__(self, name, proc, log_path, env, stop_timeout):
        self.name = name
        self.proc = proc
        self.pid = proc.pid
        self.log_path = Path(log_path)
        self.env = env
        self.stop_timeout = stop_timeout
        self.expected_exit = 0  # None: the test killed it on purpose, any exit is fine
        self.watch = True  # wait_until fails early when a watched process exits
        self.known_children = set()

    def __repr__(self):
        return f"<{self.name} pid {self.pid}>"

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return tail(self.log_path, n)

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def children(self):
        kids = children_of(self.pid) if self.alive() else []
        self.known_children.update(kids)
        return kids

    def kill9(self):
        """SIGKILL on purpose: any exit code is fine afterwards."""
        self.expected_exit = None
        self.watch = False
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout=None):
        """SIGTERM (after SIGCONT) and wait; returns the exit code, or None after a SIGKILL."""
        self.watch = False
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout or self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def wait_exit(self, timeout):
        self.watch = False
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def wait_log(self, pattern, timeout, count=1, what=None):
        """Waits until the log matches the regex `pattern` at least `count` times (timeout
        scaled by SLOW)."""
        rx = re.compile(pattern)
        timeout *= SLOW
        deadline = time.monotonic() + timeout
        while True:
            n = len(rx.findall(self.log()))
            if n >= count:
                return n
            if time.monotonic() > deadline:
                pytest.fail(f"{what or 'log line'}: /{pattern}/ seen {n} times in the log of {self}, "
                            f"expected {count}, within {timeout}s; log tail:\n{self.log_tail()}", pytrace=False)
            if not self.alive():
                pytest.fail(f"{self} exited with {self.proc.returncode} while waiting for /{pattern}/; "
                            f"log tail:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.05)


class Stack:
    """Processes and helpers of one test (see the module docstring)."""

    def __init__(self, gateway_factory, db, tmp_path):
        self._gateway_factory = gateway_factory
        self.db = db
        self.tmp = Path(tmp_path)
        self.procs = []
        self.gw = None
        self.own_gateways = []  # started by restart_gateway (not by gateway_factory)
        self._agent_key = None
        self._n = 0

    # --- gateway and keys ---------------------------------------------------------------
    def start_gateway(self, env=None):
        """Starts a gateway on this stack's database (test defaults + env); it becomes
        self.gw, which workers report to."""
        e = {**GATEWAY_DEFAULTS, **(env or {})}
        self.gw = self._gateway_factory(env=e, db_url=self.db.url, timeout=10.0 * SLOW)
        return self.gw

    def gateway(self):
        return self.gw or self.start_gateway()

    def restart_gateway(self, old):
        """Starts a new gateway like `old` (same settings, same port: workers keep their
        BACKEND_API_URL) after old has exited; it becomes self.gw. Stopped at teardown,
        after the workers, and must exit 0."""
        assert not old.alive(), "restart_gateway: the old gateway is still running"
        self._n += 1
        log_path = self.tmp / f"{self._n:02d}-gateway-restarted.log"
        with open(log_path, "wb") as logf:
            proc = fsutil.popen_gateway([], old.env, stdout=logf, stderr=subprocess.STDOUT)
        gw = fsutil.Gateway(proc, old.port, old.db_url, log_path, old.key, old.env)
        self.own_gateways.append(gw)
        fsutil.wait_ready(gw, 10.0 * SLOW)
        self.gw = gw
        return gw

    def agent_key(self, name="workers"):
        """An API key with role agent, made through the admin API (cached per stack)."""
        if self._agent_key is None:
            self._agent_key = self.create_key("agent", name)
        return self._agent_key

    def create_key(self, role, name="test"):
        body = expect(self.gateway().post("/api/keys", json={"role": role, "name": name}), 201)
        key = body.get("key")
        assert isinstance(key, str) and key.startswith("fsk_"), f"POST /api/keys returned no key: {body}"
        return key

    # --- processes ----------------------------------------------------------------------
    def env_for(self, env=None, url=None):
        """The environment of an agent process or pool: child_env + database, gateway, key,
        the test defaults, then env (None values remove a variable)."""
        gw = self.gateway()
        e = {
            "DATABASE_URL": self.db.url,
            "BACKEND_API_URL": url or gw.url,
            "FLOWSTATE_API_KEY": self.agent_key(),
            **WORKER_DEFAULTS,
            **(env or {}),
        }
        return child_env(e)

    def _spawn(self, name, argv, env, stop_timeout):
        self._n += 1
        log_path = self.tmp / f"{self._n:02d}-{name}.log"
        with open(log_path, "wb") as logf:
            proc = subprocess.Popen([str(a) for a in argv], env=env, stdin=subprocess.DEVNULL,
                                    stdout=logf, stderr=subprocess.STDOUT,
                                    preexec_fn=fsutil._die_with_parent)
        p = Proc(name, proc, log_path, env, stop_timeout)
        self.procs.append(p)
        return p

    def start_worker(self, agent="code_analyzer", env=None, args=(), url=None, wait_ready=True):
        """Starts one agent executable. With wait_ready, returns once it is connected to the
        database and listening for jobs (it registered with the gateway before that)."""
        e = self.env_for(env, url)
        shutdown = int(e.get("FLOWSTATE_SHUTDOWN_TIMEOUT", 30))
        p = self._spawn(agent, [agent_bin(agent), *args], e, stop_timeout=(shutdown + 15) * SLOW)
        if wait_ready:
            p.wait_log(r"database connected; listening for jobs", 30, what=f"{agent} start-up")
        return p

    def start_pool(self, agents="code_analyzer=2", env=None, args=(), wait_ready=True, ready_count=None,
                   stop_timeout=20):
        """Starts flowstate-pool with --agents (unless args has --agents-file); with
        wait_ready, returns once ready_count (default: all) workers listen for jobs."""
        e = self.env_for(env)
        argv = [pool_bin(), "--agent-dir", BIN_DIR, "--stop-timeout", stop_timeout, *args]
        if agents is not None:
            argv += ["--agents", agents]
        p = self._spawn("pool", argv, e, stop_timeout=(stop_timeout + 15) * SLOW)
        if wait_ready:
            if ready_count is None:
                ready_count = sum(int(x.split("=")[1]) for x in agents.split(",")) if agents else 1
            p.wait_log(r"database connected; listening for jobs", 30, count=ready_count,
                       what=f"pool start-up ({agents})")
        return p

    def run_worker_briefly(self, agent="code_analyzer", env=None, args=(), url=None, timeout=30):
        """Runs an agent expected to exit by itself (bad settings); returns (code, log)."""
        e = self.env_for(env, url)
        p = self._spawn(agent, [agent_bin(agent), *args], e, stop_timeout=10)
        code = p.wait_exit(timeout * SLOW)
        if code is None:
            p.terminate(10)
            pytest.fail(f"{agent} with {env} {list(args)} kept running; log:\n{p.log_tail()}", pytrace=False)
        p.expected_exit = None
        return code, p.log()

    def logs(self, n=30):
        """The log tails of every process (for failure messages)."""
        parts = [f"--- {p} ({'running' if p.alive() else f'exit {p.proc.returncode}'}) {p.log_path.name} ---\n"
                 f"{p.log_tail(n)}" for p in self.procs]
        if self.gw is not None:
            parts.append(f"--- gateway port {self.gw.port} ---\n{self.gw.log_tail(n)}")
        return "\n".join(parts)

    def check_processes(self):
        for p in self.procs:
            if p.watch and not p.alive():
                pytest.fail(f"{p} exited unexpectedly with {p.proc.returncode}; log tail:\n{p.log_tail(60)}",
                            pytrace=False)
        if self.gw is not None and not self.gw.alive():
            pytest.fail(f"the gateway exited with {self.gw.proc.returncode}; log:\n{self.gw.log_tail(60)}",
                        pytrace=False)

    def teardown(self, failed):
        problems = []
        for p in reversed(self.procs):
            # A pool's children: remember them so none outlives the test.
            p.children()
            code = p.terminate() if p.alive() else p.proc.returncode
            if p.expected_exit is not None and code != p.expected_exit:
                what = "did not exit after SIGTERM (killed)" if code is None else f"exited with {code}"
                problems.append(f"{p} {what}, expected {p.expected_exit}; log tail:\n{p.log_tail(60)}")
            for kid in sorted(p.known_children):
                if pid_alive(kid) and str(BIN_DIR) in pid_exe(kid):
                    os.kill(kid, signal.SIGKILL)
                    problems.append(f"{p}: child {kid} ({pid_exe(kid)}) was still running after the pool exited")
            report = sanitizer_report(p.log())
            if report:
                problems.append(f"{p}: sanitizer report in its log: {report}\n{p.log_tail(80)}")
        for gw in self.own_gateways:
            code = gw.stop(timeout=10 * SLOW)
            if code != 0:
                problems.append(f"restarted gateway on port {gw.port} exited with {code}; log:\n{gw.log_tail()}")
            report = sanitizer_report(tail(gw.log_path, 100000))
            if report:
                problems.append(f"restarted gateway: sanitizer report in its log: {report}")
        if failed and not problems:
            print(self.logs(60))
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)

    # --- jobs -------------------------------------------------------------------------------
    def create_job(self, agent="code_analyzer", payload=None, status=201, **fields):
        body = {"targetAgent": agent, "payload": payload if payload is not None else {"taskType": "ping"}, **fields}
        return expect(self.gateway().post("/api/jobs", json=body), status)

    def ping(self, agent="code_analyzer", sleep_ms=None, **fields):
        payload = {"taskType": "ping"}
        if sleep_ms is not None:
            payload["sleepMs"] = sleep_ms
        return self.create_job(agent, payload, **fields)["id"]

    def insert_jobs(self, n, agent="code_analyzer", payload=None, priority=2, timeout_seconds=None,
                    max_attempts=3):
        """Inserts n jobs in one SQL statement (one NOTIFY); returns their ids in order."""
        payload = payload if payload is not None else {"taskType": "ping"}
        rows = self.db.query(
            "INSERT INTO job_queue (target_agent, payload, priority, timeout_seconds, max_attempts)"
            " SELECT %s, %s::jsonb || jsonb_build_object('n', g), %s, %s, %s FROM generate_series(1, %s) g"
            " RETURNING id",
            (agent, json.dumps(payload), priority, timeout_seconds, max_attempts, n),
        )
        return sorted(r["id"] for r in rows)

    def job(self, job_id):
        return self.db.one("SELECT * FROM job_queue WHERE id = %s", (job_id,))

    def jobs(self, ids):
        return {r["id"]: r for r in self.db.query("SELECT * FROM job_queue WHERE id = ANY(%s)", (list(ids),))}

    def status_counts(self, ids=None):
        if ids is None:
            rows = self.db.query("SELECT status, count(*) AS n FROM job_queue GROUP BY status")
        else:
            rows = self.db.query("SELECT status, count(*) AS n FROM job_queue WHERE id = ANY(%s) GROUP BY status",
                                 (list(ids),))
        return {r["status"]: r["n"] for r in rows}

    def events(self, job_id=None, type=None):
        return self.db.query(
            "SELECT * FROM events WHERE (%(j)s::bigint IS NULL OR job_id = %(j)s)"
            " AND (%(t)s::text IS NULL OR type = %(t)s) ORDER BY id",
            {"j": job_id, "t": type},
        )

    def agent_state(self, agent):
        rows = self.db.query("SELECT state FROM agent_states WHERE agent_name = %s", (agent,))
        return rows[0]["state"] if rows else None

    # --- waiting ----------------------------------------------------------------------------
    def wait_until(self, fn, timeout, what, interval=0.05):
        """Polls fn() -> (ok, seen) until ok; fails with `what`, the last `seen` and the logs.
        Fails early when a watched process exits. timeout is scaled by SLOW."""
        deadline = time.monotonic() + timeout * SLOW
        seen = None
        while True:
            ok, seen = fn()
            if ok:
                return seen
            self.check_processes()
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not reached within {timeout * SLOW}s; last seen: {seen}\n{self.logs()}",
                            pytrace=False)
            time.sleep(interval)

    def wait_status(self, ids, status, timeout, what=None):
        """Waits until every job in ids has the status; returns the rows by id."""
        ids = list(ids)

        def check():
            counts = self.status_counts(ids)
            return counts.get(status, 0) == len(ids), counts

        self.wait_until(check, timeout, what or f"{len(ids)} job(s) {status}")
        return self.jobs(ids)

    def wait_job(self, job_id, cond, timeout, what):
        """Waits until cond(row) holds for the job; returns the row."""

        def check():
            row = self.job(job_id)
            return cond(row), {k: row[k] for k in ("status", "attempts", "locked_by", "last_error")}

        self.wait_until(check, timeout, what)
        return self.job(job_id)


def refusals(log, job_id=None):
    """The worker log lines saying the gateway refused an outcome (of job_id)."""
    lines = [line for line in log.splitlines() if "gateway refused an outcome" in line]
    if job_id is not None:
        lines = [line for line in lines if f" job={job_id} " in line + " "]
    return lines


def assert_completed_once(rows, expect_attempts=1):
    """Each row completed with a pong for its own job and attempt (attempts == expect_attempts
    unless that is None)."""
    bad = []
    for r in rows.values() if isinstance(rows, dict) else rows:
        res = r["result"] or {}
        ok = (r["status"] == "completed" and res.get("pong") is True and res.get("jobId") == r["id"]
              and res.get("attempt") == r["attempts"]
              and (expect_attempts is None or r["attempts"] == expect_attempts))
        if not ok:
            bad.append({k: r[k] for k in ("id", "status", "attempts", "last_error", "result")})
    assert not bad, f"{len(bad)} job(s) not completed exactly as expected (attempts {expect_attempts}): {bad[:5]}"


# --- a proxy that can hold requests ----------------------------------------------------------


class GatewayProxy:
    """HTTP proxy to a gateway (keep-alive, HTTP/1.1). While `hold(path)` is on, requests
    for that path are kept waiting (unanswered) until `release()`; then they are forwarded
    and answered with the gateway's response. Every exchange is recorded in `log`:
    dicts {method, path, body, status, response, held}."""

    def __init__(self, target_url):
        self.target = target_url
        self.log = []
        self.lock = threading.Lock()
        self._hold_paths = set()
        self._released = threading.Event()
        self._released.set()
        self.held = []  # requests currently waiting
        proxy = self
        session_local = threading.local()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                entry = {"method": self.command, "path": self.path, "body": body.decode(errors="replace"),
                         "status": None, "response": None, "held": False}
                with proxy.lock:
                    proxy.log.append(entry)
                    hold = self.path in proxy._hold_paths
                    if hold:
                        entry["held"] = True
                        proxy.held.append(entry)
                if hold:
                    proxy._released.wait()
                s = getattr(session_local, "s", None)
                if s is None:
                    s = session_local.s = requests.Session()
                    s.trust_env = False
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                try:
                    r = s.request(self.command, proxy.target + self.path, data=body, headers=headers, timeout=60)
                    status, data, ctype = r.status_code, r.content, r.headers.get("Content-Type", "text/plain")
                except requests.RequestException as e:
                    status, data, ctype = 502, str(e).encode(), "text/plain"
                entry["status"], entry["response"] = status, data.decode(errors="replace")
                with proxy.lock:
                    if entry in proxy.held:
                        proxy.held.remove(entry)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hold(self, path):
        with self.lock:
            self._hold_paths.add(path)
            self._released.clear()

    def release(self):
        with self.lock:
            self._hold_paths.clear()
        self._released.set()

    def entries(self, path=None):
        with self.lock:
            return [e for e in self.log if path is None or e["path"] == path]

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()
