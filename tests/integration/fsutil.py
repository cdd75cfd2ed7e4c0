"""Shared helpers for the Flowstate integration tests: paths, clean environments for child
processes, the Gateway handle the fixtures hand out, and assertion helpers for API
responses and timestamps."""

import atexit
import datetime as dt
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import requests

REPO = Path(__file__).resolve().parents[2]
PGCTL = REPO / "deploy" / "pgctl.sh"
BIN_DIR = Path(os.environ.get("FLOWSTATE_BIN_DIR") or REPO / "build" / "bin")
GATEWAY_BIN = BIN_DIR / "flowstate-gateway"

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Fast settings for throwaway clusters: nothing here needs to survive a power cut.
PGCTL_FAST_OPTS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"

_UNSET = object()


def _fail(msg, pytrace=False):
    import pytest

    pytest.fail(msg, pytrace=pytrace)


def require_gateway_bin():
    """Fails (never skips) when the gateway binary is missing."""
    import pytest

    if not GATEWAY_BIN.is_file() or not os.access(GATEWAY_BIN, os.X_OK):
        pytest.fail(
            f"flowstate-gateway not found at {GATEWAY_BIN}: build it first (make) and run the "
            f"suite with FLOWSTATE_BIN_DIR=/abs/path/to/build/bin",
            pytrace=False,
        )
    return GATEWAY_BIN


