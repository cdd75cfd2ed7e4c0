"""Error handling: 415, 413, malformed JSON, non-object JSON, SQL-injection-looking input stored
verbatim, and odd or huge inputs that must never crash the gateway."""

import json
import socket
import urllib.parse

import pytest

from fsutil import expect, expect_error

JOB = {"targetAgent": "code_analyzer", "payload": {"type": "ai_task"}}


def raw_post(gw, path, data, content_type=None, **kw):
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return gw.post(path, data=data, headers=headers, **kw)


# --- 415 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                                   "text/json", "multipart/form-data; boundary=x"])
def test_415_wrong_content_type(gateway, db, ctype):
    before = db.counts()
    body = json.dumps(JOB)
    expect_error(raw_post(gateway, "/api/jobs", body, ctype), 415, "unsupported_media_type")
    expect_error(
        raw_post(gateway, "/api/agents/register", json.dumps({"agentName": "a"}), ctype),
        415,
        "unsupported_media_type",
    )
    r = gateway.put("/api/agents/a", data=json.dumps({"state": {}}),
                    headers={} if ctype is None else {"Content-Type": ctype})
    expect_error(r, 415, "unsupported_media_type")
    assert db.counts() == before


@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8",
                                   "application/json;charset=UTF-8", "Application/JSON"])
def test_json_content_type_variants_accepted(gateway, db, ctype):
    r = raw_post(gateway, "/api/jobs", json.dumps(JOB), ctype)
    expect(r, 201)
    assert db.count("job_queue") == 1


# --- 413 ----------------------------------------------------------------------------------


