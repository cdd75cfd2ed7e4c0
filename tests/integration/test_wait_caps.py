"""Long polls are capped per API key and in total: over a cap a request is answered at once
(429 for a key over its share, 503 when the gateway holds the most it may), with
Retry-After, and changes nothing."""

import threading
import time

from fsutil import expect, expect_error


def hold_waits(gw, key, job_id, n):
    """n GET ?wait=60 long polls from key, each on its own thread; returns (threads, answers)."""
    answers = []

    def wait():
        answers.append(gw.get(f"/api/jobs/{job_id}?wait=60", auth=key, timeout=90))

    threads = [threading.Thread(target=wait) for _ in range(n)]
    for t in threads:
        t.start()
    return threads, answers


def wait_waiters(gw, n, timeout=30):
    """Waits until the gateway holds n long polls (its debug log counts them)."""
    deadline = time.monotonic() + timeout
    while f"waiters={n}\n" not in gw.log_path.read_text():
        assert time.monotonic() < deadline, gw.log_tail()
        time.sleep(0.05)


def test_long_polls_over_a_keys_share_or_the_total_are_refused_at_once(gateway_factory, db):
    gw = gateway_factory(
        env={"FLOWSTATE_WAITERS_MAX": "4", "FLOWSTATE_WAITERS_PER_KEY": "2", "FLOWSTATE_LOG_LEVEL": "debug"}
    )
    job = expect(gw.post("/api/jobs", json={"targetAgent": "code_analyzer", "payload": {}}), 201)
    a, b, c = gw.key, gw.create_key("operator"), gw.create_key("viewer")

    held_a, answers = hold_waits(gw, a, job["id"], 2)
    wait_waiters(gw, 2)
    r = gw.get(f"/api/jobs/{job['id']}?wait=1", auth=a)
    expect_error(r, 429, "too_many_requests")
    assert r.headers["Retry-After"] == "1"
    # A task that would wait is refused before its job is created.
    jobs = db.count("job_queue")
    r = gw.post("/agents/code_analyzer/task", auth=a, json={"context": {"taskType": "analyze"}})
    expect_error(r, 429, "too_many_requests")
    assert db.count("job_queue") == jobs
    # Another key still has its share.
    held_b, answers_b = hold_waits(gw, b, job["id"], 2)
    wait_waiters(gw, 4)
    r = gw.get(f"/api/jobs/{job['id']}?wait=1", auth=c)
    expect_error(r, 503, "unavailable")
    assert "too many long polls" in r.json()["error"]["message"]
    assert r.headers["Retry-After"] == "1"

    # The held polls are answered as usual, and their slots are free again after.
    expect(gw.post(f"/api/jobs/{job['id']}/cancel"), 200)
    for t in held_a + held_b:
        t.join(90)
    assert [r.status_code for r in answers + answers_b] == [200] * 4
    assert all(r.json()["status"] == "cancelled" for r in answers + answers_b)
    expect(gw.get(f"/api/jobs/{job['id']}?wait=5", auth=a), 200)
