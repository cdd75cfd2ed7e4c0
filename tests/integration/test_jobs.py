"""Jobs: create (defaults, all fields, idempotency), get, list + cursor pagination, pending order,
per-agent pending, status transitions, field validation (with nothing stored), seed SQL."""

import datetime as dt

import pytest

from fsutil import assert_recent, expect, expect_error, parse_ts

UTC = dt.timezone.utc
PAYLOAD = {"type": "ai_task", "taskType": "analyze_code", "data": {"code": 'def hello(): print("Hello, World!")'}}


def create(gw, status=201, **fields):
    body = {"targetAgent": "code_analyzer", "payload": PAYLOAD}
    body.update(fields)
    return expect(gw.post("/api/jobs", json=body), status)


def test_create_defaults(gateway, db):
    j = create(gateway)
    assert isinstance(j["id"], int) and j["id"] > 0
    assert j["targetAgent"] == "code_analyzer"
    assert j["payload"] == PAYLOAD
    assert j["status"] == "pending"
    assert j["priority"] == 2
    assert j["maxAttempts"] == 3
    assert j["attempts"] == 0
    for k in ("startedAt", "processedAt", "lockedBy", "lockedUntil", "idempotencyKey", "result", "lastError"):
        assert k in j and j[k] is None, f"{k} = {j.get(k)!r}"
    created = assert_recent(j["createdAt"])
    run_at = assert_recent(j["runAt"])
    assert abs((run_at - created).total_seconds()) < 5
    row = db.one("SELECT * FROM job_queue WHERE id = %s", (j["id"],))
    assert row["payload"] == PAYLOAD and row["target_agent"] == "code_analyzer"
    assert row["status"] == "pending" and row["priority"] == 2 and row["max_attempts"] == 3


def test_create_all_fields(gateway, db):
    j = create(
        gateway,
        payload={"n": 1, "nested": {"list": [1, "two", None, True, 2.5]}},
        priority=4,
        runAt="2030-01-01T00:00:00Z",
        maxAttempts=7,
        idempotencyKey="all-fields-1",
    )
    assert j["payload"] == {"n": 1, "nested": {"list": [1, "two", None, True, 2.5]}}
    assert j["priority"] == 4 and j["maxAttempts"] == 7 and j["idempotencyKey"] == "all-fields-1"
    assert parse_ts(j["runAt"]) == dt.datetime(2030, 1, 1, tzinfo=UTC)
    assert j["status"] == "pending" and j["attempts"] == 0
    row = db.one("SELECT priority, max_attempts, run_at, idempotency_key FROM job_queue WHERE id = %s", (j["id"],))
    assert row["priority"] == 4 and row["max_attempts"] == 7 and row["idempotency_key"] == "all-fields-1"
    assert row["run_at"] == dt.datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "run_at,expected",
    [
        ("2030-01-01T02:00:00+02:00", dt.datetime(2030, 1, 1, tzinfo=UTC)),
        ("2029-12-31T19:30:00-04:30", dt.datetime(2030, 1, 1, tzinfo=UTC)),
        ("2030-06-15T12:34:56.789Z", dt.datetime(2030, 6, 15, 12, 34, 56, 789000, tzinfo=UTC)),
        ("2020-01-01T00:00:00Z", dt.datetime(2020, 1, 1, tzinfo=UTC)),
    ],
)
def test_create_run_at_zones(gateway, run_at, expected):
    assert parse_ts(create(gateway, runAt=run_at)["runAt"]) == expected


def test_create_bounds_accepted(gateway):
    assert create(gateway, priority=0)["priority"] == 0
    assert create(gateway, priority=4)["priority"] == 4
    assert create(gateway, maxAttempts=1)["maxAttempts"] == 1
    assert create(gateway, maxAttempts=100)["maxAttempts"] == 100
    assert create(gateway, idempotencyKey="k" * 200)["idempotencyKey"] == "k" * 200
    assert create(gateway, idempotencyKey="x")["idempotencyKey"] == "x"
    assert create(gateway, targetAgent="A" * 100)["targetAgent"] == "A" * 100
    assert create(gateway, payload={})["payload"] == {}


