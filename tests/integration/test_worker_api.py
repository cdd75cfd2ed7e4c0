"""The seed's worker API on the gateway (GET /agents, GET /agents/:name/status,
POST /agents/:name/task, POST /agents/message, POST /agents/:name/memory,
POST /system/health-check) and the inter-agent message flow through real workers: the
seed's curl examples 3–5 work as written (with a key added)."""

import json
import time

from fsutil import expect
from stack import SLOW


def error_of(resp, status, code, field=None):
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    err = resp.json()["error"]
    assert err["code"] == code, err
    if field is not None:
        assert err.get("field") == field, err
    return err


# --- seed example 3: an inter-agent message, answered -------------------------------------

def test_message_is_stored_in_memory_and_answered(stack):
    stack.start_worker("code_analyzer")
    stack.start_worker("coordinator")
    gw = stack.gateway()
    # seed 000, "Send Inter-Agent Message", as written
    msg = expect(gw.post("/agents/message", json={
        "from_agent": "coordinator",
        "to_agent": "code_analyzer",
        "message": "Please analyze the latest code submission",
        "message_type": "task_request",
        "requires_response": True,
    }), 201)
    assert msg["status"] == "sent" and msg["from_agent"] == "coordinator" and msg["to_agent"] == "code_analyzer"
    assert isinstance(msg["job_id"], int) and isinstance(msg["message_id"], int)

    job = stack.wait_job(msg["job_id"], lambda j: j["status"] == "completed", 30, "message delivered")
    result = job["result"]
    assert result["messageId"] == msg["message_id"] and result["replied"] is True, result

    # the message is in code_analyzer's memory as a conversation
    doc = stack.db.one("SELECT content, metadata FROM documents WHERE id = %s", (result["memoryId"],))
    assert doc["content"] == "Please analyze the latest code submission"
    meta = doc["metadata"]
    assert meta["agentName"] == "code_analyzer" and meta["memoryType"] == "conversation", meta
    assert meta["fromAgent"] == "coordinator" and "task_request" in meta["tags"], meta

    # the reply went back to the coordinator and was delivered there too
    reply_id = result["replyMessageId"]
    reply = expect(gw.get(f"/api/messages/{reply_id}"), 200)
    assert reply["reply_to"] == msg["message_id"] and reply["from_agent"] == "code_analyzer"
    assert reply["to_agent"] == "coordinator" and reply["message_type"] == "response"
    assert "code_analyzer received your task_request message" in reply["message"], reply
    stack.wait_job(reply["job_id"], lambda j: j["status"] == "completed", 30, "reply delivered")
    # no answer to an answer
    assert stack.db.count("agent_messages") == 2

    original = expect(gw.get(f"/api/messages/{msg['message_id']}"), 200)
    assert original["status"] == "responded", original
    inbox = expect(gw.get("/api/agents/code_analyzer/messages?direction=in"), 200)["messages"]
    assert [m["message_id"] for m in inbox] == [msg["message_id"]]
    outbox = expect(gw.get("/api/agents/code_analyzer/messages?direction=out"), 200)["messages"]
    assert [m["message_id"] for m in outbox] == [reply_id]
    both = expect(gw.get("/api/agents/coordinator/messages"), 200)["messages"]
    assert [m["message_id"] for m in both] == [reply_id, msg["message_id"]]
    assert both[0]["status"] == "delivered"


def test_message_without_response_is_not_answered(stack):
    stack.start_worker("monitoring")
    gw = stack.gateway()
    msg = expect(gw.post("/agents/message", json={"from_agent": "learning", "to_agent": "monitoring",
                                                  "message": "fyi: error rate is up"}), 201)
    assert msg["message_type"] == "info" and msg["requires_response"] is False
    job = stack.wait_job(msg["job_id"], lambda j: j["status"] == "completed", 30, "delivered")
    assert job["result"]["replied"] is False and "replyMessageId" not in job["result"]
    assert stack.db.count("agent_messages") == 1
    assert expect(gw.get(f"/api/messages/{msg['message_id']}"), 200)["status"] == "delivered"


