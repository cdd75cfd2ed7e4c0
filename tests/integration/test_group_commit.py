"""Group commit: many concurrent POST /api/jobs each get their own job, and concurrent requests
sharing idempotency keys create exactly one job per key."""

import json
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import requests

from fsutil import expect

WORKERS = 64


def concurrent_posts(gw, bodies, workers=WORKERS, raw=False):
    """(status, parsed body) of each POST /api/jobs, all sent at once; (status, text) with raw."""
    local = threading.local()
    headers = {"Authorization": f"Bearer {gw.key}"}

    def post(body):
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = requests.Session()
            s.trust_env = False
        r = s.post(gw.url + "/api/jobs", json=body, headers=headers, timeout=60)
        if raw:
            return r.status_code, r.text
        try:
            data = r.json()
        except ValueError:
            data = r.text
        return r.status_code, data

    barrier_start = threading.Event()

    def task(body):
        barrier_start.wait()
        return post(body)

    with ThreadPoolExecutor(max_workers=workers) as ex:
        futures = [ex.submit(task, b) for b in bodies]
        barrier_start.set()
        return [f.result() for f in futures]


def test_2000_concurrent_creates(gateway, db):
    n = 2000
    bodies = [{"targetAgent": f"agent{i % 7}", "payload": {"n": i}, "priority": i % 5} for i in range(n)]
    results = concurrent_posts(gateway, bodies)
    statuses = Counter(s for s, _ in results)
    assert statuses == {201: n}, f"statuses {dict(statuses)}; e.g. {[r for r in results if r[0] != 201][:3]}"
    ids = [b["id"] for _, b in results]
    assert len(set(ids)) == n, "two requests got the same job"
    # each response describes the job of its own request
    for i, (_, job) in enumerate(results):
        assert job["payload"] == {"n": i} and job["targetAgent"] == f"agent{i % 7}" and job["priority"] == i % 5
    assert db.count("job_queue") == n
    rows = db.query("SELECT id, (payload->>'n')::int AS n, target_agent, priority FROM job_queue")
    by_id = {r["id"]: r for r in rows}
    for i, jid in enumerate(ids):
        r = by_id[jid]
        assert r["n"] == i and r["target_agent"] == f"agent{i % 7}" and r["priority"] == i % 5
    gateway.assert_healthy()


def test_concurrent_idempotency_keys(gateway, db):
    keys = [f"idem-{k}" for k in range(20)]
    bodies = [{"targetAgent": "a", "payload": {"i": i}, "idempotencyKey": keys[i % 20]} for i in range(200)]
    results = concurrent_posts(gateway, bodies)
    assert all(s in (200, 201) for s, _ in results), [r for r in results if r[0] not in (200, 201)][:3]
    assert db.count("job_queue") == 20
    rows = {r["idempotency_key"]: r["id"] for r in db.query("SELECT id, idempotency_key FROM job_queue")}
    assert set(rows) == set(keys)
    created = defaultdict(int)
    for (status, job), body in zip(results, bodies):
        k = body["idempotencyKey"]
        assert job["idempotencyKey"] == k
        assert job["id"] == rows[k], f"response for {k} carries id {job['id']}, the row has {rows[k]}"
        if status == 201:
            created[k] += 1
    assert created == {k: 1 for k in keys}, "exactly one request per key creates the job (201)"


def test_idempotency_mixed_with_plain_creates(gateway, db):
    bodies = []
    for i in range(300):
        b = {"targetAgent": "mix", "payload": {"i": i}}
        if i % 3 == 0:
            b["idempotencyKey"] = f"k{i % 30}"
        bodies.append(b)
    results = concurrent_posts(gateway, bodies, workers=32)
    plain = [job for (s, job), b in zip(results, bodies) if "idempotencyKey" not in b]
    assert all(s in (200, 201) for s, _ in results)
    assert len({j["id"] for j in plain}) == 200
    assert db.count("job_queue") == 200 + 10
    assert db.count("job_queue", "idempotency_key IS NOT NULL") == 10
    expect(gateway.get("/api/jobs/agent/mix", params={"limit": 1000}), 200)