def test_create_keeps_text_that_json_must_escape(gateway, db):
    """The gateway re-prints the body's values for the group-commit statement: a key and a
    payload with quotes, backslashes, control characters and non-ASCII text are stored as
    sent."""
    key = 'k "quoted" \\ back\nline\ttab \u0001 é 日本 \U0001F600'
    payload = {"s": key, "n": [1, 2.5, -3e-7, 1e21], "nested": {"q": '"'}, "empty": ""}
    j = create(gateway, idempotencyKey=key, payload=payload, runAt="2030-06-15T12:34:56.789Z",
               timeoutSeconds=30)
    assert j["idempotencyKey"] == key and j["payload"] == payload and j["timeoutSeconds"] == 30
    assert db.scalar("SELECT idempotency_key FROM job_queue WHERE id = %s", (j["id"],)) == key
    assert create(gateway, 200, idempotencyKey=key)["id"] == j["id"]  # the same key, found again


def test_idempotency_key(gateway, db):
    a = create(gateway, idempotencyKey="order-42", payload={"v": 1})
    b = create(gateway, 200, idempotencyKey="order-42", payload={"v": 2}, priority=4)
    assert b["id"] == a["id"]
    assert b["payload"] == {"v": 1} and b["priority"] == 2
    assert b == a
    c = create(gateway, 201, idempotencyKey="order-43", payload={"v": 3})
    assert c["id"] != a["id"]
    assert db.count("job_queue", "idempotency_key = 'order-42'") == 1
    assert db.count("job_queue") == 2


def test_get_by_id(gateway):
    j = create(gateway, priority=3)
    assert expect(gateway.get(f"/api/jobs/{j['id']}"), 200) == j
    expect_error(gateway.get("/api/jobs/999999"), 404, "not_found")
    expect_error(gateway.get(f"/api/jobs/{j['id'] + 1}"), 404, "not_found")


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", "1e3", "12abc"])
def test_get_bad_id(gateway, bad):
    expect_error(gateway.get(f"/api/jobs/{bad}"), 400, "invalid_field", "id")


def set_status(gw, job_id, status, expect_status=200, **extra):
    body = {"status": status, **extra}
    r = gw.put(f"/api/jobs/{job_id}/status", json=body)
    if expect_status == 200:
        return expect(r, 200)
    return r


def test_list_newest_first_and_filters(gateway):
    jobs = [create(gateway, targetAgent=a) for a in ["alpha", "beta", "alpha", "gamma", "alpha", "beta"]]
    ids = [j["id"] for j in jobs]
    body = expect(gateway.get("/api/jobs"), 200)
    assert [j["id"] for j in body["jobs"]] == ids[::-1]
    assert body["nextCursor"] is None

    set_status(gateway, ids[0], "completed")
    set_status(gateway, ids[3], "completed")
    set_status(gateway, ids[4], "running")

    got = expect(gateway.get("/api/jobs", params={"status": "completed"}), 200)
    assert [j["id"] for j in got["jobs"]] == [ids[3], ids[0]]
    assert all(j["status"] == "completed" for j in got["jobs"])
    got = expect(gateway.get("/api/jobs", params={"status": "pending"}), 200)
    assert [j["id"] for j in got["jobs"]] == [ids[5], ids[2], ids[1]]
    got = expect(gateway.get("/api/jobs", params={"status": "failed"}), 200)
    assert got["jobs"] == [] and got["nextCursor"] is None

    got = expect(gateway.get("/api/jobs", params={"agent": "alpha"}), 200)
    assert [j["id"] for j in got["jobs"]] == [ids[4], ids[2], ids[0]]
    got = expect(gateway.get("/api/jobs", params={"agent": "alpha", "status": "pending"}), 200)
    assert [j["id"] for j in got["jobs"]] == [ids[2]]
    got = expect(gateway.get("/api/jobs", params={"agent": "nobody"}), 200)
    assert got["jobs"] == []


def collect_pages(gw, params, limit, path="/api/jobs"):
    seen, pages, cursor = [], 0, None
    while True:
        p = dict(params, limit=limit)
        if cursor is not None:
            p["cursor"] = cursor
        body = expect(gw.get(path, params=p), 200)
        pages += 1
        assert len(body["jobs"]) <= limit
        seen.extend(j["id"] for j in body["jobs"])
        cursor = body["nextCursor"]
        if cursor is None:
            return seen, pages
        assert isinstance(cursor, str) and cursor, f"nextCursor {cursor!r}"
        assert body["jobs"], "a non-final page is empty"
        assert pages < 100, "pagination does not end"


