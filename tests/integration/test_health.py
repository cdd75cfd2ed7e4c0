"""GET /health, GET /ready, X-Request-Id, unknown routes (404) and wrong methods (405)."""

import re
import signal
import time

import requests

from fsutil import REQUEST_ID_RE, child_env, expect, expect_error, free_port, popen_gateway, tail


def test_health_without_key(gateway):
    r = gateway.get("/health", auth=None)
    body = expect(r, 200)
    assert body["status"] == "ok"
    assert body["database"] == "up"
    assert isinstance(body["version"], str) and body["version"]
    assert isinstance(body["uptimeSeconds"], int) and 0 <= body["uptimeSeconds"] < 600


def test_ready_without_key(gateway):
    r = gateway.get("/ready", auth=None)
    assert expect(r, 200) == {"status": "ready"}


def test_health_ignores_a_bad_key(gateway):
    # No key is needed; a wrong one must not turn liveness into 401.
    r = gateway.get("/health", auth="fsk_not_a_real_key")
    assert expect(r, 200)["status"] == "ok"


def test_request_id_echoed(gateway):
    rid = "abc-123.X_y"
    r = gateway.get("/health", headers={"X-Request-Id": rid})
    assert r.headers.get("X-Request-Id") == rid
    max_len = "a" * 64
    r = gateway.get("/ready", headers={"X-Request-Id": max_len})
    assert r.headers.get("X-Request-Id") == max_len


def test_request_id_echoed_on_errors_and_api(gateway):
    r = gateway.get("/no/such/route", headers={"X-Request-Id": "req-404"})
    assert r.status_code == 404
    assert r.headers.get("X-Request-Id") == "req-404"
    r = gateway.get("/api/agents", auth=None, headers={"X-Request-Id": "req-401"})
    assert r.status_code == 401
    assert r.headers.get("X-Request-Id") == "req-401"
    r = gateway.get("/api/agents", headers={"X-Request-Id": "req-200"})
    assert r.status_code == 200
    assert r.headers.get("X-Request-Id") == "req-200"


def test_request_id_generated(gateway):
    a = gateway.get("/health").headers.get("X-Request-Id")
    b = gateway.get("/health").headers.get("X-Request-Id")
    assert a and REQUEST_ID_RE.match(a), f"generated X-Request-Id {a!r}"
    assert b and REQUEST_ID_RE.match(b), f"generated X-Request-Id {b!r}"
    assert a != b, "two requests got the same generated X-Request-Id"


def test_generated_request_ids_count_up(gateway):
    # "<8 hex>-<n>", one prefix per process, n counting up: written without printf, so the
    # digits are checked across carries (9 -> 10, 99 -> 100 once enough requests ran).
    ids = [gateway.get("/health").headers.get("X-Request-Id") for _ in range(120)]
    prefixes = {i.split("-")[0] for i in ids}
    assert len(prefixes) == 1 and re.fullmatch(r"[0-9a-f]{8}", prefixes.pop()), ids[:3]
    numbers = [i.split("-", 1)[1] for i in ids]
    assert all(re.fullmatch(r"[1-9][0-9]*", n) for n in numbers), numbers
    numbers = [int(n) for n in numbers]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), numbers


def test_recycled_request_contexts_carry_nothing_over(gateway):
    # Request contexts are reused; what one request set must not show in the next on the
    # same connection: its client id, its route's allowed methods, its query.
    r = gateway.get("/health", headers={"X-Request-Id": "client-given"})
    assert r.headers.get("X-Request-Id") == "client-given"
    r = gateway.get("/health")
    assert r.headers.get("X-Request-Id") != "client-given"
    assert REQUEST_ID_RE.match(r.headers.get("X-Request-Id", ""))
    expect_error(gateway.delete("/api/jobs"), 405, "method_not_allowed")
    r = gateway.get("/api/nothing/here")
    expect_error(r, 404, "not_found")
    assert "Allow" not in r.headers, r.headers
    expect_error(gateway.get("/api/jobs?status=bogus"), 400, "invalid_field")
    expect(gateway.get("/api/jobs"), 200)


def test_health_uptime_advances(gateway):
    # The body is reused within a second; it must still move on.
    first = expect(gateway.get("/health", auth=None), 200)["uptimeSeconds"]
    time.sleep(1.1)
    later = expect(gateway.get("/health", auth=None), 200)["uptimeSeconds"]
    assert later >= first + 1, (first, later)


def test_invalid_request_id_replaced(gateway):
    for bad in ["has space", "semi;colon", "x" * 65, "quote\"d", "ünïcode"]:
        r = gateway.get("/health", headers={"X-Request-Id": bad.encode("utf-8")})
        assert r.status_code == 200
        got = r.headers.get("X-Request-Id")
        assert got and got != bad, f"invalid X-Request-Id {bad!r} was echoed"
        assert REQUEST_ID_RE.match(got), f"generated X-Request-Id {got!r}"


def test_unknown_route_404_json(gateway):
    for path in ["/nope", "/api", "/api/unknown", "/api/jobs/1/nothing", "/healthz"]:
        expect_error(gateway.get(path), 404, "not_found")


def test_unknown_route_post_404(gateway):
    expect_error(gateway.post("/api/nothing", json={}), 404, "not_found")


def _allow(r):
    return {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}


def test_405_with_allow_header(gateway):
    r = gateway.delete("/api/jobs")
    expect_error(r, 405, "method_not_allowed")
    allow = _allow(r)
    assert {"GET", "POST"} <= allow and "DELETE" not in allow, f"Allow: {r.headers.get('Allow')!r}"

    r = gateway.get("/api/agents/register")
    # GET /api/agents/register could also be read as GET /api/agents/:agentName ("register");
    # either a 405 listing POST or the agent lookup (404) is consistent with the spec.
    if r.status_code == 405:
        assert "POST" in _allow(r)
    else:
        expect_error(r, 404, "not_found")

    r = gateway.post("/health", json={})
    expect_error(r, 405, "method_not_allowed")
    allow = _allow(r)
    assert "GET" in allow and "POST" not in allow, f"Allow: {r.headers.get('Allow')!r}"

    r = gateway.delete("/api/jobs/1/status")
    expect_error(r, 405, "method_not_allowed")
    allow = _allow(r)
    assert "PUT" in allow and "DELETE" not in allow, f"Allow: {r.headers.get('Allow')!r}"

    r = gateway.put("/api/documents/search", json={})
    assert r.status_code == 405, r.text
    assert "GET" in _allow(r)


def test_health_database_up_from_the_first_answer(test_db, tmp_path, gateway_bin):
    # The gateway waits for the database (and migrates) before it listens, so even its very
    # first /health answer must report the database as up.
    port = free_port()
    log = tmp_path / "gw.log"
    with open(log, "wb") as logf:
        proc = popen_gateway([], child_env({"DATABASE_URL": test_db, "PORT": port, "FLOWSTATE_HOST": "127.0.0.1"}),
                             stdout=logf, stderr=logf)
    try:
        first = None
        deadline = time.monotonic() + 10
        while first is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                first = requests.get(f"http://127.0.0.1:{port}/health", timeout=2,
                                     proxies={"http": None}).json()
            except requests.ConnectionError:
                time.sleep(0.002)
        assert first is not None, f"gateway never answered; log:\n{tail(log)}"
        assert first["database"] == "up", f"first /health answer: {first}"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, tail(log)