def test_413_body_over_limit(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_BODY_LIMIT": "4096"})
    before = db.counts()
    big = {"targetAgent": "a", "payload": {"blob": "x" * 5000}}
    expect_error(gw.post("/api/jobs", json=big), 413, "payload_too_large")
    expect_error(gw.post("/api/documents", json={"content": "y" * 8000}), 413, "payload_too_large")
    assert db.counts() == before
    gw.assert_healthy()
    # just under the limit is fine
    ok = {"targetAgent": "a", "payload": {"blob": "x" * 3900}}
    assert len(json.dumps(ok)) < 4096
    j = expect(gw.post("/api/jobs", json=ok), 201)
    assert j["payload"]["blob"] == "x" * 3900
    # the connection/gateway still works after a 413
    expect_error(gw.post("/api/jobs", json=big), 413, "payload_too_large")
    expect(gw.get(f"/api/jobs/{j['id']}"), 200)
    assert db.count("job_queue") == 1


def test_413_large_body_default_limit(gateway, db):
    before = db.counts()
    big = {"content": "z" * (1024 * 1024 + 10)}
    try:
        r = gateway.post("/api/documents", json=big)
    except Exception as e:  # a reset after the 413 is acceptable only if a 413 was sent
        pytest.fail(f"gateway dropped a 1 MiB+ request without a 413: {e!r}")
    expect_error(r, 413, "payload_too_large")
    assert db.counts() == before
    gateway.assert_healthy()


# --- malformed / non-object JSON ----------------------------------------------------------


MALFORMED = [
    '{"targetAgent": "a", ',
    '{"targetAgent": "a", "payload": {}',
    "{targetAgent: 'a'}",
    '{"targetAgent": "a", "payload": {},}',
    "",
    " ",
    "nul",
    '{"a":1} trailing',
    '{"a": "unterminated}',
    "\x00",
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_json(gateway, db, body):
    before = db.counts()
    for path in ("/api/jobs", "/api/documents", "/api/agents/register", "/api/keys"):
        expect_error(raw_post(gateway, path, body.encode(), "application/json"), 400, "invalid_json")
    job = expect(gateway.post("/api/jobs", json=JOB), 201)
    expect_error(gateway.put(f"/api/jobs/{job['id']}/status", data=body.encode(),
                             headers={"Content-Type": "application/json"}), 400, "invalid_json")
    after = db.counts()
    before["job_queue"] += 1
    assert after == before


@pytest.mark.parametrize("body", ["[1, 2]", "[]", '"a string"', "42", "null", "true",
                                  '[{"targetAgent": "a", "payload": {}}]'])
def test_json_not_an_object(gateway, db, body):
    before = db.counts()
    for path in ("/api/jobs", "/api/documents", "/api/agents/register"):
        expect_error(raw_post(gateway, path, body, "application/json"), 400, "invalid_json")
    assert db.counts() == before


def test_invalid_utf8(gateway, db):
    before = db.counts()
    body = b'{"content": "bad \xff\xfe bytes"}'
    r = raw_post(gateway, "/api/documents", body, "application/json")
    assert r.status_code == 400, f"invalid UTF-8 -> {r.status_code} {r.text}"
    expect_error(r, 400, r.json()["error"]["code"])
    assert r.json()["error"]["code"] in ("invalid_json", "invalid_field")
    assert db.counts() == before
    gateway.assert_healthy()


# --- SQL injection -----------------------------------------------------------------------

NASTY = [
    "'); DROP TABLE job_queue; --",
    "\\' OR 1=1",
    "' OR '1'='1",
    "\"; DELETE FROM api_keys; --",
    "$$; DROP TABLE documents; $$",
    "Robert'); DROP TABLE agent_states;--",
    "%s %d %n {0} ${x}",
    "\\x00\\u0000",
]


def test_sql_injection_stored_verbatim(gateway, db):
    for i, s in enumerate(NASTY):
        job = expect(gateway.post("/api/jobs", json={
            "targetAgent": "code_analyzer", "payload": {"q": s, s: [s]}, "idempotencyKey": s}), 201)
        assert job["payload"] == {"q": s, s: [s]} and job["idempotencyKey"] == s
        again = expect(gateway.get(f"/api/jobs/{job['id']}"), 200)
        assert again["payload"] == {"q": s, s: [s]} and again["idempotencyKey"] == s
        assert db.scalar("SELECT payload->>'q' FROM job_queue WHERE id = %s", (job["id"],)) == s
        assert db.scalar("SELECT idempotency_key FROM job_queue WHERE id = %s", (job["id"],)) == s
        # the key finds the same job again
        assert expect(gateway.post("/api/jobs", json={
            "targetAgent": "code_analyzer", "payload": {}, "idempotencyKey": s}), 200)["id"] == job["id"]

        doc = expect(gateway.post("/api/documents", json={"content": s, "tags": [s], "metadata": {"note": s}}), 201)
        assert doc["content"] == s and doc["metadata"]["tags"] == [s] and doc["metadata"]["note"] == s
        assert expect(gateway.get(f"/api/documents/{doc['id']}"), 200)["content"] == s
        assert db.scalar("SELECT content FROM documents WHERE id = %s", (doc["id"],)) == s

        name = f"agent_{i}"
        a = expect(gateway.post("/api/agents/register", json={"agentName": name, "initialState": {"s": s}}), 201)
        assert a["state"] == {"s": s}
        b = expect(gateway.put(f"/api/agents/{name}", json={"state": {s: s}, "merge": True}), 200)
        assert b["state"] == {"s": s, s: s}

        # query strings and path segments
        r = gateway.get("/api/documents/search", params={"q": s, "agentName": s, "tag": s})
        assert r.status_code in (200, 400), r.text
        r = gateway.get("/api/jobs", params={"agent": s})
        assert r.status_code in (200, 400), r.text
        if r.status_code == 200:
            assert r.json()["jobs"] == []
        r = gateway.get("/api/agents/" + urllib.parse.quote(s, safe=""))
        assert r.status_code in (400, 404), r.text

    # every table is still there and whole
    assert db.count("job_queue") == len(NASTY)
    assert db.count("documents") == len(NASTY)
    assert db.count("agent_states") == len(NASTY)
    assert db.count("api_keys") == 1
    gateway.assert_healthy()


# --- odd and huge input --------------------------------------------------------------------


def test_unicode_roundtrip(gateway, db):
    text = "héllo wörld — 你好 — 🎉🚀 — \u2028 line sep — ∑∫√ — \"quoted\" \\ back — tab\t nl\n"
    job = expect(gateway.post("/api/jobs", json={"targetAgent": "a", "payload": {"t": text, "ключ": "значение"}}), 201)
    assert job["payload"] == {"t": text, "ключ": "значение"}
    assert expect(gateway.get(f"/api/jobs/{job['id']}"), 200)["payload"]["t"] == text
    assert db.scalar("SELECT payload->>'t' FROM job_queue WHERE id = %s", (job["id"],)) == text
    # raw (unescaped) UTF-8 in the body
    raw = json.dumps({"content": text, "tags": ["日本語"]}, ensure_ascii=False).encode("utf-8")
    doc = expect(raw_post(gateway, "/api/documents", raw, "application/json; charset=utf-8"), 201)
    assert doc["content"] == text and doc["metadata"]["tags"] == ["日本語"]
    assert db.scalar("SELECT content FROM documents WHERE id = %s", (doc["id"],)) == text


def test_nul_escape_never_500(gateway, db):
    # \u0000 is valid JSON but PostgreSQL text/jsonb cannot hold it: a clean 400 or a stored
    # value, never a 500 or a crash.
    before = db.counts()
    r = raw_post(gateway, "/api/jobs", '{"targetAgent":"a","payload":{"x":"a\\u0000b"}}', "application/json")
    assert r.status_code in (201, 400), f"{r.status_code} {r.text}"
    if r.status_code == 400:
        assert db.counts() == before
    r = raw_post(gateway, "/api/documents", '{"content":"a\\u0000b"}', "application/json")
    assert r.status_code in (201, 400), f"{r.status_code} {r.text}"
    gateway.assert_healthy()


@pytest.mark.parametrize("depth", [64, 1000, 100000])
def test_deeply_nested_json(gateway, db, depth):
    payload = "[" * depth + "]" * depth
    body = '{"targetAgent":"a","payload":{"deep":' + payload + "}}"
    r = raw_post(gateway, "/api/jobs", body, "application/json")
    assert r.status_code in (201, 400, 413), f"depth {depth}: {r.status_code} {r.text[:300]}"
    if r.status_code == 201:
        got = expect(gateway.get(f"/api/jobs/{r.json()['id']}"), 200)["payload"]["deep"]
        d = 0
        while isinstance(got, list) and got:
            got, d = got[0], d + 1
        assert d == depth - 1
    else:
        assert db.count("job_queue") == 0
    obj = '{"a":' * depth + "1" + "}" * depth
    r = raw_post(gateway, "/api/documents", '{"content":"c","metadata":' + obj + "}", "application/json")
    assert r.status_code in (201, 400, 413), f"depth {depth}: {r.status_code} {r.text[:300]}"
    gateway.assert_healthy()


def test_huge_agent_name(gateway, db):
    name = "a" * 10000
    expect_error(gateway.post("/api/agents/register", json={"agentName": name}), 400, "invalid_field", "agentName")
    expect_error(gateway.post("/api/jobs", json={"targetAgent": name, "payload": {}}), 400, "invalid_field",
                 "targetAgent")
    r = gateway.get("/api/agents/" + name)
    assert r.status_code in (400, 404, 414, 431), r.status_code
    r = gateway.put("/api/agents/" + name, json={"state": {}})
    assert r.status_code in (400, 404, 414, 431), r.status_code
    r = gateway.get("/api/jobs/agent/" + name)
    assert r.status_code in (200, 400, 404, 414, 431), r.status_code
    if r.status_code in (400, 404):
        assert "error" in r.json()
    r = gateway.get("/api/jobs", params={"agent": name})
    assert r.status_code in (200, 400, 414, 431), r.status_code
    assert db.count("agent_states") == 0 and db.count("job_queue") == 0
    gateway.assert_healthy()


def test_many_fields_and_long_strings(gateway, db):
    payload = {f"k{i}": i for i in range(20000)}
    j = expect(gateway.post("/api/jobs", json={"targetAgent": "a", "payload": payload}), 201)
    assert expect(gateway.get(f"/api/jobs/{j['id']}"), 200)["payload"] == payload
    d = expect(gateway.post("/api/documents", json={"content": "w " * 200000}), 201)
    assert len(d["content"]) == 400000
    gateway.assert_healthy()


def test_odd_numbers(gateway, db):
    for bad in ["1e400", "9223372036854775808", "-9223372036854775809", "NaN", "Infinity", "0x2", "02"]:
        body = '{"targetAgent":"a","payload":{},"priority":' + bad + "}"
        r = raw_post(gateway, "/api/jobs", body, "application/json")
        assert r.status_code == 400, f"priority {bad}: {r.status_code} {r.text}"
    assert db.count("job_queue") == 0
    gateway.assert_healthy()


def test_duplicate_keys_and_empty_key(gateway):
    r = raw_post(gateway, "/api/jobs", '{"targetAgent":"a","payload":{"":1,"x":1,"x":2}}', "application/json")
    assert r.status_code in (201, 400), r.text
    gateway.assert_healthy()


def _raw_http(gw, data, timeout=5):
    chunks = []
    with socket.create_connection(("127.0.0.1", gw.port), timeout=timeout) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the gateway may answer and close before reading everything
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except (OSError, socket.timeout):
            pass
    return b"".join(chunks)


def test_garbage_requests_do_not_crash(gateway):
    cases = [
        b"\x00\x01\x02garbage\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 100000 + b"\r\n\r\n",
        b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n{}",
        b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 99999999999999999999\r\n\r\n{}",
        b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/jobs?limit=%zz&status=%00 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + gateway.key.encode()
        + b"\r\n\r\n",
        b"GET /api/agents/%00%ff HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + gateway.key.encode() + b"\r\n\r\n",
    ]
    for data in cases:
        resp = _raw_http(gateway, data)
        if resp:
            status = int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/") else 0
            assert status != 0 and (status < 500 or status == 505), f"{data[:60]!r} -> {resp[:200]!r}"
        gateway.assert_healthy()