def test_cursor_pagination(gateway):
    ids = [create(gateway, targetAgent="pg" if i % 3 else "other", payload={"i": i})["id"] for i in range(25)]
    seen, pages = collect_pages(gateway, {}, 10)
    assert seen == ids[::-1], "pages must cover every job once, newest first"
    assert pages == 3
    first = expect(gateway.get("/api/jobs", params={"limit": 10}), 200)
    assert len(first["jobs"]) == 10 and first["nextCursor"] is not None

    # exact multiple of the page size
    seen, _ = collect_pages(gateway, {}, 5)
    assert seen == ids[::-1]
    # with a filter
    want = [i for n, i in enumerate(ids) if n % 3][::-1]
    seen, _ = collect_pages(gateway, {"agent": "pg"}, 4)
    assert seen == want

    # a job added while paging does not disturb older pages
    page1 = expect(gateway.get("/api/jobs", params={"limit": 10}), 200)
    create(gateway)
    page2 = expect(gateway.get("/api/jobs", params={"limit": 10, "cursor": page1["nextCursor"]}), 200)
    assert [j["id"] for j in page2["jobs"]] == ids[::-1][10:20]


def test_list_limit_default_and_max(gateway, db):
    db.execute(
        "INSERT INTO job_queue (payload, target_agent) SELECT jsonb_build_object('i', g), 'bulk' "
        "FROM generate_series(1, 520) g"
    )
    assert len(expect(gateway.get("/api/jobs"), 200)["jobs"]) == 50
    body = expect(gateway.get("/api/jobs", params={"limit": 500}), 200)
    assert len(body["jobs"]) == 500 and body["nextCursor"] is not None
    assert len(expect(gateway.get("/api/jobs/pending"), 200)["jobs"]) == 100
    assert len(expect(gateway.get("/api/jobs/pending", params={"limit": 1000}), 200)["jobs"]) == 520
    assert len(expect(gateway.get("/api/jobs/agent/bulk"), 200)["jobs"]) == 100


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"limit": -5}, "limit"),
        ({"status": "done"}, "status"),
        ({"status": "PENDING"}, "status"),
        ({"cursor": "abc"}, "cursor"),
    ],
)
def test_list_bad_params(gateway, params, field):
    expect_error(gateway.get("/api/jobs", params=params), 400, "invalid_field", field)


@pytest.mark.parametrize("path", ["/api/jobs/pending", "/api/jobs/agent/a1"])
@pytest.mark.parametrize("limit", [0, 1001, "ten"])
def test_pending_bad_limit(gateway, path, limit):
    expect_error(gateway.get(path, params={"limit": limit}), 400, "invalid_field", "limit")


