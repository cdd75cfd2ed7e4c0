"""One outcome path: every report reaches the database through the column forms of
fs_jobs_complete and fs_jobs_fail, whichever way it came (a single report group-committed by
the batcher, a plain batch the gateway's scanner reads, any other batch it parses), and a
report that leaves the scanner's plain shape is answered exactly as one that does not.

The tests play the worker: they claim jobs straight from SQL and report through the API."""

import json

import pytest

from fsutil import expect, expect_error

AGENT = "outcome_agent"

# The item-document overloads an earlier gateway called: the schema no longer has them, and
# every kind of report is served without them.
DOCUMENT_FORMS = ["fs_jobs_complete(jsonb, bool)", "fs_jobs_fail(jsonb, bool, int, int)"]


def running_jobs(gw, db, n, **fields):
    ids = [expect(gw.post("/api/jobs", json={"targetAgent": AGENT, "payload": {"n": k}, **fields}), 201)["id"]
           for k in range(n)]
    claimed = db.query("SELECT id FROM fs_jobs_claim(%s, %s, 'test:1', 30)", (AGENT, n))
    assert sorted(c["id"] for c in claimed) == sorted(ids)
    return ids


def post_text(gw, path, text):
    return gw.post(path, data=text.encode(), headers={"Content-Type": "application/json"})


def general(text):
    """The same body with every "id" key escaped: the scanner leaves it to the parser."""
    return text.replace('"id":', '"\\u0069d":')


def row(db, job_id):
    return db.one("SELECT status, attempts, result, last_error FROM job_queue WHERE id = %s", (job_id,))


def test_every_report_route_works_without_the_document_forms(gateway_factory, db):
    for form in DOCUMENT_FORMS:
        assert db.scalar("SELECT to_regprocedure(%s)", (form,)) is None, form
    gw = gateway_factory()
    single_ok, single_fail, plain, general_ok, general_fail = running_jobs(gw, db, 5, maxAttempts=1)

    job = expect(gw.post(f"/api/jobs/{single_ok}/complete", json={"attempt": 1, "result": {"a": 1}}), 200)
    assert job["id"] == single_ok and job["status"] == "completed" and job["result"] == {"a": 1}
    job = expect(gw.post(f"/api/jobs/{single_fail}/fail", json={"attempt": 1, "error": "boom"}), 200)
    assert job["id"] == single_fail and job["status"] == "failed" and job["lastError"] == "boom"
    expect_error(gw.post("/api/jobs/987654/complete", json={"attempt": 1}), 404, "not_found")
    expect_error(gw.post(f"/api/jobs/{single_ok}/complete", json={"attempt": 1}), 409, "conflict")

    body = '{"jobs":[{"id":%d,"attempt":1,"result":[1]},{"id":987654,"attempt":1}]}'
    assert expect(post_text(gw, "/api/jobs/complete", body % plain), 200) == {"results": [
        {"id": plain, "status": "completed"},
        {"id": 987654, "error": {"code": "not_found", "message": "no job 987654"}}]}
    assert expect(post_text(gw, "/api/jobs/complete", general(body % general_ok)), 200) == {"results": [
        {"id": general_ok, "status": "completed"},
        {"id": 987654, "error": {"code": "not_found", "message": "no job 987654"}}]}
    r = post_text(gw, "/api/jobs/fail", general('{"jobs":[{"id":%d,"attempt":1,"error":"x"}]}' % general_fail))
    assert expect(r, 200) == {"results": [{"id": general_fail, "status": "failed"}]}

    assert row(db, plain)["result"] == [1] and row(db, general_ok)["result"] == [1]
    assert row(db, general_fail)["last_error"] == "x"


# An error with escapes, an escaped key and members in an unusual order: the scanner declines
# the first two bodies, and the answers (and what is stored) are those of the plain body, byte
# for byte.
ERROR = 'bad "input" \u00e9\n\tline 2 \\ end'


@pytest.mark.parametrize("kind", ["declined", "plain"])
def test_a_batch_the_scanner_declines_is_answered_as_a_plain_one(gateway_factory, db, kind):
    gw = gateway_factory(env={"FLOWSTATE_RETRY_BASE_MS": 60000})
    retry, dead, done = running_jobs(gw, db, 3, maxAttempts=2)
    db.execute("UPDATE job_queue SET attempts = max_attempts WHERE id = %s", (dead,))
    expect(gw.post(f"/api/jobs/{done}/complete", json={"attempt": 1}), 200)
    items = [{"id": retry, "attempt": 1, "error": ERROR},
             {"id": dead, "attempt": 2, "error": ERROR, "retryable": True, "result": {"k": "\u00e9"}},
             {"id": done, "attempt": 1, "error": ERROR},
             {"id": 424242, "attempt": 1, "error": ERROR}]
    text = json.dumps({"jobs": items})  # ASCII: the error's é is escaped, so are its quotes
    if kind == "declined":
        text = text.replace('"error":', '"\\u0065rror":')
    r = post_text(gw, "/api/jobs/fail", text)
    assert r.status_code == 200
    assert r.content == (
        '{"results":[{"id":%d,"status":"pending"},{"id":%d,"status":"failed"},'
        '{"id":%d,"error":{"code":"conflict","message":"job %d is completed (attempt 1); this report is for'
        ' attempt 1"}},{"id":424242,"error":{"code":"not_found","message":"no job 424242"}}]}'
        % (retry, dead, done, done) + "\n").encode()
    assert row(db, retry)["last_error"] == ERROR and row(db, retry)["status"] == "pending"
    assert row(db, dead) == {"status": "failed", "attempts": 2, "result": {"k": "\u00e9"}, "last_error": ERROR}
    assert row(db, done)["last_error"] is None


def test_a_bad_report_gets_the_same_field_error_on_every_route(gateway, db):
    text = '{"jobs":[{"id":1,"attempt":1,"error":"ok"},{"id":2,"attempt":1,"error":""}]}'
    answers = [post_text(gateway, "/api/jobs/fail", t) for t in (text, general(text))]
    for r in answers:
        expect_error(r, 400, "invalid_field", "jobs[1].error")
    assert answers[0].content == answers[1].content
    r = gateway.post("/api/jobs/2/fail", json={"attempt": 1, "error": ""})
    expect_error(r, 400, "invalid_field", "error")
    assert r.json()["error"]["message"] == "error must not be empty"