def test_second_reply_to_a_message_conflicts(gateway, db):
    first = expect(gateway.post("/agents/message", json={"from_agent": "a", "to_agent": "b", "message": "hi",
                                                         "requires_response": True}), 201)
    reply = {"from_agent": "b", "to_agent": "a", "message": "hello", "reply_to": first["message_id"]}
    expect(gateway.post("/agents/message", json=reply), 201)
    before = db.counts()
    error_of(gateway.post("/agents/message", json=reply), 409, "conflict", "reply_to")
    assert db.counts() == before


def test_message_bad_input_changes_nothing(gateway, db):
    good = {"from_agent": "a", "to_agent": "b", "message": "hi"}
    cases = [
        ({k: v for k, v in good.items() if k != "from_agent"}, "from_agent"),
        ({k: v for k, v in good.items() if k != "to_agent"}, "to_agent"),
        ({k: v for k, v in good.items() if k != "message"}, "message"),
        ({**good, "message": ""}, "message"),
        ({**good, "message": 5}, "message"),
        ({**good, "to_agent": "no spaces"}, "to_agent"),
        ({**good, "from_agent": "x" * 101}, "from_agent"),
        ({**good, "message_type": "two words"}, "message_type"),
        ({**good, "requires_response": "yes"}, "requires_response"),
        ({**good, "reply_to": 0}, "reply_to"),
        ({**good, "reply_to": "1"}, "reply_to"),
        ({**good, "reply_to": 999999}, "reply_to"),
    ]
    before = db.counts()
    for body, field in cases:
        error_of(gateway.post("/agents/message", json=body), 400, "invalid_field", field)
    assert db.counts() == before
    error_of(gateway.get("/api/agents/a/messages?direction=sideways"), 400, "invalid_field", "direction")
    error_of(gateway.get("/api/agents/a/messages?limit=0"), 400, "invalid_field", "limit")
    error_of(gateway.get("/api/messages/abc"), 400, "invalid_field")
    error_of(gateway.get("/api/messages/12345"), 404, "not_found")


def test_message_listing_pages_with_a_cursor(gateway):
    ids = [expect(gateway.post("/agents/message", json={"from_agent": "a", "to_agent": "b", "message": f"m{i}"}),
                  201)["message_id"] for i in range(5)]
    page = expect(gateway.get("/api/agents/b/messages?limit=2"), 200)
    assert [m["message_id"] for m in page["messages"]] == ids[::-1][:2]
    page2 = expect(gateway.get(f"/api/agents/b/messages?limit=2&cursor={page['nextCursor']}"), 200)
    assert [m["message_id"] for m in page2["messages"]] == ids[::-1][2:4]
    page3 = expect(gateway.get(f"/api/agents/b/messages?limit=2&cursor={page2['nextCursor']}"), 200)
    assert [m["message_id"] for m in page3["messages"]] == ids[:1] and page3["nextCursor"] is None
    assert expect(gateway.get("/api/agents/a/messages?direction=in"), 200)["messages"] == []


# --- seed example 4: a task that waits for its result --------------------------------------

def test_task_route_waits_for_the_result(stack):
    stack.start_worker("code_analyzer")
    gw = stack.gateway()
    t0 = time.monotonic()
    # seed 000, "Execute a Task", with a task today's agents run
    r = gw.post("/agents/code_analyzer/task", json={
        "agent_name": "code_analyzer",
        "task_description": "Check the pipeline",
        "context": {"taskType": "ping", "sleepMs": 300},
    })
    job = expect(r, 200)
    assert job["status"] == "completed" and job["result"]["pong"] is True, job
    assert job["payload"]["type"] == "ai_task" and job["payload"]["taskType"] == "ping"
    assert job["payload"]["description"] == "Check the pipeline"
    assert job["payload"]["data"] == {"taskType": "ping", "sleepMs": 300}
    assert time.monotonic() - t0 < 20 * SLOW