def test_pending_order(gateway):
    spec = [
        ("a1", 2, "2020-01-02T00:00:00Z"),
        ("a2", 4, "2020-01-03T00:00:00Z"),
        ("a1", 2, "2020-01-01T00:00:00Z"),
        ("a1", 0, "2020-01-01T00:00:00Z"),
        ("a2", 4, "2020-01-03T00:00:00Z"),
        ("a1", 4, "2020-01-05T00:00:00+05:00"),  # = 2020-01-04T19:00Z
        ("a2", 3, "2019-12-31T00:00:00Z"),
        ("a1", 2, "2020-01-01T00:00:00Z"),
    ]
    jobs = [create(gateway, targetAgent=a, priority=p, runAt=t) for a, p, t in spec]
    # non-pending jobs are not listed
    done = create(gateway, targetAgent="a1", priority=4, runAt="2019-01-01T00:00:00Z")
    running = create(gateway, targetAgent="a1", priority=4, runAt="2019-01-01T00:00:00Z")
    set_status(gateway, done["id"], "completed")
    set_status(gateway, running["id"], "running")

    def key(j):
        return (-j["priority"], parse_ts(j["runAt"]), j["id"])

    want = [j["id"] for j in sorted(jobs, key=key)]
    body = expect(gateway.get("/api/jobs/pending"), 200)
    assert [j["id"] for j in body["jobs"]] == want
    assert all(j["status"] == "pending" for j in body["jobs"])
    assert [j["id"] for j in expect(gateway.get("/api/jobs/pending?limit=3"), 200)["jobs"]] == want[:3]

    # per agent: the same order, only that agent's pending jobs
    for agent in ("a1", "a2"):
        want_a = [j["id"] for j in sorted(jobs, key=key) if j["targetAgent"] == agent]
        body = expect(gateway.get(f"/api/jobs/agent/{agent}"), 200)
        assert [j["id"] for j in body["jobs"]] == want_a, agent
        assert all(j["targetAgent"] == agent and j["status"] == "pending" for j in body["jobs"])
    got = expect(gateway.get("/api/jobs/agent/a1?limit=2"), 200)["jobs"]
    assert [j["id"] for j in got] == [j["id"] for j in sorted(jobs, key=key) if j["targetAgent"] == "a1"][:2]
    assert expect(gateway.get("/api/jobs/agent/nobody"), 200) == {"jobs": [], "nextCursor": None}

    # pages in the same order, for every limit, also while the queue moves under them
    for limit in (1, 3, 8):
        assert collect_pages(gateway, {}, limit, "/api/jobs/pending")[0] == want, limit
    want_a1 = [j["id"] for j in sorted(jobs, key=key) if j["targetAgent"] == "a1"]
    assert collect_pages(gateway, {}, 2, "/api/jobs/agent/a1")[0] == want_a1
    page1 = expect(gateway.get("/api/jobs/pending", params={"limit": 3}), 200)
    assert [j["id"] for j in page1["jobs"]] == want[:3] and page1["nextCursor"] == str(want[2])
    set_status(gateway, want[2], "running")  # the cursor's job is claimed: its place stays
    page2 = expect(gateway.get("/api/jobs/pending", params={"limit": 3, "cursor": page1["nextCursor"]}), 200)
    assert [j["id"] for j in page2["jobs"]] == want[3:6]


@pytest.mark.parametrize("path", ["/api/jobs/pending", "/api/jobs/agent/a1"])
@pytest.mark.parametrize("cursor", ["abc", "0", "-3", "1.5", "99999999999999999999"])
def test_pending_bad_cursor(gateway, path, cursor):
    expect_error(gateway.get(path, params={"cursor": cursor}), 400, "invalid_field", "cursor")


def test_pending_cursor_of_a_job_that_is_gone(gateway, db):
    job = create(gateway, targetAgent="a1")
    db.execute("DELETE FROM job_queue WHERE id = %s", (job["id"],))
    for path in ("/api/jobs/pending", "/api/jobs/agent/a1"):
        expect_error(gateway.get(path, params={"cursor": job["id"]}), 400, "invalid_field", "cursor")


def test_list_answers_are_compact(gateway):
    # Lists are printed like single objects: no blanks between keys, values and items.
    for i in range(2):
        create(gateway, targetAgent="a1", payload={"i": i})
    expect(gateway.post("/agents/message", json={"from_agent": "a", "to_agent": "b", "message": "m"}), 201)
    expect(gateway.post("/api/agents/register", json={"agentName": "a1", "initialState": {}}), 201)
    doc = expect(gateway.post("/api/documents", json={"content": "a note about notes"}), 201)
    expect(gateway.post("/api/documents", json={"content": "another note"}), 201)
    for path in ("/api/jobs", "/api/jobs/pending", "/api/jobs/agent/a1", "/api/agents/b/messages",
                 "/api/agents", "/agents", "/api/documents", "/api/keys"):
        r = gateway.get(path)
        expect(r, 200)
        assert " : " not in r.text and "}, {" not in r.text, f"{path}: {r.text[:200]}"
    # so are the memory searches (their documents too), the health check and the statistics
    answers = [gateway.get("/api/documents/search", params={"q": "note", "mode": mode})
               for mode in ("keyword", "semantic", "hybrid")]
    answers += [gateway.get(f"/api/documents/{doc['id']}/similar"), gateway.post("/system/health-check"),
                gateway.get("/api/stats/jobs"), gateway.get("/health")]
    for r in answers:
        body = expect(r, 200)
        # (metadata is jsonb, printed as stored: {"timestamp": "…"})
        assert " : " not in r.text and "}, {" not in r.text and '{"id": ' not in r.text, \
            f"{r.url}: {r.text[:200]}"
        assert body.get("documents", [None]) and body.get("agents", [None]), f"{r.url}: {r.text[:200]}"


