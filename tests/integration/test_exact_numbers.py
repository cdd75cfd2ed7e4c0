"""Numbers stored exactly as sent: every route that stores client JSON (job payloads single, keyed
and batched, results through every report route, agent state, document metadata, the worker
API's task context and memory metadata, event data) keeps 1e400, a 30-digit integer, -0, 1E+2,
a long decimal and 1.50 as PostgreSQL's own jsonb reads the same text, and answers them back
so; numbers jsonb cannot hold are a 400 that stores nothing."""

import json

import pytest

from fsutil import expect, expect_error

# The numbers as a client writes them, one member each.
NUMBERS = ('{"big":1e400,"int":123456789012345678901234567890,"negzero":-0,"exp":1E+2,'
           '"long":0.1000000000000000000001,"scale":1.50,"list":[-1.0e-3,9007199254740993]}')
AGENT = "numbers_agent"
HEADERS = {"Content-Type": "application/json"}


def exact(text):
    """Parses JSON keeping every number as its text, so 1.5 and 1.50 differ."""
    return json.loads(text, parse_int=str, parse_float=str)


@pytest.fixture
def want(db):
    """NUMBERS as PostgreSQL's jsonb stores and prints it."""
    return exact(db.scalar("SELECT %s::jsonb::text", (NUMBERS,)))


def send(gw, method, path, body, status):
    r = gw.request(method, path, data=body.encode(), headers=HEADERS)
    assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
    return exact(r.text)


def stored(db, sql, *params):
    return exact(db.scalar(sql, params))


def job_body(**extra):
    fields = "".join(f',"{k}":{json.dumps(v)}' for k, v in extra.items())
    return '{"targetAgent":"%s","payload":%s%s}' % (AGENT, NUMBERS, fields)


def running_job(gw, db):
    job = expect(gw.post("/api/jobs", json={"targetAgent": AGENT, "payload": {}}), 201)
    claimed = db.query("SELECT * FROM fs_jobs_claim(%s, 1, 'numbers:1', 30)", (AGENT,))
    assert [c["id"] for c in claimed] == [job["id"]]
    return job["id"], claimed[0]["attempt"]


def test_sanity_the_numbers_are_what_a_double_loses(want):
    assert want["big"] == "1" + "0" * 400
    assert want["int"] == "123456789012345678901234567890"
    assert want["negzero"] == "0" and want["exp"] == "100" and want["scale"] == "1.50"
    assert want["long"] == "0.1000000000000000000001"
    assert want["list"] == ["-0.0010", "9007199254740993"]


def test_job_payload_single_plain_keyed_and_batch(gateway, db, want):
    plain = send(gateway, "POST", "/api/jobs", job_body(), 201)
    assert plain["payload"] == want
    assert stored(db, "SELECT payload::text FROM job_queue WHERE id = %s", int(plain["id"])) == want
    keyed = send(gateway, "POST", "/api/jobs", job_body(idempotencyKey="numbers-1"), 201)
    assert keyed["payload"] == want
    assert stored(db, "SELECT payload::text FROM job_queue WHERE id = %s", int(keyed["id"])) == want
    again = send(gateway, "GET", f"/api/jobs/{keyed['id']}", "", 200)
    assert again["payload"] == want
    batch = send(gateway, "POST", "/api/jobs/batch", '{"jobs":[%s,%s]}' % (job_body(), job_body()), 201)
    for item in batch["jobs"]:
        assert stored(db, "SELECT payload::text FROM job_queue WHERE id = %s", int(item["id"])) == want


