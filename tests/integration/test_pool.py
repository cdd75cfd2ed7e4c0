"""flowstate-pool, the supervisor, with stand-in agents: small shell scripts named like the
agents in a temporary --agent-dir (run forever and note SIGTERM, ignore SIGTERM, exit 3,
exit 78). That tests the supervisor alone: counts and process table, respawn with backoff,
fatal exits, crash release of a dead child's jobs, SIGTERM / second SIGTERM / stop timeout,
SIGHUP scaling from an agents file, and start-up refusing bad settings with exit code 2."""

import os
import re
import signal
import socket
import subprocess
import time
import uuid
from datetime import datetime

import pytest

from fsutil import BIN_DIR, child_env, tail

POOL_BIN = BIN_DIR / "flowstate-pool"
AGENTS = ["code_analyzer", "data_processor", "coordinator", "learning", "monitoring"]
HOST = socket.gethostname()

# Stand-in agents. {dir} is the agent directory; markers go there.
SCRIPTS = {
    # runs until SIGTERM, noting it received one; records its environment
    "sleeper": """#!/bin/sh
trap 'echo term > "{dir}/term.$$"; exit 0' TERM
env > "{dir}/env.$$"
: > "{dir}/ready.$$"
while :; do sleep 0.1; done
""",
    # ignores SIGTERM: only SIGKILL stops it
    "stubborn": """#!/bin/sh
trap '' TERM
: > "{dir}/ready.$$"
while :; do sleep 0.1; done
""",
    "crash": "#!/bin/sh\nexit 3\n",
    "fatal": "#!/bin/sh\nexit 78\n",
}

STARTED_RE = re.compile(r'msg="worker started" agent=(\w+) slot=(\d+) pid=(\d+)')
EXITED_RE = re.compile(r'msg="worker exited" agent=(\w+) slot=(\d+) pid=(\d+) (code=\d+|signal=\d+)')
RESTART_RE = re.compile(r'^ts=(\S+) .*msg="restarting" agent=(\w+) slot=(\d+) delay_ms=(\d+)', re.M)


def require_pool_bin():
    if not POOL_BIN.is_file() or not os.access(POOL_BIN, os.X_OK):
        pytest.fail(f"flowstate-pool not found at {POOL_BIN}: build it (make build/bin/flowstate-pool) "
                    f"and run with FLOWSTATE_BIN_DIR=/abs/path/to/build/bin", pytrace=False)
    return POOL_BIN


def make_agent_dir(path, kinds):
    """Writes one stand-in script per agent: kinds maps agent -> key of SCRIPTS (default
    sleeper for every agent not named)."""
    path.mkdir(parents=True, exist_ok=True)
    for agent in AGENTS:
        script = path / agent
        script.write_text(SCRIPTS[kinds.get(agent, "sleeper")].format(dir=path))
        script.chmod(0o755)
    return path


def pool_env(extra=None):
    return child_env({"FLOWSTATE_LOG_LEVEL": "info", **(extra or {})})


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def ppid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    return None


def cmdline_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def wait_until(pred, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Pool:
    def __init__(self, proc, log_path, agent_dir):
        self.proc = proc
        self.pid = proc.pid
        self.log_path = log_path
        self.agent_dir = agent_dir

    def log(self):
        return self.log_path.read_text(errors="replace")

    def log_tail(self, n=60):
        return tail(self.log_path, n)

    def started(self):
        """[(agent, slot, pid)] in start order."""
        return [(a, int(s), int(p)) for a, s, p in STARTED_RE.findall(self.log())]

    def exited(self):
        return {int(p): how for a, s, p, how in EXITED_RE.findall(self.log())}

    def live(self, agent=None):
        """{(agent, slot): pid} of children started and not reported gone."""
        gone = self.exited()
        out = {}
        for a, s, p in self.started():
            if p not in gone and (agent is None or a == agent):
                out[(a, s)] = p
        return out

    def wait_log(self, pattern, count=1, timeout=10):
        rx = re.compile(pattern)
        wait_until(lambda: len(rx.findall(self.log())) >= count or self.proc.poll() is not None, timeout)
        found = rx.findall(self.log())
        assert len(found) >= count, (f"log has {len(found)} of {count} lines matching {pattern!r} "
                                     f"(pool exit {self.proc.poll()}); log:\n{self.log_tail()}")
        return found

    def wait_live(self, n, agent=None, timeout=10):
        wait_until(lambda: len(self.live(agent)) == n, timeout)
        live = self.live(agent)
        assert len(live) == n, f"{len(live)} live {agent or 'workers'}, want {n}: {live}\n{self.log_tail()}"
        return live

    def wait_ready(self, pids, timeout=10):
        """Waits until the stand-ins with these pids have set up their SIGTERM trap (a signal
        before that would just kill the shell)."""
        ok = wait_until(lambda: all((self.agent_dir / f"ready.{p}").exists() for p in pids), timeout)
        assert ok, f"stand-ins {list(pids)} not ready; log:\n{self.log_tail()}"

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"pool still running after {timeout}s; log:\n{self.log_tail()}") from None


