"""The monitoring agent end to end: a real monitoring worker runs health_check,
check_metrics and send_alert jobs created through the gateway. send_alert posts to small
webhook receivers on 127.0.0.1 (one fails twice then accepts, one always answers 500); the
received JSON, the retry counts and the stored alert event are checked. Also POST
/api/events, which stores the alerts."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from fsutil import expect, insert_done


class Receiver:
    """A webhook receiver: answers the first `fail_first` POSTs with 500 (all of them when
    fail_first is None), then 200; records every body it got."""

    def __init__(self, fail_first=0):
        self.bodies = []
        self.lock = threading.Lock()
        recv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"null")
                with recv.lock:
                    recv.bodies.append({"path": self.path, "body": body, "type": self.headers.get("Content-Type")})
                    count = len(recv.bodies)
                fail = fail_first is None or count <= fail_first
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class DroppingProxy:
    """Forwards to a gateway, but closes the connection without an answer on the first
    `drops` requests for `path` (the worker sees no answer: the gateway is unreachable)."""

    def __init__(self, target, path, drops):
        self.dropped = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                if self.path == path and proxy.dropped < drops:
                    proxy.dropped += 1
                    self.close_connection = True
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                r = requests.request(self.command, target + self.path, data=body, headers=headers, timeout=60)
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(fail_first=0):
        r = Receiver(fail_first)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def run(stack, task, data, status="completed", max_attempts=3):
    job = stack.create_job("monitoring", {"type": "ai_task", "taskType": task, "data": data}, maxAttempts=max_attempts)
    rows = stack.wait_status([job["id"]], status, 30, f"monitoring {task} {status}")
    return rows[job["id"]]


# --- POST /api/events ---------------------------------------------------------------------

def test_events_route(gateway, db):
    ev = expect(gateway.post("/api/events", json={"type": "alert", "severity": "critical", "agentName": "monitoring",
                                                   "jobId": 7, "data": {"title": "disk"}}), 201)
    assert ev["type"] == "alert" and ev["severity"] == "critical" and ev["agentName"] == "monitoring", ev
    assert ev["jobId"] == 7 and ev["data"] == {"title": "disk"} and ev["createdAt"], ev
    row = db.one("SELECT * FROM events WHERE id = %s", (ev["id"],))
    assert row["type"] == "alert" and row["job_id"] == 7 and row["data"] == {"title": "disk"}, row
    minimal = expect(gateway.post("/api/events", json={"type": "note"}), 201)
    assert minimal["severity"] == "info" and minimal["data"] == {} and minimal["agentName"] is None, minimal

    for body, field in [({}, "type"), ({"type": ""}, "type"), ({"type": "a b"}, "type"), ({"type": 5}, "type"),
                        ({"type": "x", "severity": "urgent"}, "severity"),
                        ({"type": "x", "agentName": "bad name"}, "agentName"),
                        ({"type": "x", "jobId": 0}, "jobId"), ({"type": "x", "jobId": "7"}, "jobId"),
                        ({"type": "x", "data": [1]}, "data")]:
        r = gateway.post("/api/events", json=body)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, (body, r.text)
    viewer = gateway.create_key("viewer")
    assert gateway.post("/api/events", json={"type": "x"}, auth=viewer).status_code == 403


# --- health_check -------------------------------------------------------------------------

def test_health_check_reports_problems(stack):
    stack.start_gateway(env={"FLOWSTATE_SWEEP_INTERVAL_MS": "0"})  # keep the expired lease in place
    gw = stack.gateway()
    stack.start_worker("monitoring")
    expect(gw.post("/api/agents/register", json={"agentName": "ghost", "initialState": {
        "status": "active", "lastHeartbeat": "2020-01-01T00:00:00Z"}}), 201)
    expect(gw.post("/api/agents/register", json={"agentName": "busy", "initialState": {"status": "offline"}}), 201)
    stack.insert_jobs(3, agent="busy")
    stack.db.execute("INSERT INTO job_queue (target_agent, payload, status, attempts, started_at, locked_by,"
                     " locked_until) VALUES ('busy', '{\"taskType\":\"ping\"}', 'running', 1, now(), 'h:1',"
                     " now() - interval '1 minute')")
    row = run(stack, "health_check", {"maxQueueDepth": 2})
    res = row["result"]
    kinds = sorted((p["kind"], p.get("agent")) for p in res["problems"])
    assert kinds == [("expired_leases", None), ("queue_depth", "busy"), ("stale_agent", "ghost")], res["problems"]
    depth = next(p for p in res["problems"] if p["kind"] == "queue_depth")
    assert depth["pending"] == 3 and depth["threshold"] == 2, depth
    assert res["status"] == "degraded" and res["healthy"] is False and res["maxQueueDepth"] == 2, res
    assert res["report"]["queue"]["expired_leases"] == 1 and res["report"]["stale_agents"] == ["ghost"], res
    assert "3 problems" in res["summary"], res["summary"]

    # the default depth limit (1000) does not flag 3 pending jobs
    res = run(stack, "health_check", {})["result"]
    assert sorted(p["kind"] for p in res["problems"]) == ["expired_leases", "stale_agent"], res["problems"]
    assert res["maxQueueDepth"] == 1000, res


@pytest.fixture
def proxies():
    """DroppingProxy factory; requested before `stack`, so the proxies close after the
    workers that talk through them have stopped."""
    made = []

    def make(target, path, drops):
        p = DroppingProxy(target, path, drops)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def test_health_check_gateway_unreachable_is_retried(proxies, stack):
    proxy = proxies(stack.gateway().url, "/system/health-check", drops=1)
    stack.start_worker("monitoring", url=proxy.url)
    row = run(stack, "health_check", {})
    assert proxy.dropped == 1
    assert row["attempts"] == 2 and row["result"]["report"]["database"] == "up", row  # retried, then fine
    [retry] = stack.events(row["id"], "job.retry")
    assert "cannot reach the gateway" in json.dumps(retry["data"]), retry


def test_health_check_bad_input(stack):
    stack.start_worker("monitoring")
    row = run(stack, "health_check", {"maxQueueDepth": -1}, status="failed")
    assert row["attempts"] == 1 and "data.maxQueueDepth" in row["last_error"], row


# --- check_metrics ------------------------------------------------------------------------

def test_check_metrics_alerts(stack):
    stack.start_worker("monitoring")
    for run_ms in (100, 200, 300):
        insert_done(stack.db, "dp", "validate_data", "completed", 1000, run_ms)
    insert_done(stack.db, "dp", "validate_data", "failed", 1000, 50, "row 12 is bad")
    insert_done(stack.db, "dp", "transform_data", "completed", 1000, 5000)
    row = run(stack, "check_metrics", {"window": 3600, "agent": "dp", "maxErrorRate": 0.2, "maxP99Ms": 1000})
    res = row["result"]
    assert res["window"] == 3600 and res["agent"] == "dp", res
    assert res["total"] == 5 and res["finished"] == 5 and res["errorRate"] == 0.2, res
    assert res["throughputPerMin"] == round(5 * 60 / 3600, 4), res
    assert res["latencyMs"]["queueWait"]["p50"] == 1000, res
    assert res["latencyMs"]["runTime"] == {"p50": 250, "p90": 3590, "p99": 4859}, res  # 100,200,300,5000
    assert res["thresholds"] == {"maxErrorRate": 0.2, "maxP99Ms": 1000}, res
    got = sorted((a["scope"], a["metric"]) for a in res["alerts"])
    # overall 0.2 is not above 0.2; validate_data is 0.25; p99: overall 4859, transform_data 5000
    assert got == [("dp/transform_data", "p99RunTimeMs"), ("dp/validate_data", "errorRate"),
                   ("overall", "p99RunTimeMs")], res["alerts"]
    rate = next(a for a in res["alerts"] if a["metric"] == "errorRate")
    assert rate["value"] == 0.25 and rate["threshold"] == 0.2 and rate["severity"] == "warning", rate
    assert "1 alert" not in res["summary"] and "3 alerts" in res["summary"], res["summary"]

    quiet = run(stack, "check_metrics", {"agent": "dp"})["result"]
    assert quiet["alerts"] == [] and quiet["thresholds"] == {} and quiet["window"] == 3600, quiet

    bad = run(stack, "check_metrics", {"maxErrorRate": 2}, status="failed")
    assert bad["attempts"] == 1 and "data.maxErrorRate" in bad["last_error"], bad


# --- send_alert ---------------------------------------------------------------------------

ALERT = {"title": "Queue backing up", "message": "dp has 5000 pending jobs", "severity": "error",
         "details": {"pending": 5000}}


def test_send_alert_webhooks_with_retries(stack, receivers):
    flaky, broken = receivers(fail_first=2), receivers(fail_first=None)
    stack.start_worker("monitoring", env={"FLOWSTATE_ALERT_WEBHOOKS": f"{flaky.url}, {broken.url}"})
    row = run(stack, "send_alert", ALERT)
    res = row["result"]
    assert row["attempts"] == 1, row
    hooks = {h["url"]: h for h in res["webhooks"]}
    assert hooks[flaky.url] == {"url": flaky.url, "ok": True, "status": 200, "attempts": 3}, hooks
    assert hooks[broken.url] == {"url": broken.url, "ok": False, "status": 500, "attempts": 3,
                                 "error": "HTTP 500"}, hooks
    assert res["delivered"] == 1 and res["configured"] == 2 and "note" not in res, res
    assert len(flaky.bodies) == 3 and len(broken.bodies) == 3
    [event] = stack.events(type="alert")
    want = {"type": "alert", "eventId": event["id"], "title": ALERT["title"], "message": ALERT["message"],
            "severity": "error", "details": {"pending": 5000}, "agent": "monitoring", "jobId": row["id"]}
    for got in flaky.bodies + broken.bodies:
        assert got["body"] == want and got["path"] == "/hook" and got["type"] == "application/json", got
    assert res["eventId"] == event["id"] and event["severity"] == "error" and event["job_id"] == row["id"], event
    assert event["agent_name"] == "monitoring" and event["data"]["title"] == ALERT["title"], event
    assert event["data"]["details"] == {"pending": 5000}, event


def test_send_alert_no_webhooks(stack):
    stack.start_worker("monitoring")
    res = run(stack, "send_alert", {"title": "t", "message": "m"})["result"]
    assert res["webhooks"] == [] and res["delivered"] == 0 and res["configured"] == 0, res
    assert "FLOWSTATE_ALERT_WEBHOOKS" in res["note"] and res["severity"] == "warning", res
    [event] = stack.events(type="alert")
    assert event["severity"] == "warning" and event["data"]["message"] == "m", event


def test_send_alert_every_webhook_fails_retryably(stack, receivers):
    broken = receivers(fail_first=None)
    stack.start_worker("monitoring", env={"FLOWSTATE_ALERT_WEBHOOKS": broken.url})
    row = run(stack, "send_alert", {"title": "t", "message": "m"}, status="failed", max_attempts=2)
    assert row["attempts"] == 2 and "every webhook failed" in row["last_error"], row
    assert len(broken.bodies) == 6  # 3 tries per attempt


def test_send_alert_bad_input(stack):
    stack.start_worker("monitoring")
    bad = run(stack, "send_alert", {"title": "t", "message": "m", "severity": "urgent"}, status="failed")
    assert bad["attempts"] == 1 and "data.severity" in bad["last_error"], bad
    missing = run(stack, "send_alert", {"message": "m"}, status="failed")
    assert missing["attempts"] == 1 and "data.title" in missing["last_error"], missing
    assert stack.events(type="alert") == []