@pytest.mark.parametrize("route", ["complete", "fail", "complete-batch", "fail-batch", "status"])
def test_job_results(gateway, db, want, route):
    job_id, attempt = running_job(gateway, db)
    if route == "complete":
        answer = send(gateway, "POST", f"/api/jobs/{job_id}/complete",
                      '{"attempt":%d,"result":%s}' % (attempt, NUMBERS), 200)
        assert answer["result"] == want
    elif route == "fail":
        answer = send(gateway, "POST", f"/api/jobs/{job_id}/fail",
                      '{"attempt":%d,"error":"x","retryable":false,"result":%s}' % (attempt, NUMBERS), 200)
        assert answer["result"] == want
    elif route == "status":
        answer = send(gateway, "PUT", f"/api/jobs/{job_id}/status",
                      '{"status":"completed","result":%s}' % NUMBERS, 200)
        assert answer["result"] == want
    else:
        path = "/api/jobs/complete" if route == "complete-batch" else "/api/jobs/fail"
        extra = "" if route == "complete-batch" else ',"error":"x","retryable":false'
        send(gateway, "POST", path, '{"jobs":[{"id":%d,"attempt":%d,"result":%s%s}]}'
             % (job_id, attempt, NUMBERS, extra), 200)
    assert stored(db, "SELECT result::text FROM job_queue WHERE id = %s", job_id) == want


def test_agent_state_register_replace_and_merge(gateway, db, want):
    body = '{"agentName":"%s","initialState":%s}' % (AGENT, NUMBERS)
    assert send(gateway, "POST", "/api/agents/register", body, 201)["state"] == want
    assert stored(db, "SELECT state::text FROM agent_states WHERE agent_name = %s", AGENT) == want
    assert send(gateway, "PUT", f"/api/agents/{AGENT}", '{"state":%s}' % NUMBERS, 200)["state"] == want
    merged = send(gateway, "PUT", f"/api/agents/{AGENT}", '{"merge":true,"state":{"more":1e-2}}', 200)
    assert merged["state"] == dict(want, more="0.01")
    assert stored(db, "SELECT state::text FROM agent_states WHERE agent_name = %s", AGENT) == dict(want, more="0.01")


def test_document_metadata(gateway, db, want):
    doc = send(gateway, "POST", "/api/documents", '{"content":"numbers","metadata":%s}' % NUMBERS, 201)
    meta = stored(db, "SELECT metadata::text FROM documents WHERE id = %s", int(doc["id"]))
    assert {k: meta[k] for k in want} == want
    assert {k: doc["metadata"][k] for k in want} == want
    mem = send(gateway, "POST", f"/agents/{AGENT}/memory", '{"content":"numbers","metadata":%s}' % NUMBERS, 201)
    meta = stored(db, "SELECT metadata::text FROM documents WHERE id = %s", int(mem["id"]))
    assert {k: meta[k] for k in want} == want


def test_worker_task_context_and_event_data(gateway, db, want):
    expect(gateway.post("/api/agents/register", json={"agentName": AGENT}), 201)
    body = '{"context":{"taskType":"t","n":%s}}' % NUMBERS
    job = send(gateway, "POST", f"/agents/{AGENT}/task?async=true", body, 202)
    assert job["payload"]["data"]["n"] == want
    assert stored(db, "SELECT (payload->'data'->'n')::text FROM job_queue WHERE id = %s", int(job["id"])) == want
    event = send(gateway, "POST", "/api/events", '{"type":"numbers","data":%s}' % NUMBERS, 201)
    assert event["data"] == want
    assert stored(db, "SELECT data::text FROM events WHERE id = %s", int(event["id"])) == want


@pytest.mark.parametrize("number", ["1e131072", "1e-16384", "1e99999999999999999999"])
def test_numbers_jsonb_cannot_hold_are_refused(gateway, db, number):
    before = db.count("job_queue")
    r = gateway.request("POST", "/api/jobs", data=('{"targetAgent":"%s","payload":{"n":%s}}'
                                                   % (AGENT, number)).encode(), headers=HEADERS)
    expect_error(r, 400, "invalid_json")
    assert "cannot be stored" in r.json()["error"]["message"]
    assert db.count("job_queue") == before
    # the largest ones it can hold are stored
    for ok in ("1e131071", "1e-16383"):
        job = send(gateway, "POST", "/api/jobs", '{"targetAgent":"%s","payload":{"n":%s}}' % (AGENT, ok), 201)
        assert job["payload"]["n"] == exact(db.scalar("SELECT %s::jsonb::text", (ok,)))
