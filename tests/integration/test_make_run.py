"""`make run`'s script (deploy/run.sh) against an existing database: it migrates, starts the
gateway and the worker pool, prints the URL and an admin key, the pool's workers run a ping
job end to end, the banner's curl example reads the job it created, Ctrl-C (SIGINT to the
script) stops everything with exit code 0, and nothing is written under var/. With its port
taken it stops at once, saying which port and what to do."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from fsutil import BIN_DIR, REPO, child_env, free_port


def default_sigint():
    """In the child before exec: SIGINT handled by default and not blocked. A suite started in
    the background by a shell without job control inherits SIGINT ignored, and bash cannot
    trap a signal that was ignored when it started, so run.sh would never see the Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def clone_deploy(tmp_path):
    """deploy/ copied into a directory standing for a fresh clone: run.sh works under its own
    parent directory, so what it writes there (var/) is seen, and the repository stays clean."""
    root = tmp_path / "clone"
    shutil.copytree(REPO / "deploy", root / "deploy")
    return root


def banner_example(text):
    """The shell lines of the banner's "Try:" block, ready for bash."""
    m = re.search(r"\n  Try:\n(.*?)\n\s*Ctrl-C stops everything", text, re.S)
    assert m, text
    return textwrap.dedent(m.group(1))


def test_run_script_serves_jobs_and_stops_on_ctrl_c(db, tmp_path):
    port = free_port()
    log = tmp_path / "run.log"
    root = clone_deploy(tmp_path)
    env = child_env({"DATABASE_URL": db.url, "PORT": port, "FLOWSTATE_AGENTS": "code_analyzer=1,monitoring=1"})
    with open(log, "wb") as out:
        # SIGINT back to its default (see default_sigint): the script must see Ctrl-C however
        # the suite itself was started.
        proc = subprocess.Popen(["bash", str(root / "deploy" / "run.sh"), str(BIN_DIR)], env=env,
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

        # The banner's example reads the job its own POST created, not job 1 (or any other).
        out = subprocess.run(["bash", "-c", banner_example(log.read_text())], env=env, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        shown = json.loads(out.stdout)
        newest = db.one("SELECT max(id) AS id FROM job_queue")["id"]
        assert newest != job_id and shown["id"] == newest, (shown, newest)

        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert proc.wait(timeout=60) == 0, log.read_text()
        text = log.read_text()
        assert "stopped the workers and the gateway" in text, text
        assert "AddressSanitizer" not in text and "LeakSanitizer" not in text, text
        r = db.one("SELECT count(*) AS n FROM job_queue WHERE status = 'running'")
        assert r["n"] == 0
        states = {a["agent_name"]: a["state"]["status"] for a in db.query("SELECT agent_name, state FROM agent_states")}
        assert states.get("code_analyzer") == "offline", states
        # With DATABASE_URL there is no private cluster or saved key, so no var/ either.
        assert not (root / "var").exists()
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


class _Healthy(BaseHTTPRequestHandler):
    """Another server on the port that answers every GET with 200, as an earlier `make run`'s
    gateway answers /health."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("holder", ["silent", "http"])
def test_run_script_stops_at_once_when_the_port_is_taken(tmp_path, holder):
    """A fresh clone (no DATABASE_URL, no var/) whose port is held by a program that accepts and
    never answers, or by one that answers /health: run.sh exits non-zero naming the port and
    the way out, before it starts a database (no var/ appears)."""
    root = clone_deploy(tmp_path)
    if holder == "silent":
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)  # never accepted: a connection waits in the backlog for good
        port = server.getsockname()[1]
    else:
        server = HTTPServer(("127.0.0.1", 0), _Healthy)
        port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = child_env({"PORT": port})
        # The timeout only turns a hang (the bug) into a failure; no duration is asserted.
        out = subprocess.run(["bash", str(root / "deploy" / "run.sh"), str(BIN_DIR)], env=env,
                             capture_output=True, text=True, timeout=120)
    finally:
        if holder == "http":
            server.shutdown()
            server.server_close()
        else:
            server.close()
    assert out.returncode != 0, out.stdout + out.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in out.stderr, out.stderr
    assert "PORT=" in out.stderr and "Stop that process" in out.stderr, out.stderr
    assert not (root / "var").exists()
