"""Job lifecycle over HTTP: timeoutSeconds, complete/fail with fencing (single and batch forms,
backoff, dead letters), cancel, retry, GET ?wait=N long polls (woken by NOTIFY, timeouts,
disconnects, shutdown, missed notifications), the sweeper (expired leases, retention, due
wake-ups) and the NOTIFY each statement sends.

The tests play the worker: they claim jobs straight from SQL with fs_jobs_claim and report
through the gateway's API."""

import datetime as dt
import json
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
import requests

from fsutil import (Cluster, Listener, assert_recent, expect, expect_error, kill_listen_backend,
                    listen_backend_query, parse_ts, run_cli, utcnow)

AGENT = "lifecycle_agent"
WORKER = "test:1"


# --- helpers ------------------------------------------------------------------------------


def create(gw, status=201, **fields):
    body = {"targetAgent": AGENT, "payload": {"n": 1}}
    body.update(fields)
    return expect(gw.post("/api/jobs", json=body), status)


def claim(db, n=1, agent=AGENT, worker=WORKER, lease=30):
    """Claims like a worker does; returns [{id, attempt, lease, payload}]."""
    return db.query("SELECT * FROM fs_jobs_claim(%s, %s, %s, %s)", (agent, n, worker, lease))


def claim_one(db, job_id, **kw):
    rows = claim(db, **kw)
    assert [r["id"] for r in rows] == [job_id], f"claimed {rows}, expected job {job_id}"
    return rows[0]


def row(db, job_id):
    return db.one("SELECT * FROM job_queue WHERE id = %s", (job_id,))


def events(db, job_id, type_=None):
    sql = "SELECT * FROM events WHERE job_id = %s"
    params = [job_id]
    if type_:
        sql += " AND type = %s"
        params.append(type_)
    return db.query(sql + " ORDER BY id", params)


def make_due(db, job_id):
    """Ends a retry backoff at once (the test does not want to sleep through it)."""
    db.execute("UPDATE job_queue SET run_at = now() WHERE id = %s", (job_id,))


def running_job(gw, db, **fields):
    j = create(gw, **fields)
    c = claim_one(db, j["id"])
    assert c["attempt"] == 1
    return j["id"]


def complete(gw, job_id, attempt, result=None, **kw):
    body = {"attempt": attempt}
    if result is not None:
        body["result"] = result
    return gw.post(f"/api/jobs/{job_id}/complete", json=body, **kw)


def fail(gw, job_id, attempt, error="boom", **extra):
    return gw.post(f"/api/jobs/{job_id}/fail", json={"attempt": attempt, "error": error, **extra})


