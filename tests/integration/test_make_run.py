"""`make run`'s script (deploy/run.sh) against an existing database: it migrates, starts the
gateway and the worker pool, prints the URL and an admin key, the pool's workers run a ping
job end to end, and Ctrl-C (SIGINT to the script) stops everything with exit code 0."""

import os
import re
import signal
import subprocess
import time

import requests

from fsutil import BIN_DIR, REPO, child_env, free_port


def default_sigint():
    """In the child before exec: SIGINT handled by default and not blocked. A suite started in
    the background by a shell without job control inherits SIGINT ignored, and bash cannot
    trap a signal that was ignored when it started, so run.sh would never see the Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_run_script_serves_jobs_and_stops_on_ctrl_c(db, tmp_path):
    port = free_port()
    log = tmp_path / "run.log"
    env = child_env({"DATABASE_URL": db.url, "PORT": port, "FLOWSTATE_AGENTS": "code_analyzer=1,monitoring=1"})
    with open(log, "wb") as out:
        # SIGINT back to its default (see default_sigint): the script must see Ctrl-C however
        # the suite itself was started.
        proc = subprocess.Popen(["bash", str(REPO / "deploy" / "run.sh"), str(BIN_DIR)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=default_sigint)
    try:
        key = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and key is None:
            m = re.search(r"Admin key\s+(fsk_\S+)", log.read_text(errors="replace"))
            key = m.group(1) if m else None
            assert proc.poll() is None, f"run.sh exited {proc.returncode}:\n{log.read_text()}"
            time.sleep(0.1)
        assert key, f"no admin key printed:\n{log.read_text()}"
        assert f"http://127.0.0.1:{port}" in log.read_text()

        s = requests.Session()
        s.trust_env = False
        s.headers["Authorization"] = f"Bearer {key}"
        r = s.post(f"http://127.0.0.1:{port}/api/jobs", json={"targetAgent": "code_analyzer", "payload": {"taskType": "ping"}})
        assert r.status_code == 201, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 60
        job = None
        while time.monotonic() < deadline:
            job = s.get(f"http://127.0.0.1:{port}/api/jobs/{job_id}").json()
            if job["status"] == "completed":
                break
            time.sleep(0.1)
        assert job["status"] == "completed", f"{job}\n{log.read_text()}"
        assert job["result"]["pong"] is True and job["result"]["jobId"] == job_id, job

        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert proc.wait(timeout=60) == 0, log.read_text()
        text = log.read_text()
        assert "stopped the workers and the gateway" in text, text
        assert "AddressSanitizer" not in text and "LeakSanitizer" not in text, text
        r = db.one("SELECT count(*) AS n FROM job_queue WHERE status = 'running'")
        assert r["n"] == 0
        states = {a["agent_name"]: a["state"]["status"] for a in db.query("SELECT agent_name, state FROM agent_states")}
        assert states.get("code_analyzer") == "offline", states
    finally:
        if proc.poll() is None:
            # run.sh's trap stops the gateway and the pool it started in their own sessions;
            # SIGKILL would leave them running.
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