def test_task_route_async_and_timeout(stack):
    gw = stack.gateway()
    body = {"task_description": "later", "context": {"taskType": "ping"}}
    job = expect(gw.post("/agents/data_processor/task?async=true", json=body), 202)
    assert job["status"] == "pending" and job["targetAgent"] == "data_processor"
    # nobody runs data_processor here: the wait ends with the job still pending
    t0 = time.monotonic()
    job2 = expect(gw.post("/agents/data_processor/task?timeout=1", json=body), 202)
    assert job2["status"] == "pending" and time.monotonic() - t0 >= 0.9
    assert stack.db.count("job_queue") == 2


def test_task_route_bad_input_changes_nothing(gateway, db):
    before = db.counts()
    cases = [
        ("/agents/code_analyzer/task", {}, "context"),
        ("/agents/code_analyzer/task", {"context": []}, "context"),
        ("/agents/code_analyzer/task", {"context": {}}, "context.taskType"),
        ("/agents/code_analyzer/task", {"context": {"taskType": 3}}, "context.taskType"),
        ("/agents/code_analyzer/task", {"agent_name": "monitoring", "context": {"taskType": "ping"}}, "agent_name"),
        ("/agents/code_analyzer/task", {"task_description": 5, "context": {"taskType": "ping"}}, "task_description"),
        ("/agents/code_analyzer/task?async=maybe", {"context": {"taskType": "ping"}}, "async"),
        ("/agents/code_analyzer/task?timeout=0", {"context": {"taskType": "ping"}}, "timeout"),
        ("/agents/code_analyzer/task?timeout=100000", {"context": {"taskType": "ping"}}, "timeout"),
        ("/agents/bad%20name/task", {"context": {"taskType": "ping"}}, "agent_name"),
    ]
    for path, body, field in cases:
        error_of(gateway.post(path, json=body), 400, "invalid_field", field)
    assert db.counts() == before


def test_task_route_refuses_an_agent_nobody_serves(gateway, db):
    # No built-in agent has this name and none registered it: no worker would ever claim the
    # job, so the answer is a prompt 404 and no job (before: a 202 after the whole wait).
    before = db.counts()
    body = {"context": {"taskType": "ping"}}
    for path in ("/agents/nosuch/task", "/agents/nosuch/task?async=true", "/agents/nosuch/task?timeout=5"):
        err = error_of(gateway.post(path, json=body), 404, "not_found", "agent_name")
        assert "nosuch" in err["message"], err
    assert db.counts() == before
    # once an agent registers under the name, it is sent tasks like a built-in one
    expect(gateway.post("/api/agents/register", json={"agentName": "nosuch", "initialState": {"status": "idle"}}), 201)
    job = expect(gateway.post("/agents/nosuch/task?async=true", json=body), 202)
    assert job["targetAgent"] == "nosuch" and job["status"] == "pending", job


# --- seed example 5: a memory --------------------------------------------------------------

def test_memory_route_stores_a_document(gateway, db):
    # seed 000, "Store a Memory", as written
    doc = expect(gateway.post("/agents/code_analyzer/memory", json={
        "content": "Learned that type hints improve code quality",
        "memory_type": "learning",
        "tags": ["learning", "best_practices"],
        "importance": 9,
    }), 201)
    meta = doc["metadata"]
    assert doc["content"] == "Learned that type hints improve code quality"
    assert meta["agentName"] == "code_analyzer" and meta["memoryType"] == "learning"
    assert meta["tags"] == ["learning", "best_practices"] and meta["importance"] == 9
    # the seed's SQL finds it
    rows = db.query("SELECT * FROM documents WHERE metadata->>'agentName' = 'code_analyzer' "
                    "ORDER BY metadata->>'timestamp' DESC LIMIT 10")
    assert [r["id"] for r in rows] == [doc["id"]]