def child_env(extra=None):
    """The environment for a gateway or curl child: ours without FLOWSTATE_* (the gateway
    rejects FLOWSTATE_* variables it does not know, e.g. FLOWSTATE_BIN_DIR), without libpq's
    PG* variables and proxies, plus `extra` (values of None remove a variable)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLOWSTATE_")
        and not k.startswith("PG")
        and k not in ("DATABASE_URL", "PORT", "BACKEND_API_URL")
        and not k.lower().endswith("_proxy")
    }
    env["NO_PROXY"] = env["no_proxy"] = "*"
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM when the test process dies, so a killed test run
    leaves no gateway behind (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


def popen_gateway(args, env, **kw):
    return subprocess.Popen([str(require_gateway_bin()), *args], env=env, stdin=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent, **kw)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(args, env_extra=None, timeout=30, input=None):
    """Runs flowstate-gateway with args; returns the CompletedProcess (text)."""
    binary = require_gateway_bin()
    return subprocess.run(
        [str(binary), *args],
        env=child_env(env_extra),
        stdin=subprocess.DEVNULL if input is None else None,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def create_key(db_url, role):
    """Runs `flowstate-gateway --create-key ROLE`; returns the key (last line of stdout)."""
    p = run_cli(["--create-key", role], {"DATABASE_URL": db_url})
    assert p.returncode == 0, f"--create-key {role} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    lines = p.stdout.splitlines()
    assert lines, f"--create-key {role} printed nothing on stdout; stderr:\n{p.stderr}"
    key = lines[-1].strip()
    assert key.startswith("fsk_"), f"last stdout line of --create-key is not a key: {key!r}"
    return key


def tail(path, n=60):
    try:
        with open(path, "r", errors="replace") as f:
            lines = f.readlines()
    except OSError as e:
        return f"(no log: {e})"
    return "".join(lines[-n:])


def cluster_parent_dir():
    """Where throwaway clusters go: tmpfs (/dev/shm) when it has room, because CREATE DATABASE
    copies files and is ~10x faster there; else the default temp dir."""
    shm = "/dev/shm"
    try:
        st = os.statvfs(shm)
        if os.access(shm, os.W_OK | os.X_OK) and st.f_bavail * st.f_frsize > 2 * 1024**3:
            return shm
    except OSError:
        pass
    return None


class Cluster:
    """A private PostgreSQL cluster managed by deploy/pgctl.sh."""

    def __init__(self, directory, opts=PGCTL_FAST_OPTS):
        self.dir = Path(directory)
        self.opts = opts
        self.url = None
        self._destroyed = False
        atexit.register(self.destroy)

    @classmethod
    def create(cls, prefix="fs-pg-"):
        c = cls(tempfile.mkdtemp(prefix=prefix, dir=cluster_parent_dir()))
        try:
            c.start()
        except BaseException:
            c.destroy()
            raise
        return c

    def _pgctl(self, cmd, timeout=120):
        return subprocess.run(
            ["bash", str(PGCTL), cmd, str(self.dir)],
            env=child_env({"PGCTL_OPTS": self.opts}),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self):
        p = self._pgctl("start")
        if p.returncode != 0:
            _fail(f"pgctl.sh start {self.dir} failed ({p.returncode}):\n{p.stderr}", pytrace=False)
        lines = p.stdout.splitlines()
        assert len(lines) == 1 and lines[0].startswith("postgresql://"), (
            f"pgctl.sh start printed {p.stdout!r}, expected one DATABASE_URL line"
        )
        self.url = lines[0]
        return self.url

    def stop(self):
        p = self._pgctl("stop")
        assert p.returncode == 0, f"pgctl.sh stop failed: {p.stderr}"

    def destroy(self):
        if self._destroyed:
            return
        self._destroyed = True
        try:
            self._pgctl("destroy")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url_for(self, dbname):
        return self.url.rsplit("/", 1)[0] + "/" + dbname

    def connect(self, dbname="postgres"):
        conn = psycopg2.connect(self.url_for(dbname), connect_timeout=10)
        conn.autocommit = True
        return conn

    def admin(self, sql):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()


class Gateway:
    """A running flowstate-gateway process (see the gateway_factory fixture)."""

    def __init__(self, proc, port, db_url, log_path, key, env):
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.db_url = db_url
        self.log_path = Path(log_path)
        self.key = key
        self.env = env
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: never a proxy

    # --- HTTP -------------------------------------------------------------------------
    def request(self, method, path, auth=_UNSET, headers=None, timeout=15, **kw):
        h = dict(headers or {})
        key = self.key if auth is _UNSET else auth
        if key is not None and "Authorization" not in h:
            h["Authorization"] = f"Bearer {key}"
        return self.session.request(method, self.url + path, headers=h, timeout=timeout, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def create_key(self, role):
        return create_key(self.db_url, role)

    # --- process ----------------------------------------------------------------------
    def log_tail(self, n=60):
        return tail(self.log_path, n)

    def alive(self):
        return self.proc.poll() is None

    def assert_healthy(self):
        assert self.alive(), f"gateway died (exit {self.proc.returncode}); log:\n{self.log_tail()}"
        r = requests.get(self.url + "/health", timeout=10, proxies={"http": None})
        assert r.status_code == 200, f"/health -> {r.status_code} {r.text}"
        return r

    def stop(self, timeout=10):
        """SIGTERM, wait; returns the exit code (None when it had to be killed)."""
        self.session.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


# The gateway's LISTEN connection (gateway/db/channels.c), in the test's own database.
_LISTEN_BACKEND = "application_name = 'flowstate-gateway-listen' AND datname = current_database()"


def listen_backend_query(db):
    """The last statement of the gateway's LISTEN connection (one gateway in the database):
    its session set-up, or the LISTEN/UNLISTEN it sent last. None when it is not connected."""
    return db.scalar(f"SELECT query FROM pg_stat_activity WHERE {_LISTEN_BACKEND}")


def kill_listen_backend(db):
    """Terminates the gateway's LISTEN connection; returns how many backends were ended."""
    return db.scalar(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {_LISTEN_BACKEND}")


def wait_ready(gw, timeout=10.0):
    """Waits until GET /health answers; fails with the log tail otherwise."""
    import pytest

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if gw.proc.poll() is not None:
            pytest.fail(
                f"gateway exited with {gw.proc.returncode} during start-up; log:\n{gw.log_tail()}",
                pytrace=False,
            )
        try:
            r = requests.get(gw.url + "/health", timeout=2, proxies={"http": None})
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except requests.RequestException as e:
            last = repr(e)
        time.sleep(0.05)
    pytest.fail(
        f"gateway did not answer /health within {timeout}s (last: {last}); log:\n{gw.log_tail()}",
        pytrace=False,
    )


# --- assertions ---------------------------------------------------------------------------


def json_of(r):
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), (
        f"{r.request.method} {r.url} -> {r.status_code} with Content-Type {ctype!r}: {r.text[:300]}"
    )
    try:
        return r.json()
    except ValueError:
        raise AssertionError(f"response is not JSON: {r.status_code} {r.text[:300]!r}") from None