def test_status_pending_running_completed(gateway, db):
    j = create(gateway)
    r = set_status(gateway, j["id"], "running")
    assert r["status"] == "running" and r["attempts"] == 1
    started = assert_recent(r["startedAt"])
    assert r["processedAt"] is None

    # running -> pending (e.g. a retry), then running again counts a second attempt
    r = set_status(gateway, j["id"], "pending")
    assert r["status"] == "pending" and r["attempts"] == 1
    r = set_status(gateway, j["id"], "running")
    assert r["attempts"] == 2 and parse_ts(r["startedAt"]) >= started

    r = set_status(gateway, j["id"], "completed", result={"ok": True, "lines": [1, 2]})
    assert r["status"] == "completed"
    assert r["result"] == {"ok": True, "lines": [1, 2]}
    assert_recent(r["processedAt"])
    assert r["attempts"] == 2
    assert expect(gateway.get(f"/api/jobs/{j['id']}"), 200) == r
    row = db.one("SELECT status, result, processed_at, attempts FROM job_queue WHERE id = %s", (j["id"],))
    assert row["status"] == "completed" and row["result"] == {"ok": True, "lines": [1, 2]}


def test_status_failed_and_cancelled(gateway):
    a = create(gateway)
    r = set_status(gateway, a["id"], "failed", error="boom: it broke")
    assert r["status"] == "failed" and r["lastError"] == "boom: it broke"
    assert_recent(r["processedAt"])
    b = create(gateway)
    r = set_status(gateway, b["id"], "cancelled")
    assert r["status"] == "cancelled" and r["processedAt"] is not None and r["attempts"] == 0
    c = create(gateway)
    r = set_status(gateway, c["id"], "completed", result=[1, "x"])
    assert r["result"] == [1, "x"] and r["attempts"] == 0
    d = create(gateway)
    set_status(gateway, d["id"], "running")
    r = set_status(gateway, d["id"], "cancelled")
    assert r["status"] == "cancelled"
    e = create(gateway)
    set_status(gateway, e["id"], "running")
    r = set_status(gateway, e["id"], "failed", error="x", result={"partial": 1})
    assert r["status"] == "failed" and r["lastError"] == "x" and r["result"] == {"partial": 1}


@pytest.mark.parametrize("terminal", ["completed", "failed", "cancelled"])
def test_status_409_from_terminal(gateway, db, terminal):
    j = create(gateway)
    done = set_status(gateway, j["id"], terminal)
    for to in {"pending", "running", "completed", "failed", "cancelled"} - {terminal}:
        r = set_status(gateway, j["id"], to, expect_status=None)
        expect_error(r, 409, "conflict")
    after = expect(gateway.get(f"/api/jobs/{j['id']}"), 200)
    assert after == done
    # Same status again: a no-op that returns the job.
    again = set_status(gateway, j["id"], terminal)
    assert again == done


def test_status_same_is_noop(gateway):
    j = create(gateway)
    r = set_status(gateway, j["id"], "pending")
    assert r == j
    run = set_status(gateway, j["id"], "running")
    again = set_status(gateway, j["id"], "running")
    assert again == run and again["attempts"] == 1


def test_status_404(gateway, db):
    expect_error(gateway.put("/api/jobs/999999/status", json={"status": "running"}), 404, "not_found")
    assert db.count("job_queue") == 0


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "status"),
        ({"status": "done"}, "status"),
        ({"status": None}, "status"),
        ({"status": 1}, "status"),
        ({"status": "Completed"}, "status"),
        ({"status": "failed", "error": 42}, "error"),
        ({"status": "failed", "error": {"msg": "x"}}, "error"),
    ],
)
def test_status_invalid(gateway, db, body, field):
    j = create(gateway)
    expect_error(gateway.put(f"/api/jobs/{j['id']}/status", json=body), 400, "invalid_field", field)
    assert expect(gateway.get(f"/api/jobs/{j['id']}"), 200) == j


@pytest.mark.parametrize("bad", ["abc", "0", "-3", "2.0"])
def test_status_bad_job_id(gateway, bad):
    r = gateway.put(f"/api/jobs/{bad}/status", json={"status": "running"})
    expect_error(r, 400, "invalid_field", ("jobId", "id"))


