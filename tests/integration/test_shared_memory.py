"""Shared memory (GET|PUT|DELETE /api/memory/shared/:scope/:scopeId/:key and the scope's
listing) on a real gateway and PostgreSQL: writes and reads, compare-and-set with
expectedVersion and If-Match, concurrent compare-and-set increments that all land, every bad
input refused with its status and nothing changed, roles; and the worker runtime's
task_shared_add, through ping's sharedCounter, from many executor threads at once."""

import json
import threading

import pytest
import requests

from fsutil import assert_recent, expect, expect_error, parse_ts

BASE = "/api/memory/shared"


def url(scope="run", scope_id="42", key=None):
    return f"{BASE}/{scope}/{scope_id}" + (f"/{key}" if key is not None else "")


def rows(db):
    return db.query("SELECT scope, scope_id, key, value, version, created_at, updated_at, updated_by"
                    " FROM shared_memory ORDER BY scope, scope_id, key")


def etag(r):
    return r.headers.get("ETag")


def test_put_get_list_delete(gateway, db):
    r = gateway.put(url(key="plan"), json={"value": {"steps": ["a", "b"], "n": 2}, "updatedBy": "coordinator"})
    e = expect(r, 201)
    v1 = e["version"]
    assert isinstance(v1, int) and v1 >= 1, e
    assert etag(r) == f'"{v1}"', r.headers
    assert {k: e[k] for k in ("scope", "scopeId", "key", "value", "updatedBy")} == {
        "scope": "run", "scopeId": "42", "key": "plan", "value": {"steps": ["a", "b"], "n": 2},
        "updatedBy": "coordinator"}, e
    assert_recent(e["createdAt"])
    assert_recent(e["updatedAt"])

    r = gateway.get(url(key="plan"))
    assert expect(r, 200) == e and etag(r) == f'"{v1}"'

    # An unconditional write replaces the value and gives a new, larger version.
    r = gateway.put(url(key="plan"), json={"value": [1, "two", None, True]})
    e2 = expect(r, 200)
    assert e2["value"] == [1, "two", None, True] and e2["version"] > v1 and etag(r) == f'"{e2["version"]}"'
    assert e2["createdAt"] == e["createdAt"] and parse_ts(e2["updatedAt"]) >= parse_ts(e["updatedAt"])
    assert e2["updatedBy"] is None, e2

    # Every JSON value, null too; numbers exactly as sent.
    for key, text, want in [("s", '"text"', "text"), ("null", "null", None), ("f", "false", False),
                            ("big", "123456789012345678901234567890", 123456789012345678901234567890),
                            ("dec", "1.50", 1.5)]:
        r = gateway.put(url(key=key), data='{"value": %s}' % text, headers={"Content-Type": "application/json"})
        assert expect(r, 201)["value"] == want
    assert '"value":123456789012345678901234567890,' in gateway.get(url(key="big")).text
    assert '"value":1.50,' in gateway.get(url(key="dec")).text

    # Scopes are apart: the same key in another run and in a conversation.
    expect(gateway.put(url(scope_id="43", key="plan"), json={"value": "other run"}), 201)
    expect(gateway.put(url(scope="conversation", scope_id="42", key="plan"), json={"value": "talk"}), 201)
    assert expect(gateway.get(url(key="plan")), 200)["value"] == [1, "two", None, True]
    assert expect(gateway.get(url(scope="conversation", key="plan")), 200)["value"] == "talk"

    # The listing: keys in byte order, pages of `limit` followed by nextCursor, each key once.
    page = expect(gateway.get(url()), 200)
    assert [x["key"] for x in page["entries"]] == ["big", "dec", "f", "null", "plan", "s"], page
    assert page["nextCursor"] is None and page["entries"][4] == e2, page
    seen, cursor = [], None
    while True:
        q = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = expect(gateway.get(url() + q), 200)
        assert len(page["entries"]) <= 2
        seen += [x["key"] for x in page["entries"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert cursor == seen[-1], page
    assert seen == ["big", "dec", "f", "null", "plan", "s"], seen
    assert expect(gateway.get(url(scope_id="nobody")), 200) == {"entries": [], "nextCursor": None}

    # Delete answers the entry as it was; then it is gone.
    r = gateway.delete(url(key="plan"))
    assert expect(r, 200) == e2
    expect_error(gateway.get(url(key="plan")), 404, "not_found")
    expect_error(gateway.delete(url(key="plan")), 404, "not_found")
    assert "plan" not in [x["key"] for x in expect(gateway.get(url()), 200)["entries"]]
    assert [(x["scope"], x["scope_id"], x["key"]) for x in rows(db) if x["key"] == "plan"] == [
        ("conversation", "42", "plan"), ("run", "43", "plan")]


def test_compare_and_set(gateway, db):
    k = url(key="score")
    # expectedVersion 0: only while absent.
    v1 = expect(gateway.put(k, json={"value": 1, "expectedVersion": 0}), 201)["version"]
    err = expect_error(gateway.put(k, json={"value": 2, "expectedVersion": 0}), 409, "version_conflict",
                       "expectedVersion")
    assert err["currentVersion"] == v1 and f"is at version {v1}" in err["message"], err
    # The version last read: one write succeeds, a second with the same version conflicts.
    v2 = expect(gateway.put(k, json={"value": 2, "expectedVersion": v1}), 200)["version"]
    assert v2 > v1
    err = expect_error(gateway.put(k, json={"value": 3, "expectedVersion": v1}), 409, "version_conflict")
    assert err["currentVersion"] == v2, err
    # If-Match carries the version as the ETag gave it (or bare).
    r = gateway.get(k)
    v3 = expect(gateway.put(k, json={"value": 3}, headers={"If-Match": etag(r)}), 200)["version"]
    err = expect_error(gateway.put(k, json={"value": 4}, headers={"If-Match": str(v2)}), 409, "version_conflict",
                       "If-Match")
    assert err["currentVersion"] == v3, err
    # Both may be given when they agree.
    v4 = expect(gateway.put(k, json={"value": 4, "expectedVersion": v3}, headers={"If-Match": f'"{v3}"'}),
                200)["version"]
    assert [(r["value"], r["version"]) for r in rows(db)] == [(4, v4)]

    # A version on an absent key conflicts with currentVersion 0, and creates nothing.
    err = expect_error(gateway.put(url(key="absent"), json={"value": 1, "expectedVersion": 5}), 409,
                       "version_conflict")
    assert err["currentVersion"] == 0 and "does not exist" in err["message"], err
    expect_error(gateway.get(url(key="absent")), 404, "not_found")

    # Delete with a stale version conflicts and keeps the entry; with the current one it deletes.
    err = expect_error(gateway.delete(k + f"?expectedVersion={v3}"), 409, "version_conflict", "expectedVersion")
    assert err["currentVersion"] == v4
    err = expect_error(gateway.delete(k, headers={"If-Match": f'"{v3}"'}), 409, "version_conflict", "If-Match")
    assert expect(gateway.get(k), 200)["version"] == v4
    expect(gateway.delete(k, headers={"If-Match": f'"{v4}"'}), 200)
    expect_error(gateway.delete(k + f"?expectedVersion={v4}"), 404, "not_found")

    # Written again after the delete, the key never reuses a version, so a writer holding one
    # from before the delete cannot overwrite the new entry.
    v5 = expect(gateway.put(k, json={"value": "again", "expectedVersion": 0}), 201)["version"]
    assert v5 > v4
    for old in (v1, v2, v3, v4):
        err = expect_error(gateway.put(k, json={"value": "stale", "expectedVersion": old}), 409,
                           "version_conflict")
        assert err["currentVersion"] == v5
    assert [(r["value"], r["version"]) for r in rows(db)] == [("again", v5)]


def test_concurrent_increments_all_land(gateway, db):
    """Threads increment one counter by compare-and-set (read, then PUT with the version
    read; on 409 read again): every increment lands exactly once."""
    threads, per_thread = 8, 25
    k = gateway.url + url(scope="conversation", scope_id="c-1", key="counter")
    headers = {"Authorization": f"Bearer {gateway.key}"}
    versions, conflicts, errors = [], [0], []
    lock = threading.Lock()

    def work():
        s = requests.Session()
        s.trust_env = False
        try:
            for _ in range(per_thread):
                while True:
                    r = s.get(k, headers=headers, timeout=30)
                    if r.status_code == 404:
                        value, version = 0, 0
                    else:
                        assert r.status_code == 200, r.text
                        value, version = r.json()["value"], r.json()["version"]
                    w = s.put(k, json={"value": value + 1, "expectedVersion": version}, headers=headers, timeout=30)
                    if w.status_code in (200, 201):
                        with lock:
                            versions.append(w.json()["version"])
                        break
                    assert w.status_code == 409 and w.json()["error"]["code"] == "version_conflict", w.text
                    with lock:
                        conflicts[0] += 1
        except Exception as e:  # reported by the main thread
            errors.append(repr(e))

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors[:3]
    assert not any(t.is_alive() for t in ts)
    final = expect(gateway.get(url(scope="conversation", scope_id="c-1", key="counter")), 200)
    assert len(versions) == threads * per_thread
    assert final["value"] == len(versions), (final, len(versions), conflicts[0])
    assert len(set(versions)) == len(versions) and final["version"] == max(versions)
    print(f"{len(versions)} increments, {conflicts[0]} conflicts retried")


def test_bad_input_is_refused_and_changes_nothing(gateway_factory, db):
    gateway = gateway_factory(env={"FLOWSTATE_BODY_LIMIT": "4096"})
    k = url(key="k")
    v = expect(gateway.put(k, json={"value": {"keep": True}}), 201)["version"]
    before = rows(db)
    json_h = {"Content-Type": "application/json"}
    long_name = "a" * 201
    cases = [
        # path
        ("PUT", url(scope="workflow", key="k"), {"json": {"value": 1}}, 400, "invalid_field", "scope"),
        ("PUT", url(scope="RUN", key="k"), {"json": {"value": 1}}, 400, "invalid_field", "scope"),
        ("GET", url(scope="runs", key="k"), {}, 400, "invalid_field", "scope"),
        ("GET", url(scope="runs"), {}, 400, "invalid_field", "scope"),
        ("DELETE", url(scope="x", key="k"), {}, 400, "invalid_field", "scope"),
        ("PUT", url(scope_id="a%20b", key="k"), {"json": {"value": 1}}, 400, "invalid_field", "scopeId"),
        ("PUT", url(scope_id=long_name, key="k"), {"json": {"value": 1}}, 400, "invalid_field", "scopeId"),
        ("GET", url(scope_id="a:b"), {}, 400, "invalid_field", "scopeId"),
        ("PUT", url(key="k%2Fx"), {"json": {"value": 1}}, 400, "invalid_field", "key"),
        ("PUT", url(key="k:x"), {"json": {"value": 1}}, 400, "invalid_field", "key"),
        ("PUT", url(key=long_name), {"json": {"value": 1}}, 400, "invalid_field", "key"),
        ("GET", url(key="%C3%A9"), {}, 400, "invalid_field", "key"),
        ("DELETE", url(key="k%20"), {}, 400, "invalid_field", "key"),
        # body
        ("PUT", k, {"json": {"expectedVersion": v}}, 400, "invalid_field", "value"),
        ("PUT", k, {"json": {"val": 1}}, 400, "invalid_field", "value"),
        ("PUT", k, {"data": "[1]", "headers": json_h}, 400, "invalid_json", None),
        ("PUT", k, {"data": '{"value": ', "headers": json_h}, 400, "invalid_json", None),
        ("PUT", k, {"data": '{"value": 1e131072}', "headers": json_h}, 400, "invalid_json", None),
        ("PUT", k, {"data": '{"value": "\\u0000"}', "headers": json_h}, 400, "invalid_json", None),
        ("PUT", k, {"data": '{"value": 1}', "headers": {"Content-Type": "text/plain"}}, 415,
         "unsupported_media_type", None),
        ("PUT", k, {"json": {"value": "x" * 5000}}, 413, "payload_too_large", None),
        ("PUT", k, {"json": {"value": 1, "expectedVersion": -1}}, 400, "invalid_field", "expectedVersion"),
        ("PUT", k, {"json": {"value": 1, "expectedVersion": str(v)}}, 400, "invalid_field", "expectedVersion"),
        ("PUT", k, {"json": {"value": 1, "expectedVersion": v + 0.5}}, 400, "invalid_field", "expectedVersion"),
        ("PUT", k, {"json": {"value": 1, "updatedBy": "a b"}}, 400, "invalid_field", "updatedBy"),
        ("PUT", k, {"json": {"value": 1, "updatedBy": 7}}, 400, "invalid_field", "updatedBy"),
        # If-Match
        ("PUT", k, {"json": {"value": 1}, "headers": {"If-Match": f'W/"{v}"'}}, 400, "invalid_field", "If-Match"),
        ("PUT", k, {"json": {"value": 1}, "headers": {"If-Match": "*"}}, 400, "invalid_field", "If-Match"),
        ("PUT", k, {"json": {"value": 1}, "headers": {"If-Match": f'"0{v}"'}}, 400, "invalid_field", "If-Match"),
        ("PUT", k, {"json": {"value": 1}, "headers": {"If-Match": f'"{v}", "{v + 1}"'}}, 400, "invalid_field",
         "If-Match"),
        ("PUT", k, {"json": {"value": 1, "expectedVersion": v}, "headers": {"If-Match": f'"{v + 1}"'}}, 400,
         "invalid_field", "If-Match"),
        ("DELETE", k, {"headers": {"If-Match": "abc"}}, 400, "invalid_field", "If-Match"),
        ("DELETE", k, {"headers": {"If-Match": '"0"'}}, 400, "invalid_field", "If-Match"),
        ("DELETE", k + "?expectedVersion=0", {}, 400, "invalid_field", "expectedVersion"),
        ("DELETE", k + "?expectedVersion=x", {}, 400, "invalid_field", "expectedVersion"),
        ("DELETE", k + f"?expectedVersion={v}", {"headers": {"If-Match": f'"{v + 1}"'}}, 400, "invalid_field",
         "If-Match"),
        # listing
        ("GET", url() + "?limit=0", {}, 400, "invalid_field", "limit"),
        ("GET", url() + "?limit=501", {}, 400, "invalid_field", "limit"),
        ("GET", url() + "?cursor=a%20b", {}, 400, "invalid_field", "cursor"),
        ("GET", url() + "?cursor=", {}, 400, "invalid_field", "cursor"),
        # methods
        ("POST", k, {"json": {"value": 1}}, 405, "method_not_allowed", None),
        ("PUT", url(), {"json": {"value": 1}}, 405, "method_not_allowed", None),
    ]
    for method, path, kw, status, code, field in cases:
        r = gateway.request(method, path, **kw)
        try:
            expect_error(r, status, code, field)
        except AssertionError as e:
            raise AssertionError(f"{method} {path} {kw}: {e}") from None
        assert rows(db) == before, f"{method} {path} {kw} changed shared_memory"
    gateway.assert_healthy()


def test_roles(gateway, db):
    k = url(key="k")
    expect(gateway.put(k, json={"value": 1}), 201)
    viewer, agent, operator = gateway.create_key("viewer"), gateway.create_key("agent"), gateway.create_key("operator")
    # Reads: any role; writes: admin, operator, agent.
    assert expect(gateway.get(k, auth=viewer), 200)["value"] == 1
    assert len(expect(gateway.get(url(), auth=viewer), 200)["entries"]) == 1
    expect_error(gateway.put(k, json={"value": 2}, auth=viewer), 403, "forbidden")
    expect_error(gateway.delete(k, auth=viewer), 403, "forbidden")
    for path in (k, url()):
        expect_error(gateway.get(path, auth=None), 401, "unauthorized")
    expect_error(gateway.put(k, json={"value": 2}, auth=None), 401, "unauthorized")
    expect_error(gateway.delete(k, auth=None), 401, "unauthorized")
    assert [r["value"] for r in rows(db)] == [1]
    assert expect(gateway.put(k, json={"value": 2}, auth=agent), 200)["value"] == 2
    assert expect(gateway.put(k, json={"value": 3}, auth=operator), 200)["value"] == 3
    expect(gateway.delete(k, auth=agent), 200)
    assert rows(db) == []


# --- the worker runtime ---------------------------------------------------------------------


def test_runtime_counter_from_many_tasks_at_once(stack):
    """40 pings, each adding 1 to one shared counter through task_shared_add, run by two
    worker processes of 16 executor threads: every add lands once, so the adds wrote 1..40."""
    counter = {"scope": "run", "scopeId": "run-7", "key": "pings"}
    for _ in range(2):
        stack.start_worker("code_analyzer", env={"FLOWSTATE_CONCURRENCY": "16"})
    ids = stack.insert_jobs(40, payload={"taskType": "ping", "sharedCounter": counter})
    done = stack.wait_status(ids, "completed", 60, "the counting pings completed")
    assert sorted(r["result"]["sharedCounter"] for r in done.values()) == list(range(1, 41))
    assert all(r["attempts"] == 1 for r in done.values())
    entry = expect(stack.gateway().get(url("run", "run-7", "pings")), 200)
    assert entry["value"] == 40 and entry["updatedBy"] == "code_analyzer", entry


def test_runtime_counter_refusals_fail_without_retry(stack):
    stack.start_worker("code_analyzer")
    expect(stack.gateway().put(url("conversation", "c1", "words"), json={"value": "not a number"}), 201)
    bad = {
        "a": {"taskType": "ping", "sharedCounter": {"scope": "workflow", "scopeId": "1", "key": "k"}},
        "b": {"taskType": "ping", "sharedCounter": {"scope": "run", "scopeId": "1", "key": "a/b"}},
        "c": {"taskType": "ping", "sharedCounter": {"scope": "run", "scopeId": "1"}},
        "d": {"taskType": "ping", "sharedCounter": {"scope": "conversation", "scopeId": "c1", "key": "words"}},
    }
    ids = {name: stack.create_job("code_analyzer", p)["id"] for name, p in bad.items()}
    rows_ = stack.wait_status(ids.values(), "failed", 30, "the bad counters failed")
    err = {name: rows_[i]["last_error"] for name, i in ids.items()}
    assert all(rows_[i]["attempts"] == 1 for i in ids.values()), rows_
    assert "scope must be run or conversation" in err["a"], err
    assert "scope id and key must be" in err["b"], err
    assert err["c"] == "sharedCounter.key is required", err
    assert "holds no number" in err["d"], err
    assert expect(stack.gateway().get(url("conversation", "c1", "words")), 200)["value"] == "not a number"