@pytest.fixture
def pool_factory(tmp_path):
    """start(agents=..., kinds={agent: script}, args=[...], env={...}) -> Pool. Teardown stops
    the pool, kills any stand-in it left behind, and fails on sanitizer reports."""
    require_pool_bin()
    pools = []

    def start(agents=None, kinds=None, args=(), env=None, agent_dir=None):
        n = len(pools) + 1
        adir = agent_dir or make_agent_dir(tmp_path / f"agents{n}", kinds or {})
        argv = [str(POOL_BIN), "--agent-dir", str(adir), *args]
        if agents is not None:
            argv += ["--agents", agents]
        log_path = tmp_path / f"pool{n}.log"
        with open(log_path, "wb") as logf:
            proc = subprocess.Popen(argv, env=pool_env(env), stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        p = Pool(proc, log_path, adir)
        pools.append(p)
        return p

    yield start

    problems = []
    for p in pools:
        if p.proc.poll() is None:
            p.proc.send_signal(signal.SIGTERM)
            try:
                p.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait()
                problems.append(f"pool {p.pid} ignored SIGTERM")
        # Stand-ins still around (e.g. one ignoring SIGTERM after a failed test): ours only.
        for _, _, pid in p.started():
            if any(str(p.agent_dir).encode() in arg for arg in cmdline_of(pid)):
                os.kill(pid, signal.SIGKILL)
        text = p.log()
        if "AddressSanitizer" in text or "LeakSanitizer" in text or "runtime error:" in text:
            problems.append(f"sanitizer report in pool log:\n{text[-4000:]}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def insert_running_job(db, worker, agent="code_analyzer", attempts=1, max_attempts=3):
    return db.scalar(
        "INSERT INTO job_queue (payload, target_agent, status, attempts, max_attempts, locked_by, "
        "locked_until, started_at) VALUES ('{}', %s, 'running', %s, %s, %s, now() + interval '10 minutes', now()) "
        "RETURNING id", (agent, attempts, max_attempts, worker))


def job(db, job_id):
    return db.one("SELECT status, attempts, locked_by, last_error FROM job_queue WHERE id = %s", (job_id,))


# --- start-up and process table -----------------------------------------------------------


def test_starts_the_configured_processes(pool_factory, db):
    pool = pool_factory("code_analyzer=2,data_processor=1",
                        args=["--concurrency", "16", "--backend-api-url", "http://127.0.0.1:9"],
                        env={"DATABASE_URL": db.url})
    live = pool.wait_live(3)
    assert set(live) == {("code_analyzer", 0), ("code_analyzer", 1), ("data_processor", 0)}, live
    for (agent, _), pid in live.items():
        assert alive(pid), f"{agent} pid {pid} is not running"
        assert ppid_of(pid) == pool.pid
        # a script runs as "/bin/sh <agent-dir>/<agent>" (the kernel replaces argv[0]); the
        # log line comes right after fork, so the exec may still be under way
        path = str(pool.agent_dir / agent).encode()
        assert wait_until(lambda: path in cmdline_of(pid), 5), cmdline_of(pid)
        assert os.getpgid(pid) == pid, "a worker should lead its own process group"
    # nothing else started, and the log says what runs
    time.sleep(0.3)
    assert len(pool.started()) == 3, pool.log_tail()
    assert 'agents="code_analyzer=2,data_processor=1"' in pool.log()

    # worker flags given to the pool reach the children through their environment
    pid = live[("code_analyzer", 0)]
    pool.wait_ready(live.values())
    env_file = pool.agent_dir / f"env.{pid}"
    env = dict(l.split("=", 1) for l in env_file.read_text().splitlines() if "=" in l)
    assert env.get("FLOWSTATE_CONCURRENCY") == "16", env
    assert env.get("BACKEND_API_URL") == "http://127.0.0.1:9", env
    assert env.get("DATABASE_URL") == db.url
    assert env.get("FLOWSTATE_LOG_LEVEL") == "info"

    pool.signal(signal.SIGTERM)
    assert pool.wait(10) == 0, pool.log_tail()


def test_help_exits_0_and_describes_the_pool():
    p = subprocess.run([str(require_pool_bin()), "--help"], env=pool_env(), capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for word in ["--agents", "FLOWSTATE_AGENTS", "--agents-file", "FLOWSTATE_AGENTS_FILE", "--agent-dir",
                 "--stop-timeout", "--respawn-max-ms", "DATABASE_URL", "SIGHUP", "SIGTERM", "78",
                 "--concurrency", "--show-config", "code_analyzer"]:
        assert word in out, f"--help does not mention {word}"


def test_show_config_lists_pool_and_worker_settings():
    p = subprocess.run([str(require_pool_bin()), "--show-config", "--agents", "learning=2", "--concurrency=4"],
                       env=pool_env({"DATABASE_URL": "postgresql://u:secret@127.0.0.1:1/db"}),
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    lines = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    assert lines.get("FLOWSTATE_AGENTS") == "learning=2"
    assert lines.get("FLOWSTATE_CONCURRENCY") == "4"
    assert "FLOWSTATE_STOP_TIMEOUT" in lines and "FLOWSTATE_RESPAWN_MAX_MS" in lines
    assert "secret" not in p.stdout


BAD_AGENTS = [
    ("bogus=1", "unknown agent"),
    ("code_analyzer=1,bogus=1", "unknown agent"),
    ("code_analyzer=65", "0 to 64"),
    ("code_analyzer=-1", "0 to 64"),
    ("code_analyzer=x", "0 to 64"),
    ("code_analyzer", "name=count"),
    ("code_analyzer=1,code_analyzer=2", "listed twice"),
    ("", "no agent listed"),
]


@pytest.mark.parametrize("value,why", BAD_AGENTS)
def test_bad_agents_value_exits_2_changing_nothing(tmp_path, db, value, why):
    adir = make_agent_dir(tmp_path / "agents", {})
    before = db.counts()
    for how in ("flag", "env"):
        argv = [str(require_pool_bin()), "--agent-dir", str(adir)]
        env = {"DATABASE_URL": db.url}
        if how == "flag":
            argv += ["--agents", value]
        else:
            env["FLOWSTATE_AGENTS"] = value
        p = subprocess.run(argv, env=pool_env(env), capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, f"{how} {value!r}: exit {p.returncode}\n{p.stderr}"
        assert "--agents" in p.stderr and "FLOWSTATE_AGENTS" in p.stderr, p.stderr
        assert why in p.stderr, p.stderr
        assert "worker started" not in p.stderr
    assert not list(adir.glob("env.*")), "a worker ran"
    assert db.counts() == before


def test_other_bad_settings_exit_2(tmp_path):
    adir = make_agent_dir(tmp_path / "agents", {})
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_file = tmp_path / "agents.txt"
    bad_file.write_text("code_analyzer=1\nmonitoring=two\n")
    cases = [
        (["--agent-dir", str(empty), "--agents", "code_analyzer=1"], ["--agent-dir", str(empty / "code_analyzer")]),
        (["--agent-dir", str(adir), "--agents-file", str(tmp_path / "missing")], ["--agents-file", "missing"]),
        (["--agent-dir", str(adir), "--agents-file", str(bad_file)], ["--agents-file", "monitoring=two", "line 2"]),
        (["--agent-dir", str(adir), "--stop-timeout", "0"], ["--stop-timeout"]),
        (["--agent-dir", str(adir), "--respawn-max-ms=10"], ["--respawn-max-ms"]),
        (["--agent-dir", str(adir), "--bogus", "1"], ["--bogus"]),
        (["--agent-dir", str(adir), "--port", "3001"], ["--port"]),  # a gateway setting
        (["--agent-dir", str(adir), "stray"], ["stray"]),
        (["--agent-dir"], ["--agent-dir", "needs a value"]),
    ]
    for args, words in cases:
        p = subprocess.run([str(require_pool_bin()), *args], env=pool_env(), capture_output=True, text=True,
                           timeout=10)
        assert p.returncode == 2, f"{args}: exit {p.returncode}\n{p.stderr}"
        for w in words:
            assert w in p.stderr, f"{args}: stderr does not mention {w!r}:\n{p.stderr}"
        assert "worker started" not in p.stderr
    p = subprocess.run([str(require_pool_bin()), "--agent-dir", str(adir)],
                       env=pool_env({"FLOWSTATE_STOP_TIMEOUT": "soon"}), capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "FLOWSTATE_STOP_TIMEOUT" in p.stderr, p.stderr
    assert not list(adir.glob("env.*")), "a worker ran"


# --- respawn and crash release -----------------------------------------------------------


def test_kill_9_restarts_the_worker_and_releases_its_jobs_at_once(pool_factory, db):
    pool = pool_factory("code_analyzer=1,learning=1", env={"DATABASE_URL": db.url})
    pid = pool.wait_live(1, "code_analyzer")[("code_analyzer", 0)]
    held = insert_running_job(db, f"{HOST}:{pid}", attempts=2, max_attempts=3)
    other = insert_running_job(db, f"{HOST}:{pool.pid}")  # someone else's job
    other_host = insert_running_job(db, f"elsewhere:{pid}")  # same pid, another machine

    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    released = wait_until(lambda: job(db, held)["status"] == "pending", 1.0, step=0.01)
    elapsed = time.monotonic() - t0
    assert released, f"job still {job(db, held)} {elapsed:.2f}s after kill -9; log:\n{pool.log_tail()}"
    j = job(db, held)
    assert j["attempts"] == 2 and j["locked_by"] is None, j
    assert f"code_analyzer[0] {HOST}:{pid}" in j["last_error"] and "signal 9" in j["last_error"], j
    assert job(db, other)["status"] == "running"
    assert job(db, other_host)["status"] == "running"

    pool.wait_log(r'msg="released jobs" agent=code_analyzer slot=0 pid=%d worker=\S+ count=1' % pid)
    new = pool.wait_live(1, "code_analyzer")[("code_analyzer", 0)]
    assert new != pid and alive(new) and ppid_of(new) == pool.pid
    assert "signal=9" in pool.exited()[pid]
    # the other agent was not disturbed
    assert len([s for s in pool.started() if s[0] == "learning"]) == 1


def test_last_attempt_lost_goes_to_failed(pool_factory, db):
    pool = pool_factory("code_analyzer=1", env={"DATABASE_URL": db.url})
    pid = pool.wait_live(1)[("code_analyzer", 0)]
    held = insert_running_job(db, f"{HOST}:{pid}", attempts=3, max_attempts=3)
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: job(db, held)["status"] == "failed", 2), job(db, held)
    assert "signal 9" in job(db, held)["last_error"]


def test_exit_78_is_not_restarted(pool_factory):
    pool = pool_factory("code_analyzer=1,data_processor=1", kinds={"code_analyzer": "fatal"})
    pool.wait_log(r'msg="worker failed fatally; not restarting it" agent=code_analyzer slot=0')
    time.sleep(1.0)
    assert len([s for s in pool.started() if s[0] == "code_analyzer"]) == 1, pool.log_tail()
    assert 'msg="restarting"' not in pool.log()
    assert pool.proc.poll() is None, "the pool exited while a worker still runs"
    assert len(pool.live("data_processor")) == 1
    pool.signal(signal.SIGTERM)
    assert pool.wait(10) == 0


def test_every_worker_fatal_exits_1(pool_factory):
    pool = pool_factory("code_analyzer=2,monitoring=1", kinds={"code_analyzer": "fatal", "monitoring": "fatal"})
    assert pool.wait(10) == 1, pool.log_tail()
    assert len(pool.started()) == 3
    assert "every worker failed fatally" in pool.log()


def _ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_respawn_backoff_grows_up_to_the_cap(pool_factory):
    pool = pool_factory("code_analyzer=1", kinds={"code_analyzer": "crash"}, args=["--respawn-max-ms", "800"])
    pool.wait_log(r'msg="restarting"', count=7, timeout=15)
    restarts = RESTART_RE.findall(pool.log())
    delays = [int(d) for _, _, _, d in restarts]
    # each delay is drawn from [d/2, d] with d = 100, 200, 400, 800 (cap), 800, …
    for got, d in zip(delays, [100, 200, 400, 800, 800, 800, 800]):
        assert d // 2 <= got <= d, f"delays {delays}"
    assert delays[3] > delays[0]
    # and the restarts really wait that long (loosely: the log's timestamps)
    starts = [_ts(m.group(1)) for m in re.finditer(r'^ts=(\S+) .*msg="worker started"', pool.log(), re.M)]
    gaps = [(b - a).total_seconds() * 1000 for a, b in zip(starts, starts[1:])]
    for gap, delay in zip(gaps, delays):
        assert gap >= delay - 5, f"gaps {gaps} delays {delays}"
    assert gaps[4] > gaps[0]


# --- stopping ----------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_terms_every_child_and_exits_0(pool_factory, db, sig):
    pool = pool_factory("code_analyzer=2,learning=1", env={"DATABASE_URL": db.url})
    live = pool.wait_live(3)
    pool.wait_ready(live.values())
    t0 = time.monotonic()
    pool.signal(sig)
    assert pool.wait(10) == 0, pool.log_tail()
    assert time.monotonic() - t0 < 5
    for (agent, slot), pid in live.items():
        assert (pool.agent_dir / f"term.{pid}").exists(), f"{agent}[{slot}] got no SIGTERM"
        assert not alive(pid)
        assert pool.exited()[pid] == "code=0"
    assert 'msg="restarting"' not in pool.log()
    assert 'msg="pool stopped" code=0' in pool.log()


def test_child_ignoring_sigterm_is_killed_after_stop_timeout(pool_factory, db):
    pool = pool_factory("code_analyzer=1", kinds={"code_analyzer": "stubborn"}, args=["--stop-timeout", "1"],
                        env={"DATABASE_URL": db.url})
    pid = pool.wait_live(1)[("code_analyzer", 0)]
    pool.wait_ready([pid])
    held = insert_running_job(db, f"{HOST}:{pid}")
    t0 = time.monotonic()
    pool.signal(signal.SIGTERM)
    assert pool.wait(10) == 0, pool.log_tail()
    elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed < 5, f"pool exited {elapsed:.1f}s after SIGTERM with --stop-timeout 1"
    assert not alive(pid)
    assert "still running after the stop timeout" in pool.log()
    assert pool.exited()[pid] == "signal=9"
    j = job(db, held)
    assert j["status"] == "pending" and "signal 9" in j["last_error"] and "by the pool" in j["last_error"], j


def test_second_sigterm_kills_at_once_and_exits_1(pool_factory, db):
    pool = pool_factory("code_analyzer=2", kinds={"code_analyzer": "stubborn"}, args=["--stop-timeout", "60"],
                        env={"DATABASE_URL": db.url})
    live = pool.wait_live(2)
    pool.wait_ready(live.values())
    held = insert_running_job(db, f"{HOST}:{live[('code_analyzer', 1)]}")
    pool.signal(signal.SIGTERM)
    pool.wait_log(r'msg="stopping" signal=TERM')
    time.sleep(0.3)
    assert pool.proc.poll() is None, "the pool should wait for workers ignoring SIGTERM"
    t0 = time.monotonic()
    pool.signal(signal.SIGTERM)
    assert pool.wait(5) == 1, pool.log_tail()
    assert time.monotonic() - t0 < 3
    for pid in live.values():
        assert not alive(pid)
    assert job(db, held)["status"] == "pending", job(db, held)


# --- SIGHUP ------------------------------------------------------------------------------


def test_sighup_scales_from_the_agents_file(pool_factory, tmp_path):
    agents_file = tmp_path / "agents.conf"
    agents_file.write_text("# pool\ncode_analyzer=1\n")
    pool = pool_factory(None, args=["--agents-file", str(agents_file), "--agents", "monitoring=5"])
    first = pool.wait_live(1)
    assert list(first) == [("code_analyzer", 0)], "the file wins over --agents"
    pid0 = first[("code_analyzer", 0)]

    agents_file.write_text("code_analyzer=3  # scale up\n")
    pool.signal(signal.SIGHUP)
    live = pool.wait_live(3, "code_analyzer")
    assert live[("code_analyzer", 0)] == pid0, "scaling up must not touch running workers"
    pool.wait_ready(live.values())

    agents_file.write_text("code_analyzer=1\n")
    pool.signal(signal.SIGHUP)
    live = pool.wait_live(1, "code_analyzer")
    assert live == {("code_analyzer", 0): pid0}
    log = pool.log()
    # the extra ones got SIGTERM (drained), highest slot first
    stops = re.findall(r'msg="stopping worker" agent=code_analyzer slot=(\d) pid=\d+ reason=scale-down', log)
    assert stops == ["2", "1"], log
    for slot in (1, 2):
        pid = [p for a, s, p in pool.started() if a == "code_analyzer" and s == slot][-1]
        assert (pool.agent_dir / f"term.{pid}").exists()
        assert pool.exited()[pid] == "code=0"

    # an invalid file is logged and ignored
    agents_file.write_text("code_analyzer=1\nbogus=2\n")
    pool.signal(signal.SIGHUP)
    pool.wait_log(r'invalid agents file; keeping the current counts')
    time.sleep(0.3)
    assert pool.live() == {("code_analyzer", 0): pid0}

    # an agent left out of the list is stopped; a new one is started
    agents_file.write_text("learning=1\n")
    pool.signal(signal.SIGHUP)
    pool.wait_live(1, "learning")
    pool.wait_live(0, "code_analyzer")
    assert pool.proc.poll() is None
    pool.signal(signal.SIGTERM)
    assert pool.wait(10) == 0


def test_sighup_without_agents_file_changes_nothing(pool_factory):
    pool = pool_factory("code_analyzer=1")
    live = pool.wait_live(1)
    pool.signal(signal.SIGHUP)
    pool.wait_log(r"no agents file")
    time.sleep(0.2)
    assert pool.live() == live and pool.proc.poll() is None


# --- the database ------------------------------------------------------------------------


def test_release_waits_for_the_database_and_is_retried(pool_factory, pg_cluster, template_db):
    """The database is missing when the child dies: the release is kept and retried every
    second, and happens once the database appears."""
    name = f"pool_late_{uuid.uuid4().hex[:8]}"
    try:
        pool = pool_factory("code_analyzer=1", env={"DATABASE_URL": pg_cluster.url_for(name)})
        pid = pool.wait_live(1)[("code_analyzer", 0)]
        pool.wait_log(r"database unavailable")
        os.kill(pid, signal.SIGKILL)
        pool.wait_log(r'msg="worker exited" agent=code_analyzer slot=0 pid=%d' % pid)
        pool.wait_live(1)  # the loop goes on: restarted without the database

        # Create the database with the dead worker's job in it, appearing all at once.
        pg_cluster.admin(f"CREATE DATABASE {name}_tmp TEMPLATE {template_db}")
        conn = pg_cluster.connect(f"{name}_tmp")
        with conn.cursor() as cur:
            cur.execute("INSERT INTO job_queue (payload, target_agent, status, attempts, locked_by, locked_until) "
                        "VALUES ('{}', 'code_analyzer', 'running', 1, %s, now() + interval '10 minutes') RETURNING id",
                        (f"{HOST}:{pid}",))
            job_id = cur.fetchone()[0]
        conn.close()
        pg_cluster.admin(f"ALTER DATABASE {name}_tmp RENAME TO {name}")

        conn = pg_cluster.connect(name)
        try:
            def status():
                with conn.cursor() as cur:
                    cur.execute("SELECT status, last_error FROM job_queue WHERE id = %s", (job_id,))
                    return cur.fetchone()
            assert wait_until(lambda: status()[0] == "pending", 5, step=0.05), (status(), pool.log_tail())
            assert "signal 9" in status()[1]
        finally:
            conn.close()
        pool.wait_log(r"database available again")
        assert pool.log().count("database unavailable") == 1, "the outage should be logged once"
        pool.signal(signal.SIGTERM)
        assert pool.wait(10) == 0
    finally:
        pg_cluster.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        pg_cluster.admin(f"DROP DATABASE IF EXISTS {name}_tmp WITH (FORCE)")


def test_release_connection_comes_back_with_no_release_waiting(pool_factory, pg_cluster, template_db):
    """The crash release's connection is retried (with delays growing to a second) even while
    no release waits, so the first release after an outage does not wait for a connect."""
    name = f"pool_back_{uuid.uuid4().hex[:8]}"
    try:
        pool = pool_factory("code_analyzer=1", env={"DATABASE_URL": pg_cluster.url_for(name)})
        pool.wait_live(1)
        pool.wait_log(r"database unavailable")
        pg_cluster.admin(f"CREATE DATABASE {name} TEMPLATE {template_db}")
        pool.wait_log(r'msg="database available again" conn=crash-release')
        pool.signal(signal.SIGTERM)
        assert pool.wait(10) == 0
    finally:
        pg_cluster.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_without_database_url_workers_still_run(pool_factory):
    pool = pool_factory("code_analyzer=1", env={"DATABASE_URL": ""})
    pid = pool.wait_live(1)[("code_analyzer", 0)]
    os.kill(pid, signal.SIGKILL)
    pool.wait_log(r'msg="worker started"', count=2)
    assert pool.log().count("DATABASE_URL is empty") == 1
    pool.signal(signal.SIGTERM)
    assert pool.wait(10) == 0