INVALID_CREATE = [
    # targetAgent
    ({"payload": {}}, "targetAgent"),
    ({"targetAgent": "", "payload": {}}, "targetAgent"),
    ({"targetAgent": None, "payload": {}}, "targetAgent"),
    ({"targetAgent": 7, "payload": {}}, "targetAgent"),
    ({"targetAgent": "has space", "payload": {}}, "targetAgent"),
    ({"targetAgent": "x" * 101, "payload": {}}, "targetAgent"),
    ({"targetAgent": "drop';--", "payload": {}}, "targetAgent"),
    # payload
    ({"targetAgent": "a"}, "payload"),
    ({"targetAgent": "a", "payload": None}, "payload"),
    ({"targetAgent": "a", "payload": []}, "payload"),
    ({"targetAgent": "a", "payload": "text"}, "payload"),
    ({"targetAgent": "a", "payload": 5}, "payload"),
    # priority
    ({"targetAgent": "a", "payload": {}, "priority": -1}, "priority"),
    ({"targetAgent": "a", "payload": {}, "priority": 5}, "priority"),
    ({"targetAgent": "a", "payload": {}, "priority": "high"}, "priority"),
    ({"targetAgent": "a", "payload": {}, "priority": "2"}, "priority"),
    ({"targetAgent": "a", "payload": {}, "priority": 2.5}, "priority"),
    ({"targetAgent": "a", "payload": {}, "priority": True}, "priority"),
    ({"targetAgent": "a", "payload": {}, "priority": 1e300}, "priority"),
    # runAt
    ({"targetAgent": "a", "payload": {}, "runAt": "tomorrow"}, "runAt"),
    ({"targetAgent": "a", "payload": {}, "runAt": "2030-13-01T00:00:00Z"}, "runAt"),
    ({"targetAgent": "a", "payload": {}, "runAt": "2030-01-01T00:00:00"}, "runAt"),
    ({"targetAgent": "a", "payload": {}, "runAt": "2030-02-30T00:00:00Z"}, "runAt"),
    ({"targetAgent": "a", "payload": {}, "runAt": "2030-01-01T25:00:00Z"}, "runAt"),
    ({"targetAgent": "a", "payload": {}, "runAt": ""}, "runAt"),
    ({"targetAgent": "a", "payload": {}, "runAt": 1893456000}, "runAt"),
    ({"targetAgent": "a", "payload": {}, "runAt": "now"}, "runAt"),
    # maxAttempts
    ({"targetAgent": "a", "payload": {}, "maxAttempts": 0}, "maxAttempts"),
    ({"targetAgent": "a", "payload": {}, "maxAttempts": 101}, "maxAttempts"),
    ({"targetAgent": "a", "payload": {}, "maxAttempts": -1}, "maxAttempts"),
    ({"targetAgent": "a", "payload": {}, "maxAttempts": "3"}, "maxAttempts"),
    ({"targetAgent": "a", "payload": {}, "maxAttempts": 1.5}, "maxAttempts"),
    # idempotencyKey
    ({"targetAgent": "a", "payload": {}, "idempotencyKey": ""}, "idempotencyKey"),
    ({"targetAgent": "a", "payload": {}, "idempotencyKey": "k" * 201}, "idempotencyKey"),
    ({"targetAgent": "a", "payload": {}, "idempotencyKey": 12}, "idempotencyKey"),
]


@pytest.mark.parametrize("body,field", INVALID_CREATE, ids=[f"{f}-{i}" for i, (_, f) in enumerate(INVALID_CREATE)])
def test_create_invalid_field(gateway, db, body, field):
    expect_error(gateway.post("/api/jobs", json=body), 400, "invalid_field", field)
    assert db.count("job_queue") == 0, "a rejected job was stored"


def test_seed_query_pending_jobs(gateway, db):
    jobs = [create(gateway, payload={"n": i}) for i in range(3)]
    other = create(gateway, payload={"n": 99})
    set_status(gateway, other["id"], "completed")
    rows = db.query("SELECT * FROM job_queue WHERE status = 'pending' ORDER BY created_at;")
    assert [r["id"] for r in rows] == [j["id"] for j in jobs]
    assert [r["payload"] for r in rows] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert all(r["target_agent"] == "code_analyzer" and r["attempts"] == 0 for r in rows)
    assert all(r["processed_at"] is None for r in rows)