def expect(r, status):
    """Asserts the status and a JSON body; returns the parsed body."""
    assert r.status_code == status, (
        f"{r.request.method} {r.request.path_url} -> {r.status_code}, expected {status}: {r.text[:500]}"
    )
    return json_of(r)


def expect_error(r, status, code, field=_UNSET):
    """Asserts an API error: status, {"error":{"code","message"[,"field"]}}. `field` may be a
    name or a tuple of acceptable names."""
    body = expect(r, status)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), f"not an error body: {body}"
    err = body["error"]
    assert err.get("code") == code, f"error code {err.get('code')!r}, expected {code!r}: {body}"
    assert isinstance(err.get("message"), str) and err["message"], f"error without message: {body}"
    if field is not _UNSET:
        ok = field if isinstance(field, tuple) else (field,)
        assert err.get("field") in ok, f"error field {err.get('field')!r}, expected {field!r}: {body}"
    assert r.headers.get("X-Request-Id"), "error response without X-Request-Id"
    return err


def parse_ts(s):
    """Parses an API timestamp; asserts ISO 8601 in UTC. Returns an aware datetime."""
    assert isinstance(s, str), f"timestamp is not a string: {s!r}"
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    assert t.tzinfo is not None, f"timestamp without zone: {s!r}"
    assert t.utcoffset() == dt.timedelta(0), f"timestamp not in UTC: {s!r}"
    return t


def utcnow():
    return dt.datetime.now(dt.timezone.utc)


def assert_recent(s, within=120):
    t = parse_ts(s)
    delta = abs((utcnow() - t).total_seconds())
    assert delta < within, f"timestamp {s} is {delta:.0f}s away from now"
    return t


class Listener:
    """A psycopg2 connection LISTENing on channels; collects (channel, payload)."""

    def __init__(self, url, *channels):
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            for ch in channels:
                cur.execute(f'LISTEN "{ch}"')

    def collect(self, seconds):
        out = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if select.select([self.conn], [], [], left)[0]:
                self.conn.poll()
                while self.conn.notifies:
                    n = self.conn.notifies.pop(0)
                    out.append((n.channel, n.payload))
        return out

    def wait_for(self, pred, seconds):
        got = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got += self.collect(0.1)
            if any(pred(c, p) for c, p in got):
                return got
        raise AssertionError(f"no matching notification within {seconds}s; got {got}")

    def close(self):
        self.conn.close()


def insert_done(db, agent, task, status, wait_ms, run_ms, err=None, attempts=1, delay_ms=0):
    """A finished job row for the statistics the agents read."""
    # created 10 minutes ago, runnable delay_ms later (runAt), started wait_ms after that
    db.execute("INSERT INTO job_queue (target_agent, payload, status, attempts, created_at, run_at, started_at,"
               " processed_at, last_error) SELECT %s, jsonb_build_object('taskType', %s::text), %s, %s, c, r,"
               " r + make_interval(secs => %s::float8 / 1000), r + make_interval(secs => (%s::float8 + %s) / 1000), %s"
               " FROM (SELECT c, c + make_interval(secs => %s::float8 / 1000) AS r"
               "       FROM (SELECT now() - interval '10 minutes' AS c) x) y",
               (agent, task, status, attempts, wait_ms, wait_ms, run_ms, err, delay_ms))