def test_each_answer_is_its_own_stored_job(gateway, db):
    """Batches without idempotency keys use the plain insert (gateway/jobs/idrank.c gives the row
    with the k-th smallest id to the k-th request); batches with one use the tagged form.
    Either way every 201 carries exactly the job its own request created, in the same text
    GET /api/jobs/:id gives, whatever optional fields the neighbours in its batch set."""
    bodies = []
    for i in range(600):
        b = {"targetAgent": f"own{i % 5}", "payload": {"i": i, "s": "é\"\\" * (i % 3)}}
        if i % 2:
            b["priority"] = i % 5
        if i % 3 == 0:
            b["runAt"] = f"2031-0{1 + i % 9}-01T00:00:{i % 60:02d}.{i:03d}Z"
        if i % 4 == 1:
            b["timeoutSeconds"] = 10 + i
        if i % 5 == 2:
            b["maxAttempts"] = 1 + i % 7
        if i % 50 == 7:
            b["idempotencyKey"] = f"own-{i}"
        bodies.append(b)
    results = concurrent_posts(gateway, bodies, raw=True)
    assert [s for s, _ in results] == [201] * len(bodies), [r for r in results if r[0] != 201][:3]
    seen = set()
    for body, (_, text) in zip(bodies, results):
        job = json.loads(text)
        assert job["id"] not in seen, "two requests were answered with the same job"
        seen.add(job["id"])
        assert job["payload"] == body["payload"] and job["targetAgent"] == body["targetAgent"]
        assert job["priority"] == body.get("priority", 2)
        assert job["maxAttempts"] == body.get("maxAttempts", 3)
        assert job["timeoutSeconds"] == body.get("timeoutSeconds")
        assert job["idempotencyKey"] == body.get("idempotencyKey")
        if "runAt" in body:
            assert job["runAt"].startswith(body["runAt"][:19]), (job["runAt"], body["runAt"])
        stored = gateway.get(f"/api/jobs/{job['id']}")
        assert stored.status_code == 200 and stored.text == text
    assert db.count("job_queue") == len(bodies)


FILL_EVERY_COLUMN = r"""
CREATE FUNCTION test_fill_every_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.status := 'running';
    NEW.attempts := 2;
    NEW.locked_by := E'w"\\/\n\t\x01\x1f\u00e9 ' || NEW.id;
    NEW.last_error := E'line1\r\nline2 "quoted" \\ back\b\f';
    NEW.idempotency_key := 'fill-' || NEW.id;
    NEW.result := '{"b": [1, 2.50, -0.0, 1e3, 12345678901234567890], "a": "\u0001\u00e9\"", "": null}';
    NEW.started_at := '2030-01-02 03:04:05.678901+00';
    NEW.processed_at := 'infinity';
    NEW.locked_until := '0044-03-15 12:00:00.5+00 BC';
    NEW.cancel_requested := true;
    RETURN NEW;
END $$;
CREATE TRIGGER test_fill_every_column BEFORE INSERT ON job_queue
    FOR EACH ROW EXECUTE FUNCTION test_fill_every_column();
"""


def test_plain_answer_prints_every_column_as_the_database_does(gateway_factory, db):
    """The plain insert's answer is printed in C from the new row's columns
    (gateway/jobs/jobjson.c). A BEFORE INSERT trigger, in this test's database only, fills every
    column a new job leaves empty: text that needs escaping, JSON numbers PostgreSQL keeps as
    written, timestamps with a fraction, before year 1 and infinite. Each answer must be
    byte for byte the text fs_job_json gives for the stored row. The sweeper is off: the
    trigger's leases expired long ago, and a sweep between an answer and its GET would change
    the stored row."""
    gateway = gateway_factory(env={"FLOWSTATE_SWEEP_INTERVAL_MS": 0})
    db.execute(FILL_EVERY_COLUMN)
    bodies = [{"targetAgent": "fill", "payload": {"i": i, "t": "\u00e9\n\"\\"},
               "runAt": ["2031-05-06T07:08:09Z", "2031-05-06T07:08:09.000001+02:00",
                         "9999-12-31T23:59:59.999999Z", "1970-01-01T00:00:00.5Z"][i % 4],
               "timeoutSeconds": 30} for i in range(40)]
    results = concurrent_posts(gateway, bodies, workers=8, raw=True)
    assert [s for s, _ in results] == [201] * len(bodies), results[:2]
    for body, (_, text) in zip(bodies, results):
        job = json.loads(text)
        assert job["payload"] == body["payload"] and job["lockedBy"].endswith(f" {job['id']}")
        stored = gateway.get(f"/api/jobs/{job['id']}")
        assert stored.status_code == 200
        assert stored.text == text, f"answer:\n{text}\nstored:\n{stored.text}"
