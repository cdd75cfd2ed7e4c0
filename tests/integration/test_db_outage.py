"""PostgreSQL going away and coming back: /ready and writes answer 503 `unavailable` with
Retry-After, /health stays 200 with database "down", and the gateway recovers on its own.
Uses its own cluster so stopping it does not disturb the other tests."""

import time

import pytest

from fsutil import Cluster, expect, expect_error, run_cli

JOB = {"targetAgent": "code_analyzer", "payload": {"type": "ai_task"}}


@pytest.fixture
def own_cluster(gateway_bin):
    c = Cluster.create(prefix="fs-pg-outage-")
    try:
        url = c.url  # the "flowstate" database pgctl.sh created
        p = run_cli(["--migrate"], {"DATABASE_URL": url})
        assert p.returncode == 0, f"--migrate failed: {p.stderr}"
        yield c
    finally:
        c.destroy()


def poll(fn, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = fn()
        if ok:
            return last
        time.sleep(interval)
    return last


def retry_after_ok(r):
    v = r.headers.get("Retry-After", "")
    assert v.isdigit() and int(v) >= 1, f"Retry-After {v!r}"


def test_db_outage_and_recovery(own_cluster, gateway_factory):
    gw = gateway_factory(db_url=own_cluster.url)
    expect(gw.post("/api/jobs", json=JOB), 201)
    assert expect(gw.get("/ready", auth=None), 200) == {"status": "ready"}
    url_before = own_cluster.url

    own_cluster.stop()

    t0 = time.monotonic()
    r = gw.get("/ready", auth=None, timeout=20)
    assert time.monotonic() - t0 < 15, "/ready hung while the database was down"
    expect_error(r, 503, "unavailable")
    retry_after_ok(r)

    t0 = time.monotonic()
    r = gw.post("/api/jobs", json=JOB, timeout=40)
    assert time.monotonic() - t0 < 35, "POST /api/jobs hung while the database was down"
    expect_error(r, 503, "unavailable")
    retry_after_ok(r)

    # reads fail the same way (the key is cached, so this is not a 401)
    r = gw.get("/api/jobs", timeout=40)
    expect_error(r, 503, "unavailable")

    def health_down():
        r = gw.get("/health", auth=None)
        return r.status_code == 200 and r.json().get("database") == "down", r

    r = poll(health_down, 5)
    body = expect(r, 200)
    assert body["status"] == "ok" and body["database"] == "down", body

    # PostgreSQL comes back on the same port (pgctl.sh remembers it).
    assert own_cluster.start() == url_before

    def ready():
        r = gw.get("/ready", auth=None)
        return r.status_code == 200, r

    r = poll(ready, 15, 0.25)
    assert r.status_code == 200, f"/ready still {r.status_code} {r.text} 15 s after PostgreSQL came back"
    assert r.json() == {"status": "ready"}
    job = expect(gw.post("/api/jobs", json=JOB), 201)
    assert expect(gw.get(f"/api/jobs/{job['id']}"), 200)["id"] == job["id"]
    r = poll(lambda: (gw.get("/health", auth=None).json().get("database") == "up", None), 5)
    assert gw.get("/health", auth=None).json()["database"] == "up"
    jobs = expect(gw.get("/api/jobs"), 200)["jobs"]
    assert len(jobs) == 2, "the jobs written before and after the outage are both there"
