"""POST /api/jobs/batch: many jobs in one request and one statement. Items are validated
like POST /api/jobs; one bad item refuses the whole request with its path and writes
nothing; idempotency keys return the existing job; the answer keeps request order."""

import datetime as dt
import json

import pytest

from fsutil import Listener, expect, expect_error

PING = {"taskType": "ping"}


def count(db):
    return db.one("SELECT count(*) AS n FROM job_queue")["n"]


def test_batch_creates_in_order_with_every_field(gateway, db):
    jobs = [{"targetAgent": "code_analyzer", "payload": {"n": i}} for i in range(1000)]
    jobs[7] = {"targetAgent": "data_processor", "payload": {"n": 7}, "priority": 4, "maxAttempts": 9,
               "timeoutSeconds": 60, "runAt": "2031-01-02T03:04:05Z", "idempotencyKey": "k-7"}
    r = gateway.post("/api/jobs/batch", json={"jobs": jobs})
    body = expect(r, 201)
    assert body["created"] == 1000 and body["existing"] == 0 and body["conflicts"] == 0, {k: body[k] for k in ("created", "existing", "conflicts")}
    ids = [j["id"] for j in body["jobs"]]
    assert all(j["created"] is True for j in body["jobs"])
    assert ids == sorted(ids) and len(set(ids)) == 1000, "ids should be distinct and follow request order"
    rows = {r["id"]: r for r in db.query("SELECT * FROM job_queue")}
    assert len(rows) == 1000
    for i, job_id in enumerate(ids):
        assert rows[job_id]["payload"] == {"n": i}, f"item {i} stored as {rows[job_id]['payload']}"
    r7 = rows[ids[7]]
    assert (r7["target_agent"], r7["priority"], r7["max_attempts"], r7["timeout_seconds"], r7["idempotency_key"]) == (
        "data_processor", 4, 9, 60, "k-7"), r7
    assert r7["run_at"] == dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), r7["run_at"]
    r0 = rows[ids[0]]
    assert (r0["status"], r0["priority"], r0["max_attempts"], r0["attempts"]) == ("pending", 2, 3, 0), r0
    # every job reads back like any other
    got = expect(gateway.get(f"/api/jobs/{ids[7]}"), 200)
    assert got["targetAgent"] == "data_processor" and got["idempotencyKey"] == "k-7", got


def test_batch_idempotency_keys_return_existing_jobs(gateway, db):
    first = expect(gateway.post("/api/jobs", json={"targetAgent": "a", "payload": PING, "idempotencyKey": "dup"}), 201)
    body = expect(gateway.post("/api/jobs/batch", json={"jobs": [
        {"targetAgent": "a", "payload": PING, "idempotencyKey": "new"},
        {"targetAgent": "a", "payload": PING, "idempotencyKey": "dup"},
        {"targetAgent": "a", "payload": PING}]}), 201)
    assert [j["created"] for j in body["jobs"]] == [True, False, True], body
    assert body["jobs"][1]["id"] == first["id"], body
    assert (body["created"], body["existing"]) == (2, 1), body
    # the same request again: nothing new for keyed items, 201 for the unkeyed one
    again = expect(gateway.post("/api/jobs/batch", json={"jobs": [
        {"targetAgent": "a", "payload": PING, "idempotencyKey": "new"},
        {"targetAgent": "a", "payload": PING, "idempotencyKey": "dup"}]}), 200)
    assert [j["id"] for j in again["jobs"]] == [body["jobs"][0]["id"], first["id"]], again
    assert again["created"] == 0 and again["existing"] == 2, again
    assert count(db) == 3


@pytest.mark.parametrize("jobs,field", [
    (None, "jobs"),
    ([], "jobs"),
    ({"targetAgent": "a"}, "jobs"),
    ("x", "jobs"),
    ([{"targetAgent": "a", "payload": PING}, 7], "jobs[1]"),
    ([{"targetAgent": "a", "payload": PING}, {"payload": PING}], "jobs[1].targetAgent"),
    ([{"targetAgent": "a", "payload": PING}] * 3 + [{"targetAgent": "a b", "payload": PING}], "jobs[3].targetAgent"),
    ([{"targetAgent": "a", "payload": "text"}], "jobs[0].payload"),
    ([{"targetAgent": "a", "payload": PING, "priority": 9}], "jobs[0].priority"),
    ([{"targetAgent": "a", "payload": PING, "runAt": "tomorrow"}], "jobs[0].runAt"),
    ([{"targetAgent": "a", "payload": PING, "maxAttempts": 0}], "jobs[0].maxAttempts"),
    ([{"targetAgent": "a", "payload": PING, "timeoutSeconds": 1.5}], "jobs[0].timeoutSeconds"),
    ([{"targetAgent": "a", "payload": PING, "idempotencyKey": ""}], "jobs[0].idempotencyKey"),
    ([{"targetAgent": "a", "payload": PING, "idempotencyKey": "k"},
      {"targetAgent": "a", "payload": PING},
      {"targetAgent": "a", "payload": PING, "idempotencyKey": "k"}], "jobs[2].idempotencyKey"),
])
def test_batch_bad_items_refuse_everything(gateway, db, jobs, field):
    body = {} if jobs is None else {"jobs": jobs}
    err = expect_error(gateway.post("/api/jobs/batch", json=body), 400, "invalid_field", field)
    assert err["message"].startswith(field), f"message should name {field}: {err['message']}"
    assert count(db) == 0, "a refused batch wrote jobs"


def test_batch_too_many_items(gateway, db):
    jobs = [{"targetAgent": "a", "payload": {}}] * 10001
    expect_error(gateway.post("/api/jobs/batch", json={"jobs": jobs}), 400, "invalid_field", "jobs")
    assert count(db) == 0
    body = expect(gateway.post("/api/jobs/batch", json={"jobs": jobs[:10000]}), 201)
    assert body["created"] == 10000 and count(db) == 10000


def test_batch_not_json_and_auth(gateway, db):
    expect_error(gateway.post("/api/jobs/batch", data=b"{nope", headers={"Content-Type": "application/json"}),
                 400, "invalid_json")
    viewer = gateway.create_key("viewer")
    r = gateway.post("/api/jobs/batch", json={"jobs": [{"targetAgent": "a", "payload": PING}]}, auth=viewer)
    expect_error(r, 403, "forbidden")
    assert count(db) == 0


def test_batch_wakes_workers_with_one_notify(gateway, db):
    listener = Listener(gateway.db_url, "fs_jobs")
    try:
        body = expect(gateway.post("/api/jobs/batch", json={"jobs": [{"targetAgent": "a", "payload": PING}] * 50}), 201)
        notes = listener.collect(1.0)
    finally:
        listener.close()
    assert len(notes) == 1, f"expected one NOTIFY for one batch, got {notes}"
    assert json.loads(notes[0][1])["pending"] == [j["id"] for j in body["jobs"]], notes[0]
