"""Agents: register (201/200), list, get, PUT state (replace/merge), 404s, 400s, seed SQL."""

import time

import pytest

from fsutil import assert_recent, expect, expect_error, parse_ts


def register(gw, name, state=None, status=201):
    body = {"agentName": name}
    if state is not None:
        body["initialState"] = state
    return expect(gw.post("/api/agents/register", json=body), status)


def test_register_new_then_again(gateway, db):
    state = {"status": "active", "capabilities": ["testing"]}
    a = register(gateway, "test_agent", state, 201)
    assert isinstance(a["id"], int)
    assert a["agentName"] == "test_agent"
    assert a["state"] == state
    assert_recent(a["createdAt"])
    assert_recent(a["updatedAt"])
    assert set(a) >= {"id", "agentName", "state", "createdAt", "updatedAt"}

    time.sleep(0.01)
    new_state = {"status": "idle"}
    b = register(gateway, "test_agent", new_state, 200)
    assert b["id"] == a["id"]
    assert b["state"] == new_state, "re-register must replace the state with initialState"
    assert b["createdAt"] == a["createdAt"]
    assert parse_ts(b["updatedAt"]) >= parse_ts(a["updatedAt"])
    assert db.count("agent_states") == 1
    assert db.scalar("SELECT state FROM agent_states WHERE agent_name = 'test_agent'") == new_state


def test_register_default_state(gateway):
    a = register(gateway, "plain", None, 201)
    assert a["state"] == {}


def test_register_name_bounds(gateway):
    register(gateway, "a", {}, 201)
    register(gateway, "A" * 100, {}, 201)
    register(gateway, "Az09_.-", {}, 201)


def test_list_ordered_by_name(gateway):
    assert expect(gateway.get("/api/agents"), 200) == {"agents": [], "nextCursor": None}
    names = ["zeta", "alpha", "Mid.agent", "beta_2", "beta-1"]
    for n in names:
        register(gateway, n, {"n": n})
    body = expect(gateway.get("/api/agents"), 200)
    got = [a["agentName"] for a in body["agents"]]
    assert got == sorted(names), got
    assert all(a["state"] == {"n": a["agentName"]} for a in body["agents"])


def test_get_one_and_404(gateway):
    a = register(gateway, "getme", {"k": [1, 2, {"x": None}]})
    got = expect(gateway.get("/api/agents/getme"), 200)
    assert got == a
    expect_error(gateway.get("/api/agents/nobody"), 404, "not_found")
    expect_error(gateway.get("/api/agents/GETME"), 404, "not_found")


def test_put_replaces_state(gateway, db):
    a = register(gateway, "worker1", {"status": "active", "capabilities": ["x"]})
    time.sleep(0.01)
    b = expect(gateway.put("/api/agents/worker1", json={"state": {"status": "busy"}}), 200)
    assert b["id"] == a["id"] and b["agentName"] == "worker1"
    assert b["state"] == {"status": "busy"}
    assert parse_ts(b["updatedAt"]) > parse_ts(a["updatedAt"]), "updatedAt not bumped"
    assert b["createdAt"] == a["createdAt"]
    assert expect(gateway.get("/api/agents/worker1"), 200) == b
    assert db.scalar("SELECT state FROM agent_states WHERE agent_name = 'worker1'") == {"status": "busy"}


def test_put_merge(gateway):
    register(gateway, "worker2", {"status": "active", "capabilities": ["x"], "n": 1})
    b = expect(
        gateway.put("/api/agents/worker2", json={"state": {"status": "idle", "load": 3}, "merge": True}),
        200,
    )
    assert b["state"] == {"status": "idle", "capabilities": ["x"], "n": 1, "load": 3}
    # merge:false is a replace
    c = expect(gateway.put("/api/agents/worker2", json={"state": {"only": True}, "merge": False}), 200)
    assert c["state"] == {"only": True}


def test_put_unknown_agent_404(gateway, db):
    expect_error(gateway.put("/api/agents/ghost", json={"state": {"a": 1}}), 404, "not_found")
    expect_error(
        gateway.put("/api/agents/ghost", json={"state": {"a": 1}, "merge": True}), 404, "not_found"
    )
    assert db.count("agent_states") == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"initialState": {}},
        {"agentName": ""},
        {"agentName": None},
        {"agentName": 42},
        {"agentName": ["a"]},
        {"agentName": "bad name"},
        {"agentName": "bad/name"},
        {"agentName": "semi;colon"},
        {"agentName": "ünï"},
        {"agentName": "A" * 101},
    ],
)
def test_register_invalid_agent_name(gateway, db, body):
    expect_error(gateway.post("/api/agents/register", json=body), 400, "invalid_field", "agentName")
    assert db.count("agent_states") == 0


@pytest.mark.parametrize("state", [[], "active", 1, True, [{"a": 1}]])
def test_register_initial_state_not_object(gateway, db, state):
    r = gateway.post("/api/agents/register", json={"agentName": "x", "initialState": state})
    expect_error(r, 400, "invalid_field", "initialState")
    assert db.count("agent_states") == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"merge": True}, {"state": None}, {"state": []}, {"state": "busy"}, {"state": 3}, {"status": "busy"}],
)
def test_put_state_invalid(gateway, db, body):
    a = register(gateway, "keepme", {"v": 1})
    expect_error(gateway.put("/api/agents/keepme", json=body), 400, "invalid_field", "state")
    row = db.one("SELECT state, updated_at FROM agent_states WHERE agent_name = 'keepme'")
    assert row["state"] == {"v": 1}
    assert row["updated_at"] == parse_ts(a["updatedAt"])


def test_put_merge_not_boolean(gateway, db):
    register(gateway, "m", {"v": 1})
    r = gateway.put("/api/agents/m", json={"state": {"v": 2}, "merge": "yes"})
    expect_error(r, 400, "invalid_field", "merge")
    assert db.scalar("SELECT state FROM agent_states WHERE agent_name = 'm'") == {"v": 1}


def test_seed_query_agent_states(gateway, db):
    register(gateway, "test_agent", {"status": "active", "capabilities": ["testing"]})
    register(gateway, "other_agent", {"status": "idle"})
    time.sleep(0.01)
    expect(gateway.put("/api/agents/test_agent", json={"state": {"status": "busy"}, "merge": True}), 200)
    rows = db.query("SELECT * FROM agent_states ORDER BY updated_at DESC;")
    assert [r["agent_name"] for r in rows] == ["test_agent", "other_agent"]
    assert rows[0]["state"] == {"status": "busy", "capabilities": ["testing"]}
    assert rows[1]["state"] == {"status": "idle"}
    for r in rows:
        assert r["created_at"] is not None and r["updated_at"] is not None