def test_memory_route_bad_input_changes_nothing(gateway, db):
    before = db.counts()
    error_of(gateway.post("/agents/code_analyzer/memory", json={"memory_type": "learning"}), 400, "invalid_field",
             "content")
    error_of(gateway.post("/agents/code_analyzer/memory", json={"content": "x", "metadata": []}), 400,
             "invalid_field", "metadata")
    error_of(gateway.post("/agents/bad%20name/memory", json={"content": "x"}), 400, "invalid_field", "agent_name")
    assert db.counts() == before


# --- agents and health -----------------------------------------------------------------------

def test_agents_and_status_show_registered_workers(stack):
    stack.start_worker("code_analyzer")
    gw = stack.gateway()
    stack.insert_jobs(3, agent="code_analyzer", payload={"taskType": "ping", "sleepMs": 5000})
    stack.insert_jobs(2, agent="learning")

    def listed():
        agents = {a["agent_name"]: a for a in expect(gw.get("/agents"), 200)["agents"]}
        a = agents.get("code_analyzer")
        return a is not None and a["jobs"]["running"] == 3 and a["status"] == "busy", agents

    agents = stack.wait_until(listed, 30, "code_analyzer busy with 3 running jobs")
    a = agents["code_analyzer"]
    assert a["capabilities"] == ["code_analysis", "optimization", "bug_detection"], a
    assert 0 <= a["heartbeat_age_seconds"] < 60 and a["jobs"]["pending"] == 0
    st = expect(gw.get("/agents/code_analyzer/status"), 200)
    assert st["agent_name"] == "code_analyzer" and st["state"]["worker"].endswith(":" + str(stack.procs[0].proc.pid))
    error_of(gw.get("/agents/nobody/status"), 404, "not_found")
    error_of(gw.get("/agents/bad%20name/status"), 400, "invalid_field", "agent_name")


def test_system_health_check(stack):
    # No sweeper: it would requeue the expired lease below before the check could count it.
    gw = stack.start_gateway(env={"FLOWSTATE_SWEEP_INTERVAL_MS": "0"})
    h = expect(gw.post("/system/health-check"), 200)
    assert h["status"] == "healthy" and h["database"] == "up" and h["stale_agents"] == [], h
    # an agent that stopped heartbeating and a lease nobody renewed make it degraded
    stack.db.execute("INSERT INTO agent_states (agent_name, state) VALUES "
                     "('ghost', %s)", (json.dumps({"status": "idle", "lastHeartbeat": "2020-01-01T00:00:00Z"}),))
    stack.db.execute("INSERT INTO job_queue (payload, target_agent, status, attempts, locked_by, locked_until) "
                     "VALUES ('{}', 'ghost', 'running', 1, 'h:1', now() - interval '1 minute')")
    h = expect(gw.post("/system/health-check", json={}), 200)
    assert h["status"] == "degraded" and h["stale_agents"] == ["ghost"], h
    assert h["queue"]["expired_leases"] == 1 and h["queue"]["running"] == 1, h
    assert [a["agent_name"] for a in h["agents"]] == ["ghost"]


def test_health_ignores_agents_that_never_heartbeated(stack):
    # registered by hand (or by a worker before its first beat): no heartbeat to go stale
    gw = stack.gateway()
    expect(gw.post("/api/agents/register", json={"agentName": "byhand", "initialState": {"status": "idle"}}), 201)
    stack.db.execute("UPDATE agent_states SET updated_at = now() - interval '1 day'")
    h = expect(gw.post("/system/health-check"), 200)
    assert h["status"] == "healthy" and h["stale_agents"] == [], h
    assert [a["agent_name"] for a in h["agents"]] == ["byhand"], h
    # once it has beaten, silence counts
    stack.db.execute("UPDATE agent_states SET state = state || %s",
                     (json.dumps({"lastHeartbeat": "2020-01-01T00:00:00Z"}),))
    h = expect(gw.post("/system/health-check"), 200)
    assert h["status"] == "degraded" and h["stale_agents"] == ["byhand"], h
