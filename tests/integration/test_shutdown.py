"""Process life cycle: SIGTERM (idle and under load), --help, --show-config, and start-up
refusing unknown or invalid settings."""

import signal
import subprocess
import threading
import time

import requests

from fsutil import child_env, expect, free_port, popen_gateway, require_gateway_bin, run_cli


def test_sigterm_idle_exits_0_promptly(gateway):
    expect(gateway.get("/ready", auth=None), 200)
    t0 = time.monotonic()
    gateway.proc.send_signal(signal.SIGTERM)
    code = gateway.proc.wait(timeout=10)
    elapsed = time.monotonic() - t0
    assert code == 0, f"exit code {code}; log:\n{gateway.log_tail()}"
    assert elapsed < 3, f"took {elapsed:.1f}s to exit after SIGTERM while idle"
    # and it stopped listening
    try:
        requests.get(gateway.url + "/health", timeout=2)
        raise AssertionError("gateway still answers after exiting")
    except requests.ConnectionError:
        pass


def test_sigterm_with_idle_keepalive_connection(gateway):
    # An open keep-alive connection must not hold up the shutdown.
    s = requests.Session()
    s.trust_env = False
    expect(s.get(gateway.url + "/health", timeout=5), 200)
    t0 = time.monotonic()
    gateway.proc.send_signal(signal.SIGTERM)
    code = gateway.proc.wait(timeout=15)
    assert code == 0, gateway.log_tail()
    assert time.monotonic() - t0 < 5, "an idle keep-alive connection delayed shutdown"
    s.close()


def test_sigterm_while_requests_in_flight(gateway, db):
    stop = threading.Event()
    lock = threading.Lock()
    results = []  # (started_at, status or exception name, job id)
    headers = {"Authorization": f"Bearer {gateway.key}"}

    def worker(w):
        s = requests.Session()
        s.trust_env = False
        i = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                r = s.post(gateway.url + "/api/jobs", headers=headers, timeout=30,
                           json={"targetAgent": "shutdown", "payload": {"w": w, "i": i}})
                outcome = (started, r.status_code, r.json().get("id") if r.status_code == 201 else r.text)
            except requests.RequestException as e:
                outcome = (started, type(e).__name__, None)
            with lock:
                results.append(outcome)
            i += 1
            if not isinstance(outcome[1], int):
                break
        s.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    # let the burst get going
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with lock:
            if len(results) >= 200:
                break
        time.sleep(0.01)
    sigterm_at = time.monotonic()
    gateway.proc.send_signal(signal.SIGTERM)
    try:
        code = gateway.proc.wait(timeout=20)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert code == 0, f"exit code {code} after SIGTERM under load; log:\n{gateway.log_tail()}"

    ok = [r for r in results if r[1] == 201]
    assert len(ok) >= 200
    # Requests sent well before the signal were in flight: each must have completed.
    early = [r for r in results if r[0] < sigterm_at - 0.25]
    bad = [r for r in early if r[1] != 201]
    assert not bad, f"{len(bad)} requests sent before SIGTERM did not complete: {bad[:5]}"
    # Any answer given during shutdown is a proper one (201, or 503 while draining).
    odd = [r for r in results if isinstance(r[1], int) and r[1] not in (201, 503)]
    assert not odd, odd[:5]
    # Every job the gateway confirmed was committed.
    ids = {r[2] for r in ok}
    rows = {r["id"] for r in db.query("SELECT id FROM job_queue")}
    assert ids <= rows, f"{len(ids - rows)} confirmed jobs are missing from job_queue"


def test_help_lists_settings():
    p = run_cli(["--help"])
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    for name in ["DATABASE_URL", "PORT", "FLOWSTATE_HOST", "FLOWSTATE_AUTH", "FLOWSTATE_BODY_LIMIT",
                 "FLOWSTATE_KEY_CACHE_TTL", "FLOWSTATE_LOG_LEVEL", "--port", "--create-key", "--migrate"]:
        assert name in out, f"--help does not mention {name}"


def test_show_config_redacts_password():
    url = "postgresql://u:secret@127.0.0.1:5999/db"
    p = run_cli(["--show-config"], {"DATABASE_URL": url, "PORT": "4321", "FLOWSTATE_BODY_LIMIT": "2048"})
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "secret" not in out and "secret" not in p.stderr, out
    lines = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    assert lines.get("PORT") == "4321", out
    assert lines.get("FLOWSTATE_BODY_LIMIT") == "2048", out
    assert lines.get("FLOWSTATE_HOST") == "127.0.0.1", out
    db = lines.get("DATABASE_URL", "")
    assert db.startswith("postgresql://u:") and "127.0.0.1:5999/db" in db, out
    # key=value conninfo too
    p = run_cli(["--show-config"], {"DATABASE_URL": "host=127.0.0.1 user=u password=secret dbname=db"})
    assert p.returncode == 0, p.stderr
    assert "secret" not in p.stdout and "DATABASE_URL=" in p.stdout, p.stdout


def run_gateway_briefly(args=(), env_extra=None, db_url=None, timeout=15):
    """Starts the gateway expecting it to refuse to start; kills it if it serves anyway."""
    env = child_env({"DATABASE_URL": db_url or "postgresql://postgres@127.0.0.1:1/none",
                     "PORT": free_port(), "FLOWSTATE_DB_WAIT": "0", **(env_extra or {})})
    proc = popen_gateway(args, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"gateway kept running with {args} {env_extra}; stderr:\n{err}")
    return proc.returncode, out, err


def test_unknown_env_setting(test_db):
    code, _, err = run_gateway_briefly(env_extra={"FLOWSTATE_BOGUS": "1"}, db_url=test_db)
    assert code == 2, f"exit {code}: bad settings exit 2 whether they come from flags or the environment"
    assert "FLOWSTATE_BOGUS" in err, err


def test_unknown_flag(test_db):
    code, _, err = run_gateway_briefly(["--bogus"], db_url=test_db)
    assert code == 2, f"exit {code}"
    assert "bogus" in err, err
    code, _, err = run_gateway_briefly(["--bogus=1"], db_url=test_db)
    assert code != 0 and "bogus" in err, err


def test_invalid_values(test_db):
    for env, name in [
        ({"PORT": "70000"}, "PORT"),
        ({"PORT": "abc"}, "PORT"),
        ({"PORT": "0"}, "PORT"),
        ({"FLOWSTATE_BODY_LIMIT": "abc"}, "FLOWSTATE_BODY_LIMIT"),
        ({"FLOWSTATE_AUTH": "maybe"}, "FLOWSTATE_AUTH"),
        ({"FLOWSTATE_LOG_LEVEL": "loud"}, "FLOWSTATE_LOG_LEVEL"),
        ({"FLOWSTATE_KEY_CACHE_TTL": "-1"}, "FLOWSTATE_KEY_CACHE_TTL"),
    ]:
        code, _, err = run_gateway_briefly(env_extra=env, db_url=test_db)
        assert code == 2, f"{env}: exit {code}, want 2"
        assert name in err, f"{env}: stderr does not name {name}:\n{err}"
    code, _, err = run_gateway_briefly(["--port", "70000"], db_url=test_db)
    assert code != 0 and "port" in err.lower(), err


def test_missing_database_url():
    binary = require_gateway_bin()
    env = child_env({"PORT": free_port()})
    p = subprocess.run([str(binary)], env=env, capture_output=True, text=True, timeout=15)
    assert p.returncode != 0
    assert "DATABASE_URL" in p.stderr, p.stderr