def poll(fn, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = fn()
        if ok:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s; last: {last}")


def snapshot(db):
    """Everything a bad request must leave alone."""
    return db.counts(), db.query("SELECT * FROM job_queue ORDER BY id")


# --- timeoutSeconds -----------------------------------------------------------------------


def test_create_with_timeout_seconds(gateway, db):
    j = create(gateway, timeoutSeconds=1)
    assert j["timeoutSeconds"] == 1
    assert create(gateway, timeoutSeconds=86400)["timeoutSeconds"] == 86400
    assert create(gateway)["timeoutSeconds"] is None
    assert row(db, j["id"])["timeout_seconds"] == 1
    # the job's timeout is its lease, whatever the worker asks for
    c = claim(db, n=1, lease=30)[0]
    assert c["id"] == j["id"] and c["lease"] == 1
    r = row(db, j["id"])
    assert 0.5 < (r["locked_until"] - r["started_at"]).total_seconds() < 1.5


@pytest.mark.parametrize("bad", [0, -1, 86401, 1.5, "10", True, [], {}])
def test_create_bad_timeout_seconds(gateway, db, bad):
    before = db.counts()
    expect_error(gateway.post("/api/jobs", json={"targetAgent": AGENT, "payload": {}, "timeoutSeconds": bad}),
                 400, "invalid_field", "timeoutSeconds")
    assert db.counts() == before


# --- complete -----------------------------------------------------------------------------


def test_complete_applies_once(gateway, db):
    job_id = running_job(gateway, db)
    result = {"answer": 42, "list": [1, "two", None]}
    j = expect(complete(gateway, job_id, 1, result), 200)
    assert j["id"] == job_id and j["status"] == "completed" and j["result"] == result
    assert j["attempts"] == 1 and j["lockedBy"] is None and j["lockedUntil"] is None
    assert j["lastError"] is None
    assert_recent(j["processedAt"])
    r = row(db, job_id)
    assert r["status"] == "completed" and r["result"] == result and r["processed_at"] is not None
    assert events(db, job_id) == [], "a routine completion must not write an event"
    before = snapshot(db)

    # the same report again, and a late one for another result: 409, nothing changes
    err = expect_error(complete(gateway, job_id, 1, {"answer": 0}), 409, "conflict")
    assert err["message"] == f"job {job_id} is completed (attempt 1); this report is for attempt 1"
    err = expect_error(complete(gateway, job_id, 2, {"answer": 0}), 409, "conflict")
    assert "completed" in err["message"] and "attempt 2" in err["message"]
    expect_error(fail(gateway, job_id, 1), 409, "conflict")
    assert snapshot(db) == before
    assert expect(gateway.get(f"/api/jobs/{job_id}"), 200) == j


def test_complete_result_any_json_value(gateway, db):
    for value in ["text", 12.5, [1, 2], None, True, {"nested": {"x": []}}]:
        job_id = running_job(gateway, db)
        j = expect(gateway.post(f"/api/jobs/{job_id}/complete", json={"attempt": 1, "result": value}), 200)
        assert j["status"] == "completed" and j["result"] == value
    # without a result at all
    job_id = running_job(gateway, db)
    j = expect(gateway.post(f"/api/jobs/{job_id}/complete", json={"attempt": 1}), 200)
    assert j["status"] == "completed" and j["result"] is None


def test_complete_fenced_by_attempt(gateway, db):
    job_id = running_job(gateway, db)
    # the wrong attempt for a running job
    err = expect_error(complete(gateway, job_id, 2), 409, "conflict")
    assert err["message"] == f"job {job_id} is running (attempt 1); this report is for attempt 2"
    # the worker loses the job (its process died); another claim makes attempt 2
    assert db.scalar("SELECT fs_jobs_release_worker(%s, 'worker died')", (WORKER,)) == 1
    c = claim_one(db, job_id, worker="test:2")
    assert c["attempt"] == 2
    before = snapshot(db)
    err = expect_error(complete(gateway, job_id, 1, {"late": True}), 409, "conflict")
    assert err["message"] == f"job {job_id} is running (attempt 2); this report is for attempt 1"
    assert snapshot(db) == before
    j = expect(complete(gateway, job_id, 2, {"fresh": True}), 200)
    assert j["result"] == {"fresh": True} and j["attempts"] == 2


def test_complete_pending_and_missing(gateway, db):
    j = create(gateway)
    before = snapshot(db)
    err = expect_error(complete(gateway, j["id"], 1), 409, "conflict")
    assert err["message"] == f"job {j['id']} is pending (attempt 0); this report is for attempt 1"
    err = expect_error(complete(gateway, 999999, 1), 404, "not_found")
    assert "999999" in err["message"]
    expect_error(fail(gateway, 999999, 1), 404, "not_found")
    assert snapshot(db) == before


BAD_COMPLETE = [
    ({}, "attempt"),
    ({"attempt": None}, "attempt"),
    ({"attempt": "1"}, "attempt"),
    ({"attempt": 1.5}, "attempt"),
    ({"attempt": 0}, "attempt"),
    ({"attempt": -1}, "attempt"),
    ({"attempt": 2147483648}, "attempt"),
    ({"attempt": True}, "attempt"),
    ({"attempt": [1]}, "attempt"),
]


@pytest.mark.parametrize("body,field", BAD_COMPLETE)
def test_complete_validation(gateway, db, body, field):
    job_id = running_job(gateway, db)
    before = snapshot(db)
    expect_error(gateway.post(f"/api/jobs/{job_id}/complete", json=body), 400, "invalid_field", field)
    assert snapshot(db) == before


@pytest.mark.parametrize("path", ["/api/jobs/abc/complete", "/api/jobs/0/complete", "/api/jobs/-3/fail",
                                  "/api/jobs/1.5/fail", "/api/jobs/99999999999999999999/complete",
                                  "/api/jobs/x/cancel", "/api/jobs/0/retry"])
def test_bad_id_in_path(gateway, db, path):
    running_job(gateway, db)
    before = snapshot(db)
    expect_error(gateway.post(path, json={"attempt": 1, "error": "e"}), 400, "invalid_field", ("id",))
    assert snapshot(db) == before


def test_outcome_body_errors(gateway, db):
    job_id = running_job(gateway, db)
    before = snapshot(db)
    for path in (f"/api/jobs/{job_id}/complete", f"/api/jobs/{job_id}/fail", "/api/jobs/complete", "/api/jobs/fail"):
        expect_error(gateway.post(path, data="{nope", headers={"Content-Type": "application/json"}),
                     400, "invalid_json")
        expect_error(gateway.post(path, data="[1]", headers={"Content-Type": "application/json"}),
                     400, "invalid_json")
        expect_error(gateway.post(path, data='{"attempt":1}', headers={"Content-Type": "text/plain"}),
                     415, "unsupported_media_type")
        expect_error(gateway.post(path, data="", headers={"Content-Type": "application/json"}),
                     400, "invalid_json")
    assert snapshot(db) == before


def test_outcome_roles(gateway, db):
    job_id = running_job(gateway, db)
    viewer = gateway.create_key("viewer")
    before = snapshot(db)
    for path in (f"/api/jobs/{job_id}/complete", f"/api/jobs/{job_id}/fail", "/api/jobs/complete",
                 "/api/jobs/fail", f"/api/jobs/{job_id}/cancel", f"/api/jobs/{job_id}/retry"):
        expect_error(gateway.post(path, json={"attempt": 1, "error": "x"}, auth=viewer), 403, "forbidden")
        expect_error(gateway.post(path, json={"attempt": 1, "error": "x"}, auth=None), 401, "unauthorized")
    assert snapshot(db) == before
    agent = gateway.create_key("agent")
    expect(gateway.post(f"/api/jobs/{job_id}/complete", json={"attempt": 1}, auth=agent), 200)


# --- fail ---------------------------------------------------------------------------------


def retry_delay(db, job_id, attempt):
    """The backoff chosen for a failed attempt: the job.retry event's runAt minus the time
    of the statement that wrote it (both from the same transaction)."""
    ev = [e for e in events(db, job_id, "job.retry") if e["data"].get("attempt") == attempt]
    assert len(ev) == 1, f"job.retry events for attempt {attempt}: {ev}"
    return (parse_ts(ev[0]["data"]["runAt"]) - ev[0]["created_at"]).total_seconds()


def test_fail_retries_with_growing_backoff_then_dead(gateway_factory, db):
    base = 1000
    gw = gateway_factory(env={"FLOWSTATE_RETRY_BASE_MS": base, "FLOWSTATE_RETRY_MAX_MS": 600000})
    job_id = create(gw, maxAttempts=4)["id"]
    delays = []
    for attempt in (1, 2, 3):
        if attempt > 1:
            make_due(db, job_id)
        assert claim_one(db, job_id)["attempt"] == attempt
        t0 = utcnow()
        j = expect(fail(gw, job_id, attempt, error=f"failure {attempt}", result={"partial": attempt}), 200)
        assert j["status"] == "pending" and j["attempts"] == attempt
        assert j["lastError"] == f"failure {attempt}" and j["result"] == {"partial": attempt}
        assert j["lockedBy"] is None and j["processedAt"] is None
        assert parse_ts(j["runAt"]) > t0, "a retry must wait out its backoff"
        # not claimable before runAt
        assert claim(db) == []
        d = retry_delay(db, job_id, attempt)
        full = base / 1000 * 2 ** (attempt - 1)
        assert full * 0.5 - 0.01 <= d <= full + 0.01, f"attempt {attempt}: delay {d}s outside [{full / 2}, {full}]"
        delays.append(d)
        ev = events(db, job_id, "job.retry")[-1]
        assert ev["severity"] == "warning" and ev["data"]["error"] == f"failure {attempt}"
        assert ev["data"]["from"] == "running" and ev["data"]["worker"] == WORKER
    assert delays[0] < delays[2], f"backoff did not grow: {delays}"

    make_due(db, job_id)
    assert claim_one(db, job_id)["attempt"] == 4
    j = expect(fail(gw, job_id, 4, error="last straw"), 200)
    assert j["status"] == "failed" and j["attempts"] == 4 and j["lastError"] == "last straw"
    assert_recent(j["processedAt"])
    dead = events(db, job_id, "job.dead")
    assert len(dead) == 1 and dead[0]["severity"] == "error" and dead[0]["data"]["error"] == "last straw"
    assert len(events(db, job_id, "job.retry")) == 3
    before = snapshot(db)
    expect_error(fail(gw, job_id, 4), 409, "conflict")
    assert snapshot(db) == before


def test_backoff_capped(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_RETRY_BASE_MS": 1000, "FLOWSTATE_RETRY_MAX_MS": 1500})
    job_id = create(gw, maxAttempts=5)["id"]
    for attempt in (1, 2, 3):
        if attempt > 1:
            make_due(db, job_id)
        claim_one(db, job_id)
        expect(fail(gw, job_id, attempt), 200)
        d = retry_delay(db, job_id, attempt)
        assert d <= 1.5 + 0.01, f"attempt {attempt}: delay {d}s over the 1.5 s cap"


def test_fail_not_retryable(gateway, db):
    job_id = create(gateway, maxAttempts=5)["id"]
    claim_one(db, job_id)
    j = expect(fail(gateway, job_id, 1, error="bad input", retryable=False), 200)
    assert j["status"] == "failed" and j["attempts"] == 1 and j["maxAttempts"] == 5
    assert len(events(db, job_id, "job.dead")) == 1 and events(db, job_id, "job.retry") == []
    # retryable true explicitly behaves like the default
    job2 = running_job(gateway, db)
    assert expect(fail(gateway, job2, 1, retryable=True), 200)["status"] == "pending"


def test_fail_keeps_result_unless_given(gateway, db):
    job_id = create(gateway, maxAttempts=3)["id"]
    claim_one(db, job_id)
    assert expect(fail(gateway, job_id, 1, result={"step": 1}), 200)["result"] == {"step": 1}
    make_due(db, job_id)
    claim_one(db, job_id)
    assert expect(fail(gateway, job_id, 2), 200)["result"] == {"step": 1}


def test_fail_of_cancel_requested_job_is_cancelled(gateway, db):
    job_id = running_job(gateway, db, maxAttempts=5)
    assert expect(gateway.post(f"/api/jobs/{job_id}/cancel"), 202)["cancelRequested"] is True
    j = expect(fail(gateway, job_id, 1, error="interrupted"), 200)
    assert j["status"] == "cancelled" and j["lastError"] == "interrupted"
    assert len(events(db, job_id, "job.cancelled")) == 1


BAD_FAIL = [
    ({"attempt": 1}, "error"),
    ({"attempt": 1, "error": None}, "error"),
    ({"attempt": 1, "error": ""}, "error"),
    ({"attempt": 1, "error": 5}, "error"),
    ({"attempt": 1, "error": ["x"]}, "error"),
    ({"attempt": 1, "error": "x" * 10001}, "error"),
    ({"attempt": 1, "error": "é" * 10001}, "error"),
    ({"attempt": 1, "error": "x", "retryable": "yes"}, "retryable"),
    ({"attempt": 1, "error": "x", "retryable": 1}, "retryable"),
    ({"error": "x"}, "attempt"),
    ({"attempt": "1", "error": "x"}, "attempt"),
    ({"attempt": 0, "error": "x"}, "attempt"),
]


@pytest.mark.parametrize("body,field", BAD_FAIL)
def test_fail_validation(gateway, db, body, field):
    job_id = running_job(gateway, db)
    before = snapshot(db)
    expect_error(gateway.post(f"/api/jobs/{job_id}/fail", json=body), 400, "invalid_field", field)
    assert snapshot(db) == before


def test_fail_error_length_counts_characters(gateway, db):
    job_id = running_job(gateway, db)
    text = "é" * 10000  # 20000 bytes, 10000 characters
    j = expect(fail(gateway, job_id, 1, error=text), 200)
    assert j["lastError"] == text


# --- batch forms --------------------------------------------------------------------------


def send_batch(gw, path, body, route):
    """Posts a batch down the plain path (as workers write it) or the general one (every key
    "id" escaped, so the scan leaves it to the parser)."""
    text = json.dumps(body, ensure_ascii=False)
    return post_text(gw, path, escaped_key(text, every=True) if route == "general" else text)


# The column form of fs_jobs_complete returns rows only for the reports it did not apply; the
# gateway fills in the others. Both routes must answer every report, in request order.
@pytest.mark.parametrize("route", ["plain", "general"])
def test_batch_complete_mixed_outcomes_in_order(gateway, db, route):
    a = running_job(gateway, db)
    b = running_job(gateway, db)
    expect(complete(gateway, b, 1), 200)
    stale = running_job(gateway, db)
    c = running_job(gateway, db)
    body = {"jobs": [
        {"id": c, "attempt": 1, "result": {"c": True}},
        {"id": b, "attempt": 1, "result": {"again": True}},
        {"id": 999999, "attempt": 1},
        {"id": stale, "attempt": 3},
        {"id": a, "attempt": 1, "result": [1, 2]},
    ]}
    before_b = row(db, b)
    before_stale = row(db, stale)
    res = expect(send_batch(gateway, "/api/jobs/complete", body, route), 200)
    assert list(res) == ["results"]
    r = res["results"]
    assert [x["id"] for x in r] == [c, b, 999999, stale, a]
    assert r[0] == {"id": c, "status": "completed"}
    assert r[1]["error"]["code"] == "conflict" and "status" not in r[1]
    assert r[1]["error"]["message"] == f"job {b} is completed (attempt 1); this report is for attempt 1"
    assert r[2] == {"id": 999999, "error": {"code": "not_found", "message": "no job 999999"}}
    assert r[3]["error"] == {"code": "conflict",
                             "message": f"job {stale} is running (attempt 1); this report is for attempt 3"}
    assert r[4] == {"id": a, "status": "completed"}
    assert row(db, a)["result"] == [1, 2] and row(db, c)["result"] == {"c": True}
    assert row(db, b) == before_b and row(db, stale) == before_stale


@pytest.mark.parametrize("route", ["plain", "general"])
def test_batch_fail_mixed_outcomes_in_order(gateway_factory, db, route):
    gw = gateway_factory(env={"FLOWSTATE_RETRY_BASE_MS": 60000})
    retry = running_job(gw, db, maxAttempts=3)
    dead = running_job(gw, db, maxAttempts=1)
    final = running_job(gw, db, maxAttempts=3)
    done = running_job(gw, db)
    expect(complete(gw, done, 1), 200)
    body = {"jobs": [
        {"id": retry, "attempt": 1, "error": "try again"},
        {"id": dead, "attempt": 1, "error": "no attempts left", "retryable": True},
        {"id": final, "attempt": 1, "error": "hopeless", "retryable": False, "result": {"why": "x"}},
        {"id": done, "attempt": 1, "error": "late"},
        {"id": 424242, "attempt": 1, "error": "ghost"},
    ]}
    r = expect(send_batch(gw, "/api/jobs/fail", body, route), 200)["results"]
    assert r == [
        {"id": retry, "status": "pending"},
        {"id": dead, "status": "failed"},
        {"id": final, "status": "failed"},
        {"id": done, "error": {"code": "conflict",
                               "message": f"job {done} is completed (attempt 1); this report is for attempt 1"}},
        {"id": 424242, "error": {"code": "not_found", "message": "no job 424242"}},
    ]
    rr = row(db, retry)
    assert rr["status"] == "pending" and rr["last_error"] == "try again"
    assert (rr["run_at"] - utcnow()).total_seconds() > 20, "base 60 s: the retry must be far out"
    assert row(db, final)["result"] == {"why": "x"}
    assert row(db, done)["last_error"] is None
    assert len(events(db, retry, "job.retry")) == 1
    assert len(events(db, dead, "job.dead")) == 1 and len(events(db, final, "job.dead")) == 1


@pytest.mark.parametrize("route", ["plain", "general"])
def test_batch_of_10000(gateway, db, route):
    ids = [running_job(gateway, db) for _ in range(3)]
    jobs = [{"id": 10_000_000 + i, "attempt": 1} for i in range(9997)] + [{"id": i, "attempt": 1} for i in ids]
    r = expect(send_batch(gateway, "/api/jobs/complete", {"jobs": jobs}, route), 200)["results"]
    assert len(r) == 10000
    assert all(x["error"]["code"] == "not_found" for x in r[:9997])
    assert r[9997:] == [{"id": i, "status": "completed"} for i in ids]


# The answer walks the reports and the statement's rows together. A statement that skipped a
# fail report (fail answers every report) or returned a row for no report is an internal
# error, never a short answer. The test database gets a broken column form of the function.
BROKEN_OUTCOMES = {
    "complete": ("fs_jobs_complete(ids bigint[], attempts_in int[], results jsonb, with_job bool)",
                 "SELECT 7, ids[1], 'not_found', NULL::text, NULL::json, NULL::int, 1"),
    "fail": ("fs_jobs_fail(ids bigint[], attempts_in int[], results jsonb, errors jsonb, retryable bool[],"
             " with_job bool, base_ms int, cap_ms int)",
             "SELECT 0, ids[1], 'ok', 'pending'::text, NULL::json, 1, 1"),
}


@pytest.mark.parametrize("kind", ["complete", "fail"])
def test_batch_answer_refuses_rows_that_do_not_match_the_reports(gateway_factory, db, kind):
    gw = gateway_factory(env={"FLOWSTATE_LOG_LEVEL": "warn"})
    signature, rows = BROKEN_OUTCOMES[kind]
    db.execute(f"CREATE OR REPLACE FUNCTION {signature} RETURNS TABLE (i int, id bigint, outcome text,"
               f" status text, job json, attempts int, reported int) LANGUAGE sql AS $$ {rows} $$")
    a, b = running_job(gw, db), running_job(gw, db)
    body = {"jobs": [{"id": a, "attempt": 1, "error": "x"}, {"id": b, "attempt": 1, "error": "y"}]}
    err = expect_error(send_batch(gw, f"/api/jobs/{kind}", body, "plain"), 500, "internal")
    assert "request id" in err["message"], err
    assert "outcome statement returned unexpected rows" in gw.log_tail()


BAD_BATCH = [
    ({}, "jobs"),
    ({"jobs": None}, "jobs"),
    ({"jobs": {"id": 1}}, "jobs"),
    ({"jobs": []}, "jobs"),
    ({"jobs": "1,2"}, "jobs"),
    ({"jobs": [{"id": 1, "attempt": 1}, 5]}, "jobs[1]"),
    ({"jobs": [{"id": 1, "attempt": 1}, {"attempt": 1}]}, "jobs[1].id"),
    ({"jobs": [{"id": "1", "attempt": 1}]}, "jobs[0].id"),
    ({"jobs": [{"id": 0, "attempt": 1}]}, "jobs[0].id"),
    ({"jobs": [{"id": -5, "attempt": 1}]}, "jobs[0].id"),
    ({"jobs": [{"id": 1.5, "attempt": 1}]}, "jobs[0].id"),
    ({"jobs": [{"id": 2 ** 53, "attempt": 1}]}, "jobs[0].id"),
    ({"jobs": [{"id": 1}]}, "jobs[0].attempt"),
    ({"jobs": [{"id": 1, "attempt": 1}, {"id": 2, "attempt": "2"}]}, "jobs[1].attempt"),
]


@pytest.mark.parametrize("body,field", BAD_BATCH)
def test_batch_complete_validation(gateway, db, body, field):
    running_job(gateway, db)
    before = snapshot(db)
    expect_error(gateway.post("/api/jobs/complete", json=body), 400, "invalid_field", field)
    assert snapshot(db) == before


@pytest.mark.parametrize("body,field", [
    ({"jobs": [{"id": 1, "attempt": 1, "error": "x"}, {"id": 2, "attempt": 1}]}, "jobs[1].error"),
    ({"jobs": [{"id": 1, "attempt": 1, "error": ""}]}, "jobs[0].error"),
    ({"jobs": [{"id": 1, "attempt": 1, "error": "x" * 10001}]}, "jobs[0].error"),
    ({"jobs": [{"id": 1, "attempt": 1, "error": "x", "retryable": "no"}]}, "jobs[0].retryable"),
    ({"jobs": [{"id": 1, "error": "x"}]}, "jobs[0].attempt"),
])
def test_batch_fail_validation(gateway, db, body, field):
    running_job(gateway, db)
    before = snapshot(db)
    err = expect_error(gateway.post("/api/jobs/fail", json=body), 400, "invalid_field", field)
    assert err["message"].startswith(field), err
    assert snapshot(db) == before


def test_batch_duplicate_ids_and_too_many(gateway, db):
    a = running_job(gateway, db)
    b = running_job(gateway, db)
    before = snapshot(db)
    jobs = [{"id": a, "attempt": 1}, {"id": b, "attempt": 1}, {"id": 77, "attempt": 1}, {"id": a, "attempt": 1},
            {"id": b, "attempt": 1}]
    err = expect_error(gateway.post("/api/jobs/complete", json={"jobs": jobs}), 400, "invalid_field", "jobs[3].id")
    assert "jobs[0].id" in err["message"], err
    err = expect_error(gateway.post("/api/jobs/fail", json={"jobs": [
        {"id": 9, "attempt": 1, "error": "x"}, {"id": 8, "attempt": 1, "error": "x"},
        {"id": 8, "attempt": 2, "error": "x"}]}), 400, "invalid_field", "jobs[2].id")
    assert "jobs[1].id" in err["message"], err
    too_many = [{"id": i + 1, "attempt": 1} for i in range(10001)]
    expect_error(gateway.post("/api/jobs/complete", json={"jobs": too_many}), 400, "invalid_field", "jobs")
    assert snapshot(db) == before


# A batch in the plain shape workers send is rendered by scanning the body (gateway/jobs/reportscan.c);
# any other shape goes through the parser and the field checks. An escaped key ("\u0069d" is
# "id") is one such shape, so it sends the same report down the general path: both must store
# the same thing. Bodies are sent as UTF-8 text, not \u-escaped.
PLAIN_RESULTS = [
    {"text": "é😀 \"quoted\" \\ / \n\t\u0001", "key é": "€"},
    [0, -1, 1.5, -0.25e-3, 1e10, 2.5e-7, 123456789012345, True, False, None, {}, []],
    {"nested": [[[{"a": {"b": [1, {"c": None}]}}]]], "dup": 1},
    "just a string",
    None,
]


def post_text(gw, path, text):
    return gw.post(path, data=text.encode(), headers={"Content-Type": "application/json"})


def escaped_key(item_text, every=False):
    return item_text.replace('"id":', '"\\u0069d":', -1 if every else 1)


@pytest.mark.parametrize("result", PLAIN_RESULTS, ids=["strings", "numbers", "nested", "string", "null"])
def test_batch_complete_plain_and_general_paths_store_the_same(gateway, db, result):
    plain, general = running_job(gateway, db), running_job(gateway, db)
    item = lambda job_id: json.dumps({"id": job_id, "attempt": 1, "result": result}, ensure_ascii=False)
    for job_id, text in ((plain, item(plain)), (general, escaped_key(item(general)))):
        r = expect(post_text(gateway, "/api/jobs/complete", '{"jobs":[%s]}' % text), 200)
        assert r == {"results": [{"id": job_id, "status": "completed"}]}
    assert row(db, plain)["result"] == row(db, general)["result"] == result
    assert row_json(gateway, plain)["result"] == row_json(gateway, general)["result"] == result


def test_batch_fail_plain_and_general_paths_store_the_same(gateway, db):
    error = "bad \"input\" é😀\n\tline 2"
    error += "x" * (10000 - len(error))  # the most characters an error may have
    plain, general = running_job(gateway, db), running_job(gateway, db)
    item = lambda job_id: json.dumps({"id": job_id, "attempt": 1, "error": error, "retryable": False,
                                      "result": {"partial": [1, "é"]}}, ensure_ascii=False)
    for job_id, text in ((plain, item(plain)), (general, escaped_key(item(general)))):
        r = expect(post_text(gateway, "/api/jobs/fail", '{"jobs":[%s]}' % text), 200)
        assert r == {"results": [{"id": job_id, "status": "failed"}]}
    for job_id in (plain, general):
        rr = row(db, job_id)
        assert rr["last_error"] == error and rr["result"] == {"partial": [1, "é"]}
        assert len(events(db, job_id, "job.dead")) == 1


@pytest.mark.parametrize("text,field", [
    # plain-looking bodies the scan leaves to the general path, which must still refuse them
    ('{"jobs":[{"id":%d,"attempt":1,"result":"a\\u0000b"}]}', None),
    ('{"jobs":[{"id":%d,"attempt":1,"result":01}]}', None),
    ('{"jobs":[{"id":%d,"attempt":1,"result":[1,]}]}', None),
    ('{"jobs":[{"id":%d,"attempt":1}]} x', None),
    ('{"jobs":[{"id":%d,"attempt":1,"result":"\\ud800"}]}', None),
    ('{"jobs":[{"id":%d,"attempt":"1","result":1}]}', "jobs[0].attempt"),
    ('{"jobs":[{"id":%d,"attempt":1},{"id":%d,"attempt":1}]}', "jobs[1].id"),
])
def test_batch_complete_unusual_bodies_refused_by_the_general_path(gateway, db, text, field):
    job_id = running_job(gateway, db)
    before = snapshot(db)
    body = text % ((job_id,) * text.count("%d"))
    r = post_text(gateway, "/api/jobs/complete", body)
    if field:
        expect_error(r, 400, "invalid_field", field)
    else:
        expect_error(r, 400, "invalid_json")
    assert snapshot(db) == before


def test_batch_complete_raw_control_character_stored_escaped(gateway, db):
    """A raw tab inside a string is not JSON; the parser the general path uses tolerates it and
    the statement gets it re-escaped. (The scan never passes such text through.)"""
    job_id = running_job(gateway, db)
    expect(post_text(gateway, "/api/jobs/complete",
                     '{"jobs":[{"id":%d,"attempt":1,"result":"a\tb"}]}' % job_id), 200)
    assert row(db, job_id)["result"] == "a\tb"


def test_concurrent_single_reports_group_committed(gateway, db):
    """Many single completes at once, two per job: each job completes exactly once and the
    other report gets 409 (the batcher never puts two reports for one job in a statement)."""
    ids = [create(gateway)["id"] for _ in range(60)]
    claimed = claim(db, n=60)
    assert sorted(c["id"] for c in claimed) == sorted(ids)
    headers = {"Authorization": f"Bearer {gateway.key}"}
    local = threading.local()

    def post(job_id, tag):
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = requests.Session()
            s.trust_env = False
        r = s.post(f"{gateway.url}/api/jobs/{job_id}/complete", headers=headers, timeout=30,
                   json={"attempt": 1, "result": {"tag": tag}})
        return job_id, tag, r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=32) as ex:
        futures = [ex.submit(post, i, t) for i in ids for t in ("a", "b")]
        results = [f.result() for f in futures]
    for job_id in ids:
        mine = [r for r in results if r[0] == job_id]
        codes = sorted(r[2] for r in mine)
        assert codes == [200, 409], f"job {job_id}: {mine}"
        winner = next(r for r in mine if r[2] == 200)
        assert row(db, job_id)["result"] == {"tag": winner[1]}
        assert winner[3]["result"] == {"tag": winner[1]}


# --- cancel -------------------------------------------------------------------------------


def test_cancel_pending(gateway, db):
    j = create(gateway)
    c = expect(gateway.post(f"/api/jobs/{j['id']}/cancel"), 200)
    assert c["status"] == "cancelled" and c["lastError"] == "cancelled" and c["attempts"] == 0
    assert_recent(c["processedAt"])
    assert claim(db) == [], "a cancelled job must not be claimed"
    ev = events(db, j["id"], "job.cancelled")
    assert len(ev) == 1 and ev[0]["data"]["from"] == "pending"
    before = snapshot(db)
    err = expect_error(gateway.post(f"/api/jobs/{j['id']}/cancel"), 409, "conflict")
    assert "cancelled" in err["message"]
    assert snapshot(db) == before


def test_cancel_running_stops_at_renewal(gateway, db):
    job_id = running_job(gateway, db)
    c = expect(gateway.post(f"/api/jobs/{job_id}/cancel", json={}), 202)
    assert c["status"] == "running" and c["cancelRequested"] is True and c["processedAt"] is None
    assert row(db, job_id)["cancel_requested"] is True
    # asking again is harmless
    expect(gateway.post(f"/api/jobs/{job_id}/cancel"), 202)
    renew = db.query("SELECT * FROM fs_jobs_renew(%s, %s, %s, %s)", ([job_id], [1], WORKER, 30))
    assert renew == [{"id": job_id, "state": "cancelled"}]
    r = row(db, job_id)
    assert r["status"] == "cancelled" and r["processed_at"] is not None and r["locked_by"] is None
    assert len(events(db, job_id, "job.cancelled")) == 1
    # the worker's report afterwards is fenced
    expect_error(complete(gateway, job_id, 1), 409, "conflict")


def test_cancel_finished_and_missing(gateway, db):
    done = running_job(gateway, db)
    expect(complete(gateway, done, 1), 200)
    dead = running_job(gateway, db)
    expect(fail(gateway, dead, 1, retryable=False), 200)
    before = snapshot(db)
    for job_id, status in ((done, "completed"), (dead, "failed")):
        err = expect_error(gateway.post(f"/api/jobs/{job_id}/cancel"), 409, "conflict")
        assert err["message"] == f"job {job_id} is already {status}; it cannot be cancelled"
    expect_error(gateway.post("/api/jobs/999999/cancel"), 404, "not_found")
    assert snapshot(db) == before


def test_cancel_and_retry_bodies(gateway, db):
    j = create(gateway)
    before = snapshot(db)
    # a body, when given, must be JSON
    expect_error(gateway.post(f"/api/jobs/{j['id']}/cancel", data="nope",
                              headers={"Content-Type": "application/json"}), 400, "invalid_json")
    expect_error(gateway.post(f"/api/jobs/{j['id']}/cancel", data="{}", headers={"Content-Type": "text/plain"}),
                 415, "unsupported_media_type")
    assert snapshot(db) == before
    # no body at all (no Content-Type either)
    r = gateway.post(f"/api/jobs/{j['id']}/cancel")
    assert expect(r, 200)["status"] == "cancelled"
    assert expect(gateway.post(f"/api/jobs/{j['id']}/retry", data=""), 200)["status"] == "pending"
    assert expect(gateway.post(f"/api/jobs/{j['id']}/cancel", json={}), 200)["status"] == "cancelled"


# --- retry --------------------------------------------------------------------------------


def test_retry_failed_job_fresh_budget(gateway, db):
    job_id = create(gateway, maxAttempts=2)["id"]
    claim_one(db, job_id)
    expect(fail(gateway, job_id, 1, result={"partial": 1}), 200)
    make_due(db, job_id)
    claim_one(db, job_id)
    j = expect(fail(gateway, job_id, 2, error="second failure"), 200)
    assert j["status"] == "failed" and j["attempts"] == 2
    r = expect(gateway.post(f"/api/jobs/{job_id}/retry"), 200)
    assert r["status"] == "pending" and r["attempts"] == 2 and r["maxAttempts"] == 4
    assert r["lastError"] == "second failure" and r["result"] is None and r["processedAt"] is None
    assert r["cancelRequested"] is False
    assert abs((parse_ts(r["runAt"]) - utcnow()).total_seconds()) < 60
    ev = events(db, job_id, "job.requeued")
    assert len(ev) == 1 and ev[0]["data"]["from"] == "failed"
    # runnable now, and attempts keep counting (the fencing token never goes back)
    c = claim_one(db, job_id)
    assert c["attempt"] == 3
    expect_error(complete(gateway, job_id, 2), 409, "conflict")
    assert expect(complete(gateway, job_id, 3, {"ok": 1}), 200)["status"] == "completed"


def test_retry_cancelled_job(gateway, db):
    job_id = running_job(gateway, db, maxAttempts=3)
    expect(gateway.post(f"/api/jobs/{job_id}/cancel"), 202)
    db.query("SELECT * FROM fs_jobs_renew(%s, %s, %s, %s)", ([job_id], [1], WORKER, 30))
    r = expect(gateway.post(f"/api/jobs/{job_id}/retry", json={}), 200)
    assert r["status"] == "pending" and r["cancelRequested"] is False and r["maxAttempts"] == 4
    assert claim_one(db, job_id)["attempt"] == 2


def test_retry_conflicts(gateway, db):
    pending = create(gateway, targetAgent="someone_else")["id"]
    running = running_job(gateway, db)
    done = running_job(gateway, db)
    expect(complete(gateway, done, 1), 200)
    before = snapshot(db)
    for job_id, status in ((pending, "pending"), (running, "running"), (done, "completed")):
        err = expect_error(gateway.post(f"/api/jobs/{job_id}/retry"), 409, "conflict")
        assert err["message"] == f"job {job_id} is {status}; only failed or cancelled jobs can be retried"
    expect_error(gateway.post("/api/jobs/999999/retry"), 404, "not_found")
    assert snapshot(db) == before


# --- GET /api/jobs/:id?wait=N ---------------------------------------------------------------


def timed_get(gw, path, timeout=60):
    t0 = time.monotonic()
    r = gw.get(path, timeout=timeout)
    return r, time.monotonic() - t0


def in_thread(fn, *args):
    out = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as e:  # reported by the test
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_wait_returns_when_completed(gateway, db):
    job_id = running_job(gateway, db)
    t, out = in_thread(timed_get, gateway, f"/api/jobs/{job_id}?wait=30")
    time.sleep(0.5)
    assert t.is_alive(), "the wait answered before the job finished"
    expect(complete(gateway, job_id, 1, {"v": 1}), 200)
    t.join(20)
    assert not t.is_alive() and "error" not in out, out
    r, elapsed = out["value"]
    j = expect(r, 200)
    assert j["status"] == "completed" and j["result"] == {"v": 1}
    assert elapsed < 15, f"wait=30 took {elapsed:.1f}s after the job completed"


def test_wait_woken_by_fail_cancel_and_sql(gateway, db):
    dead = running_job(gateway, db, maxAttempts=1)
    by_sql = running_job(gateway, db)
    retried = running_job(gateway, db, maxAttempts=3)
    pending = create(gateway)["id"]
    waits = {i: in_thread(timed_get, gateway, f"/api/jobs/{i}?wait=30") for i in (dead, pending, by_sql, retried)}
    time.sleep(0.5)
    expect(fail(gateway, dead, 1), 200)
    expect(gateway.post(f"/api/jobs/{pending}/cancel"), 200)
    expect(fail(gateway, retried, 1), 200)  # back to pending: not finished, keeps waiting
    db.execute("UPDATE job_queue SET status = 'completed', processed_at = now() WHERE id = %s", (by_sql,))
    for job_id, status in ((dead, "failed"), (pending, "cancelled"), (by_sql, "completed")):
        t, out = waits[job_id]
        t.join(20)
        assert not t.is_alive() and "error" not in out, out
        r, elapsed = out["value"]
        assert expect(r, 200)["status"] == status and elapsed < 15
    t, out = waits[retried]
    assert t.is_alive(), "a job that went back to pending is not finished"
    make_due(db, retried)
    claim_one(db, retried)
    expect(complete(gateway, retried, 2), 200)
    t.join(20)
    r, _ = out["value"]
    assert expect(r, 200)["status"] == "completed"


def test_wait_on_finished_job_returns_at_once(gateway, db):
    job_id = running_job(gateway, db)
    expect(complete(gateway, job_id, 1), 200)
    r, elapsed = timed_get(gateway, f"/api/jobs/{job_id}?wait=60")
    assert expect(r, 200)["status"] == "completed"
    assert elapsed < 5, f"wait on a finished job took {elapsed:.1f}s"
    r, elapsed = timed_get(gateway, f"/api/jobs/{job_id}?wait=0")
    assert expect(r, 200)["status"] == "completed" and elapsed < 5


def test_wait_timeout_returns_current_state(gateway, db):
    job_id = running_job(gateway, db)
    r, elapsed = timed_get(gateway, f"/api/jobs/{job_id}?wait=1")
    j = expect(r, 200)
    assert j["status"] == "running" and j["id"] == job_id
    assert 0.9 <= elapsed < 10, f"wait=1 answered after {elapsed:.1f}s"
    pending = create(gateway)["id"]
    r, elapsed = timed_get(gateway, f"/api/jobs/{pending}?wait=1")
    assert expect(r, 200)["status"] == "pending" and elapsed >= 0.9


def test_wait_validation(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_WAIT_MAX": 5})
    job_id = create(gw)["id"]
    for bad in ("6", "-1", "abc", "1.5", "", "99999999999999999999"):
        err = expect_error(gw.get(f"/api/jobs/{job_id}?wait={bad}"), 400, "invalid_field", "wait")
        assert "0 to 5" in err["message"]
    expect_error(gw.get("/api/jobs/999999?wait=1"), 404, "not_found")
    expect_error(gw.get("/api/jobs/abc?wait=1"), 400, "invalid_field", "id")
    r, elapsed = timed_get(gw, f"/api/jobs/{job_id}?wait=5")
    assert expect(r, 200)["status"] == "pending" and elapsed >= 4.5


def test_wait_longer_than_http_timeout(gateway_factory, db):
    """evhttp's connection timeout must not cut a long poll (nor keep an idle connection
    forever afterwards)."""
    gw = gateway_factory(env={"FLOWSTATE_HTTP_TIMEOUT": 1})
    job_id = running_job(gw, db)
    r, elapsed = timed_get(gw, f"/api/jobs/{job_id}?wait=3")
    assert expect(r, 200)["status"] == "running" and elapsed >= 2.9
    # and the connection is usable for the next request on the same session
    r, _ = timed_get(gw, f"/api/jobs/{job_id}")
    expect(r, 200)


def test_wait_with_pipelined_request(gateway, db):
    """A second request sent on the same connection while the first waits is answered after
    it, in order (evhttp does not read it before the first reply)."""
    job_id = running_job(gateway, db)
    s = socket.create_connection(("127.0.0.1", gateway.port))
    try:
        s.sendall(f"GET /api/jobs/{job_id}?wait=2 HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {gateway.key}\r\n\r\n".encode())
        time.sleep(0.3)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    first, second = data.index(b'"status":"running"'), data.index(b'"status":"ok"')
    assert first < second, data
    gateway.assert_healthy()


def test_wait_many_waiters(gateway, db):
    ids = [running_job(gateway, db) for _ in range(5)]
    threads = [in_thread(timed_get, gateway, f"/api/jobs/{i}?wait=30") for i in ids for _ in range(4)]
    time.sleep(0.5)
    jobs = [{"id": i, "attempt": 1, "result": {"i": i}} for i in ids]
    expect(gateway.post("/api/jobs/complete", json={"jobs": jobs}), 200)
    for t, out in threads:
        t.join(20)
        assert not t.is_alive() and "error" not in out, out
        r, elapsed = out["value"]
        j = expect(r, 200)
        assert j["status"] == "completed" and j["result"] == {"i": j["id"]} and elapsed < 15


def test_wait_client_disconnects(gateway, db):
    job_id = running_job(gateway, db)
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", gateway.port))
        s.sendall(f"GET /api/jobs/{job_id}?wait=2 HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {gateway.key}\r\n\r\n".encode())
        time.sleep(0.2)
        s.close()
    # one is answered by the job finishing, the others by their timeout
    s = socket.create_connection(("127.0.0.1", gateway.port))
    s.sendall(f"GET /api/jobs/{job_id}?wait=20 HTTP/1.1\r\nHost: x\r\n"
              f"Authorization: Bearer {gateway.key}\r\n\r\n".encode())
    time.sleep(0.3)
    s.close()
    expect(complete(gateway, job_id, 1), 200)
    time.sleep(2.5)
    gateway.assert_healthy()
    assert expect(gateway.get(f"/api/jobs/{job_id}?wait=5"), 200)["status"] == "completed"
    # the fixture's teardown checks the gateway exits 0 (no crash, no leak under ASan)


def test_wait_answered_at_shutdown(gateway, db):
    job_id = running_job(gateway, db)
    t, out = in_thread(timed_get, gateway, f"/api/jobs/{job_id}?wait=60")
    time.sleep(0.5)
    t0 = time.monotonic()
    gateway.proc.send_signal(signal.SIGTERM)
    code = gateway.proc.wait(timeout=15)
    assert code == 0, gateway.log_tail()
    assert time.monotonic() - t0 < 5, "a long poll held up the shutdown"
    t.join(10)
    assert "error" not in out, out
    r, elapsed = out["value"]
    assert expect(r, 200)["status"] == "running"
    assert r.headers.get("Connection", "").lower() == "close"
    assert elapsed < 10


def test_wait_truncated_notification(gateway, db):
    """A payload too big for NOTIFY arrives as {"truncated":true}: every waiter re-reads."""
    job_id = running_job(gateway, db)
    t, out = in_thread(timed_get, gateway, f"/api/jobs/{job_id}?wait=30")
    time.sleep(0.5)
    db.execute("ALTER TABLE job_queue DISABLE TRIGGER job_queue_announce_update")
    try:
        db.execute("UPDATE job_queue SET status = 'completed', processed_at = now() WHERE id = %s", (job_id,))
        time.sleep(0.5)
        assert t.is_alive(), "answered without a notification?"
        db.execute("""NOTIFY fs_jobs, '{"truncated":true}'""")
        t.join(15)
    finally:
        db.execute("ALTER TABLE job_queue ENABLE TRIGGER job_queue_announce_update")
    assert not t.is_alive() and "error" not in out, out
    r, elapsed = out["value"]
    assert expect(r, 200)["status"] == "completed" and elapsed < 15


def test_wait_ignores_unrelated_and_odd_notifications(gateway, db):
    job_id = running_job(gateway, db)
    other = running_job(gateway, db)
    t, out = in_thread(timed_get, gateway, f"/api/jobs/{job_id}?wait=3")
    time.sleep(0.3)
    expect(complete(gateway, other, 1), 200)
    db.execute("""NOTIFY fs_jobs, '{"completed":[999999]}'""")
    db.execute("""NOTIFY fs_jobs, 'not json'""")  # treated as "re-read everything"
    db.execute("""NOTIFY fs_jobs, '{"completed":["x"]}'""")
    t.join(15)
    r, elapsed = out["value"]
    assert expect(r, 200)["status"] == "running" and elapsed >= 2.9
    gateway.assert_healthy()


def test_wait_missed_notifications_after_listen_reconnect(gateway, db):
    """While the LISTEN connection is down notifications are lost; after it reconnects the
    gateway re-reads every waiter."""
    job_id = running_job(gateway, db)
    t, out = in_thread(timed_get, gateway, f"/api/jobs/{job_id}?wait=30")
    time.sleep(0.5)
    db.execute("ALTER TABLE job_queue DISABLE TRIGGER job_queue_announce_update")
    try:
        killed = kill_listen_backend(db)
        assert killed == 1
        db.execute("UPDATE job_queue SET status = 'completed', processed_at = now() WHERE id = %s", (job_id,))
        t.join(20)
    finally:
        db.execute("ALTER TABLE job_queue ENABLE TRIGGER job_queue_announce_update")
    assert not t.is_alive() and "error" not in out, out
    r, elapsed = out["value"]
    assert expect(r, 200)["status"] == "completed" and elapsed < 20
    assert "re-reading every waiter" in gateway.log_tail(100)
    # the new LISTEN connection works: a fresh waiter is woken by a notification
    job2 = running_job(gateway, db)
    t, out = in_thread(timed_get, gateway, f"/api/jobs/{job2}?wait=30")
    time.sleep(0.5)
    expect(complete(gateway, job2, 1), 200)
    t.join(20)
    r, elapsed = out["value"]
    assert expect(r, 200)["status"] == "completed" and elapsed < 15


def test_listens_to_fs_jobs_only_while_someone_waits(gateway, db):
    """Every NOTIFY in a database wakes every backend that listens to anything in it, so the
    gateway holds LISTEN fs_jobs only while a long poll waits, and drops it a few seconds
    (CHANNELS_LINGER_S) after the last one was answered."""
    poll(lambda: (listen_backend_query(db) is not None, None), 10, what="the LISTEN connection")
    create(gateway, targetAgent="nobody_waits")  # a job's NOTIFY with nobody waiting
    assert "LISTEN" not in listen_backend_query(db)
    job_id = running_job(gateway, db)
    t, out = in_thread(timed_get, gateway, f"/api/jobs/{job_id}?wait=30")
    poll(lambda: ((q := listen_backend_query(db)) == "LISTEN fs_jobs", q), 10, what="LISTEN fs_jobs")
    expect(complete(gateway, job_id, 1), 200)
    t.join(20)
    r, elapsed = out["value"]
    assert expect(r, 200)["status"] == "completed" and elapsed < 15
    poll(lambda: ((q := listen_backend_query(db)) == "UNLISTEN fs_jobs", q), 20, what="UNLISTEN fs_jobs")
    # and again for the next waiter
    job2 = running_job(gateway, db)
    t, out = in_thread(timed_get, gateway, f"/api/jobs/{job2}?wait=30")
    poll(lambda: ((q := listen_backend_query(db)) == "LISTEN fs_jobs", q), 10, what="LISTEN fs_jobs again")
    expect(complete(gateway, job2, 1), 200)
    t.join(20)
    assert expect(out["value"][0], 200)["status"] == "completed"
    gateway.assert_healthy()


def test_first_waiter_reads_again_once_its_listen_takes_effect(gateway, db):
    """A job that finishes after the first waiter's first read but before its LISTEN takes
    effect is not notified to the gateway: the waiter reads again once the LISTEN is in
    effect. The LISTEN is held back by keeping the LISTEN connection from reconnecting."""
    job_id = running_job(gateway, db)
    poll(lambda: (listen_backend_query(db) is not None, None), 10, what="the LISTEN connection")
    dbname = db.scalar("SELECT current_database()")
    admin = psycopg2.connect(db.url.rsplit("/", 1)[0] + "/postgres", connect_timeout=10)
    admin.autocommit = True  # ALTER DATABASE cannot close the current database itself

    def allow_connections(allow):
        with admin.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS {str(allow).lower()}')

    db.execute("ALTER TABLE job_queue DISABLE TRIGGER job_queue_announce_update")
    allow_connections(False)
    try:
        killed = kill_listen_backend(db)
        assert killed == 1
        t, out = in_thread(timed_get, gateway, f"/api/jobs/{job_id}?wait=30")
        time.sleep(0.5)  # its first read: still running
        db.execute("UPDATE job_queue SET status = 'completed', processed_at = now() WHERE id = %s", (job_id,))
        time.sleep(1.0)
        assert t.is_alive(), out  # nothing told the gateway yet
    finally:
        allow_connections(True)
        admin.close()
        db.execute("ALTER TABLE job_queue ENABLE TRIGGER job_queue_announce_update")
    t.join(20)
    assert not t.is_alive() and "error" not in out, out
    r, elapsed = out["value"]
    assert expect(r, 200)["status"] == "completed" and elapsed < 20
    assert listen_backend_query(db) == "LISTEN fs_jobs"


# --- sweeper ------------------------------------------------------------------------------


def test_sweeper_requeues_expired_lease(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_SWEEP_INTERVAL_MS": 200})
    j = create(gw, timeoutSeconds=1, maxAttempts=3)
    last = create(gw, timeoutSeconds=1, maxAttempts=1)
    claimed = claim(db, n=2, lease=60)
    assert sorted(c["id"] for c in claimed) == sorted([j["id"], last["id"]])
    assert all(c["lease"] == 1 for c in claimed)

    def back():
        r = row(db, j["id"])
        return r["status"] == "pending", r

    r = poll(back, 10, what="the expired job back to pending")
    assert r["attempts"] == 1 and r["locked_by"] is None and r["locked_until"] is None
    assert "lease" in r["last_error"] and WORKER in r["last_error"], r["last_error"]
    ev = events(db, j["id"], "job.retry")
    assert len(ev) == 1 and "lease" in ev[0]["data"]["error"]
    d = poll(lambda: (row(db, last["id"])["status"] == "failed", row(db, last["id"])), 10,
             what="the expired job out of attempts failed")
    assert d["processed_at"] is not None and len(events(db, last["id"], "job.dead")) == 1
    # the old worker's report is fenced; the next claim is attempt 2
    expect_error(complete(gw, j["id"], 1), 409, "conflict")
    assert claim_one(db, j["id"])["attempt"] == 2
    assert "msg=sweep expired=" in gw.log_tail(200)


def test_sweeper_off(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_SWEEP_INTERVAL_MS": 0})
    job_id = running_job(gw, db, timeoutSeconds=1)
    time.sleep(2.0)
    assert row(db, job_id)["status"] == "running"


def test_sweeper_leaves_renewed_leases(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_SWEEP_INTERVAL_MS": 200})
    job_id = running_job(gw, db, timeoutSeconds=3)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # renewed well within the 3 s lease, past its first end
        renew = db.query("SELECT * FROM fs_jobs_renew(%s, %s, %s, %s)", ([job_id], [1], WORKER, 30))
        assert renew == [{"id": job_id, "state": "ok"}], renew
        time.sleep(0.3)
    assert row(db, job_id)["status"] == "running"
    poll(lambda: (row(db, job_id)["status"] == "pending", row(db, job_id)), 15,
         what="the job back to pending once renewals stop")


def test_retention_prunes_old_finished_jobs_only(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_SWEEP_INTERVAL_MS": 200, "FLOWSTATE_RETENTION": 3600})
    old_done = running_job(gw, db)
    expect(complete(gw, old_done, 1), 200)
    old_failed = running_job(gw, db)
    expect(fail(gw, old_failed, 1, retryable=False), 200)
    old_cancelled = create(gw)["id"]
    expect(gw.post(f"/api/jobs/{old_cancelled}/cancel"), 200)
    recent_done = running_job(gw, db)
    expect(complete(gw, recent_done, 1), 200)
    old_running = running_job(gw, db)
    old_pending = create(gw)["id"]
    db.execute("UPDATE job_queue SET processed_at = now() - interval '2 hours', "
               "created_at = now() - interval '3 hours' WHERE id = ANY(%s)",
               ([old_done, old_failed, old_cancelled],))
    db.execute("UPDATE job_queue SET created_at = now() - interval '3 hours' WHERE id = ANY(%s)",
               ([old_pending, old_running],))
    gone = {old_done, old_failed, old_cancelled}
    db.execute("INSERT INTO events (type, created_at) VALUES ('test.old', now() - interval '2 hours'),"
               " ('test.recent', now())")

    def pruned():
        left = {r["id"] for r in db.query("SELECT id FROM job_queue")}
        return not (left & gone), left

    left = poll(pruned, 90, interval=0.2, what="old finished jobs pruned")
    assert left == {recent_done, old_pending, old_running}
    kinds = {r["type"] for r in db.query("SELECT type FROM events WHERE type LIKE 'test.%'")}
    assert kinds == {"test.recent"}, f"events older than the retention must go, recent ones stay: {kinds}"
    expect_error(gw.get(f"/api/jobs/{old_done}"), 404, "not_found")
    assert "pruned=3" in gw.log_tail(200)


def test_retention_zero_keeps_everything(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_SWEEP_INTERVAL_MS": 100, "FLOWSTATE_RETENTION": 0})
    job_id = running_job(gw, db)
    expect(complete(gw, job_id, 1), 200)
    db.execute("UPDATE job_queue SET processed_at = now() - interval '100 years' WHERE id = %s", (job_id,))
    time.sleep(1.5)
    assert db.count("job_queue") == 1


def test_sweeper_wakes_agent_when_retry_comes_due(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_SWEEP_INTERVAL_MS": 200, "FLOWSTATE_RETRY_BASE_MS": 600})
    job_id = running_job(gw, db, maxAttempts=3)
    channel = db.scalar("SELECT fs_wake_channel(%s)", (AGENT,))
    listener = Listener(gw.db_url, channel)
    try:
        t0 = time.monotonic()
        expect(fail(gw, job_id, 1), 200)
        run_at = parse_ts(row_json(gw, job_id)["runAt"])
        got = listener.wait_for(lambda c, p: c == channel, 10)
        assert got and time.monotonic() - t0 < 10
        assert utcnow() >= run_at - dt.timedelta(milliseconds=50), "woken before the retry was due"
    finally:
        listener.close()
    assert claim_one(db, job_id)["attempt"] == 2


def row_json(gw, job_id):
    return expect(gw.get(f"/api/jobs/{job_id}"), 200)


# --- NOTIFY -------------------------------------------------------------------------------


def test_one_notification_per_statement(gateway, db):
    ids = [create(gateway)["id"] for _ in range(3)]
    claim(db, n=3)
    listener = Listener(gateway.db_url, "fs_jobs")
    try:
        jobs = [{"id": i, "attempt": 1} for i in ids] + [{"id": 999999, "attempt": 1}]
        expect(gateway.post("/api/jobs/complete", json={"jobs": jobs}), 200)
        got = listener.collect(1.5)
        assert len(got) == 1, f"expected one NOTIFY for one statement, got {got}"
        assert json.loads(got[0][1]) == {"completed": sorted(ids)}
        # a statement that changes nothing says nothing
        expect(gateway.post("/api/jobs/complete", json={"jobs": jobs}), 200)
        assert listener.collect(1.0) == []
        # cancel of a pending job and a fail with retry each announce their new status
        p = create(gateway)["id"]
        listener.collect(0.5)
        expect(gateway.post(f"/api/jobs/{p}/cancel"), 200)
        got = listener.collect(1.0)
        assert [json.loads(x[1]) for x in got] == [{"cancelled": [p]}]
    finally:
        listener.close()


# --- the database going away --------------------------------------------------------------


@pytest.fixture
def own_cluster(gateway_bin):
    c = Cluster.create(prefix="fs-pg-lifecycle-")
    try:
        p = run_cli(["--migrate"], {"DATABASE_URL": c.url})
        assert p.returncode == 0, f"--migrate failed: {p.stderr}"
        yield c
    finally:
        c.destroy()


def test_lifecycle_routes_while_database_down(own_cluster, gateway_factory):
    gw = gateway_factory(db_url=own_cluster.url, env={"FLOWSTATE_SWEEP_INTERVAL_MS": 100})
    conn = psycopg2.connect(own_cluster.url)
    conn.autocommit = True
    with conn.cursor() as cur:
        job_id = create(gw)["id"]
        cur.execute("SELECT * FROM fs_jobs_claim(%s, 1, %s, 30)", (AGENT, WORKER))
        assert cur.fetchone()[0] == job_id
    conn.close()
    # a waiter that is waiting when the database goes away gets 503 when its time is up
    t, out = in_thread(timed_get, gw, f"/api/jobs/{job_id}?wait=3")
    time.sleep(0.5)
    own_cluster.stop()
    for r in (gw.post(f"/api/jobs/{job_id}/complete", json={"attempt": 1}),
              gw.post(f"/api/jobs/{job_id}/fail", json={"attempt": 1, "error": "x"}),
              gw.post("/api/jobs/complete", json={"jobs": [{"id": job_id, "attempt": 1}]}),
              gw.post("/api/jobs/fail", json={"jobs": [{"id": job_id, "attempt": 1, "error": "x"}]}),
              gw.post(f"/api/jobs/{job_id}/cancel"),
              gw.post(f"/api/jobs/{job_id}/retry"),
              gw.get(f"/api/jobs/{job_id}?wait=5", timeout=30)):
        expect_error(r, 503, "unavailable")
    t.join(30)
    assert "error" not in out, out
    r, elapsed = out["value"]
    expect_error(r, 503, "unavailable")
    time.sleep(0.5)  # a few sweeps find no database: logged, nothing breaks
    gw.assert_healthy()

    own_cluster.start()
    poll(lambda: (gw.get("/ready", auth=None).status_code == 200, None), 15, 0.25, what="ready again")
    # the LISTEN connection is back too: a waiter is woken by the completion
    t, out = in_thread(timed_get, gw, f"/api/jobs/{job_id}?wait=30")
    time.sleep(1.0)
    expect(gw.post(f"/api/jobs/{job_id}/complete", json={"attempt": 1}), 200)
    t.join(20)
    r, elapsed = out["value"]
    assert expect(r, 200)["status"] == "completed" and elapsed < 15
