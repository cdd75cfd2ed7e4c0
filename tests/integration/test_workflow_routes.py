"""Routing rules, compound `when`, seed 003's /api/agents/workflows routes, seed 000's
POST /workflow/coordinate, run visualization and messages within a run (docs/workflows.md).

Tests on the `gateway` fixture play the worker: they claim step jobs from SQL with
fs_jobs_claim and report through the job API, so each decides every outcome. Tests on the
`stack` fixture run the steps on real flowstate-pool workers of the five agents."""

import pytest

from fsutil import expect, expect_error, parse_ts

AGENT = "wf_agent"
WORKER = "wfroutes:1"

# Seed 003's example, exactly as the seed writes it.
SEED_BODY = {
    "workflow_type": "conditional",
    "conversation_id": "conv_123",
    "participating_agents": ["chat", "lead_qualification", "web_development"],
    "workflow_config": {
        "routing_rules": {
            "conditions": [
                {"field": "metadata.lead_score", "operator": ">", "value": 70, "next_agent": "web_development"},
                {"default": "chat"}
            ]
        }
    },
    "input_data": {"message": "I need a website"}
}

GOOD_CODE = "def add(a, b):\n    \"\"\"Adds.\"\"\"\n    return a + b\n"


# --- helpers ------------------------------------------------------------------------------


def start(gw, steps, status=201, **body):
    return expect(gw.post("/api/workflows/runs", json={"definition": {"steps": steps}, **body}), status)


def get_run(gw, rid):
    return expect(gw.get(f"/api/workflows/runs/{rid}"), 200)


def step_statuses(run):
    return {s["key"]: s["status"] for s in run["steps"]}


def claim(db, agent=AGENT):
    jobs = db.query("SELECT * FROM fs_jobs_claim(%s, 50, %s, 30)", (agent, WORKER))
    return {j["payload"]["stepKey"]: j for j in jobs}


def complete(gw, job, result):
    expect(gw.post(f"/api/jobs/{job['id']}/complete", json={"attempt": job["attempt"], "result": result}), 200)


def execute(gw, body, status=201):
    return expect(gw.post("/api/agents/workflows/execute", json=body), status)


def patch_state(gw, wid, state, status=200):
    return gw.request("PATCH", f"/api/agents/workflows/{wid}/state", json={"state": state})


def wait_finished(stack, gw, rid, timeout=90):
    def finished():
        r = get_run(gw, rid)
        return r["status"] not in ("running", "pending"), step_statuses(r)

    stack.wait_until(finished, timeout, f"workflow run {rid} finished")
    return get_run(gw, rid)


def counts(db):
    return db.query("SELECT (SELECT count(*) FROM workflow_runs) AS runs,"
                    " (SELECT count(*) FROM agent_workflows) AS seeded,"
                    " (SELECT count(*) FROM agent_messages) AS messages,"
                    " (SELECT count(*) FROM job_queue) AS jobs")[0]


def routed(op, value, cond_extra=None):
    """a, then routing on a's output.n choosing `yes` by op/value, else `no`."""
    return [
        {"key": "a", "agent": AGENT, "task": "t",
         "routing": {"conditions": [{"field": "n", "operator": op, "value": value, "next_agent": "yes"},
                                    {"default": "no"}]}},
        {"key": "yes", "agent": AGENT, "task": "t", "dependsOn": ["a"]},
        {"key": "no", "agent": AGENT, "task": "t", "dependsOn": ["a"]},
    ]


# --- routing rules and compound when ------------------------------------------------------


@pytest.mark.parametrize("op,value,holds", [
    (">", 4, True), (">", 5, False), (">=", 5, True), (">=", 6, False),
    ("<", 6, True), ("<", 5, False), ("<=", 5, True), ("<=", 4, False),
    ("==", 5, True), ("==", 5.5, False), ("!=", 4, True), ("!=", 5.0, False),
])
def test_every_symbolic_operator_routes_on_the_routing_steps_output(gateway, db, op, value, holds):
    run = start(gateway, routed(op, value))
    complete(gateway, claim(db)["a"], {"n": 5})
    chosen, other = ("yes", "no") if holds else ("no", "yes")
    assert set(claim(db)) == {chosen}
    st = step_statuses(get_run(gateway, run["id"]))
    assert st[chosen] == "running" and st[other] == "skipped", st


def test_the_first_matching_condition_wins_and_skipping_propagates(gateway, db):
    steps = [
        {"key": "score", "agent": AGENT, "task": "t",
         "routing": {"conditions": [
             {"field": "s", "operator": ">=", "value": 90, "next_agent": "gold"},
             {"field": "s", "operator": ">=", "value": 50, "next_agent": "silver"},
             {"default": "bronze"}]}},
        {"key": "gold", "agent": AGENT, "task": "t", "dependsOn": ["score"]},
        {"key": "silver", "agent": AGENT, "task": "t", "dependsOn": ["score"]},
        {"key": "bronze", "agent": AGENT, "task": "t", "dependsOn": ["score"]},
        {"key": "audit", "agent": AGENT, "task": "t", "dependsOn": ["score"]},
        {"key": "after_gold", "agent": AGENT, "task": "t", "dependsOn": ["gold"]},
    ]
    for s, chosen in [(95, "gold"), (60, "silver"), (10, "bronze")]:
        run = start(gateway, steps)
        complete(gateway, claim(db)["score"], {"s": s})
        # a child the rules do not name (audit) runs whatever they choose
        assert set(claim(db)) == {chosen, "audit"}, s
        st = step_statuses(get_run(gateway, run["id"]))
        assert [k for k in ("gold", "silver", "bronze") if st[k] == "skipped"] == \
            [k for k in ("gold", "silver", "bronze") if k != chosen]
        assert st["after_gold"] == ("pending" if chosen == "gold" else "skipped"), st


def test_routing_compiles_into_the_childrens_when_and_a_reposted_definition_is_unchanged(gateway, db):
    run = start(gateway, routed(">", 70))
    steps = run["definition"]["steps"]
    leaf = {"field": "steps.a.output.n", "operator": ">", "value": 70}
    assert steps[0]["routing"]["conditions"][0]["next_agent"] == "yes"
    assert steps[1]["when"] == leaf and steps[2]["when"] == {"not": leaf}
    again = start(gateway, steps)
    assert again["definition"] == run["definition"]


def test_compound_when_forms_decide_a_step(gateway, db):
    n = {"field": "steps.a.output.n"}
    kid = lambda key, when: {"key": key, "agent": AGENT, "task": "t", "dependsOn": ["a"], "when": when}
    run = start(gateway, [
        {"key": "a", "agent": AGENT, "task": "t"},
        kid("all_yes", {"all": [{**n, "operator": ">", "value": 1}, {**n, "operator": "<", "value": 9}]}),
        kid("all_no", {"all": [{**n, "operator": ">", "value": 1}, {**n, "operator": ">", "value": 9}]}),
        kid("any_yes", {"any": [{**n, "operator": "==", "value": 7}, {**n, "operator": "==", "value": 5}]}),
        kid("any_no", {"any": [{**n, "operator": "==", "value": 7}, {**n, "operator": "in", "value": [1, 2]}]}),
        kid("not_yes", {"not": {**n, "operator": "eq", "value": 4}}),
        kid("not_no", {"not": {"any": [{**n, "operator": "exists"}]}}),
    ])
    complete(gateway, claim(db)["a"], {"n": 5})
    assert set(claim(db)) == {"all_yes", "any_yes", "not_yes"}
    st = step_statuses(get_run(gateway, run["id"]))
    assert [k for k, v in st.items() if v == "skipped"] == ["all_no", "any_no", "not_no"]


@pytest.mark.parametrize("name,routing,field,message", [
    ("unknown operator", {"conditions": [{"field": "n", "operator": "=>", "value": 1, "next_agent": "yes"}]},
     "definition.steps[0].routing.conditions[0].operator", "one of"),
    ("next_agent names no child", {"conditions": [{"field": "n", "operator": ">", "value": 1, "next_agent": "zz"}]},
     "definition.steps[0].routing.conditions[0].next_agent", "names no step that depends on 'a'"),
    ("default not last", {"conditions": [{"default": "no"}, {"field": "n", "operator": ">", "value": 1,
                                                            "next_agent": "yes"}]},
     "definition.steps[0].routing.conditions[0]", "last entry"),
    ("no conditions", {"conditions": []}, "definition.steps[0].routing.conditions", "1 to 32"),
])
def test_a_bad_routing_rule_is_refused_naming_its_field_and_stores_nothing(gateway, db, name, routing, field,
                                                                        message):
    before = counts(db)
    steps = routed(">", 1)
    steps[0]["routing"] = routing
    err = expect_error(gateway.post("/api/workflows/runs", json={"definition": {"steps": steps}}), 400,
                       "invalid_field", field)
    assert message in err["message"] and "(step 'a')" in err["message"], err
    assert counts(db) == before


def test_next_agent_naming_an_agent_of_two_children_is_ambiguous(gateway, db):
    steps = [{"key": "a", "agent": AGENT, "task": "t",
              "routing": {"conditions": [{"field": "n", "operator": ">", "value": 1, "next_agent": "twin"}]}},
             {"key": "b", "agent": "twin", "task": "t", "dependsOn": ["a"]},
             {"key": "c", "agent": "twin", "task": "t", "dependsOn": ["a"]}]
    err = expect_error(gateway.post("/api/workflows/runs", json={"definition": {"steps": steps}}), 400,
                       "invalid_field", "definition.steps[0].routing.conditions[0].next_agent")
    assert "several steps" in err["message"]
    steps[0]["routing"]["conditions"][0]["next_agent"] = "c"  # a key is never ambiguous
    start(gateway, steps)


# --- seed 003's routes --------------------------------------------------------------------


def test_seed_003s_conditional_example_is_accepted_as_written(gateway, db):
    wf = execute(gateway, SEED_BODY)
    wid = wf["workflow_id"]
    assert isinstance(wid, int) and wf["status"] == "running" and wf["workflow_type"] == "conditional"
    assert wf["conversation_id"] == "conv_123" and wf["input_data"] == {"message": "I need a website"}
    assert wf["participating_agents"] == ["chat", "lead_qualification", "web_development"]
    assert wf["current_agents"] == ["chat"]
    steps = {s["key"]: s for s in wf["run"]["steps"]}
    # chat, then lead_qualification (routing names it not), whose routing chooses between
    # web_development and chat again.
    assert list(steps) == ["chat", "lead_qualification", "chat_2", "web_development"]
    assert steps["chat"]["input"] == {"message": "I need a website"}
    assert steps["chat"]["task"] == "ping" and steps["lead_qualification"]["dependsOn"] == ["chat"]
    assert steps["web_development"]["dependsOn"] == steps["chat_2"]["dependsOn"] == ["lead_qualification"]
    leaf = {"field": "steps.lead_qualification.output.metadata.lead_score", "operator": ">", "value": 70}
    defs = {s["key"]: s for s in wf["run"]["definition"]["steps"]}
    assert defs["web_development"]["when"] == leaf and defs["chat_2"]["when"] == {"not": leaf}
    got = expect(gateway.get(f"/api/agents/workflows/{wid}"), 200)
    assert got["workflow_id"] == wid and got["workflow_type"] == "conditional" and got["status"] == "running"
    # Playing the seed's agents: lead_qualification scores the lead at 85.
    complete(gateway, claim(db, "chat")["chat"], {"reply": "hi"})
    complete(gateway, claim(db, "lead_qualification")["lead_qualification"], {"metadata": {"lead_score": 85}})
    assert set(claim(db, "web_development")) == {"web_development"} and claim(db, "chat") == {}
    st = step_statuses(get_run(gateway, wid))
    assert st["chat_2"] == "skipped" and st["web_development"] == "running"
    done = expect(patch_state(gateway, wid, "cancelled"), 200)
    assert done["status"] == "cancelled" and done["workflow_type"] == "conditional"


def test_seed_003s_conditional_example_on_our_agents_routes_both_ways(stack):
    """The seed's shape on real agents: learning, then code_analyzer scores the code
    (quality.score), whose routing chooses monitoring above the threshold, else learning
    again."""
    stack.start_pool("learning=1,code_analyzer=1,monitoring=1")
    gw = stack.gateway()

    def body(threshold):
        return {
            "workflow_type": "conditional", "conversation_id": "conv_ours",
            "participating_agents": ["learning", "code_analyzer", "monitoring"],
            "workflow_config": {
                "routing_rules": {"conditions": [
                    {"field": "quality.score", "operator": ">", "value": threshold, "next_agent": "monitoring"},
                    {"default": "learning"}]},
                "tasks": {"code_analyzer": "analyze_code"}},
            "input_data": {"code": GOOD_CODE, "language": "python"}}

    high = execute(gw, body(70))
    low = execute(gw, body(100))  # a score is at most 100
    for wf, chosen, skipped in [(high, "monitoring", "learning_2"), (low, "learning_2", "monitoring")]:
        done = wait_finished(stack, gw, wf["workflow_id"])
        assert done["status"] == "completed", done
        st = step_statuses(done)
        assert st == {"learning": "completed", "code_analyzer": "completed", chosen: "completed",
                      skipped: "skipped"}, st
        score = done["output"]["code_analyzer"]["quality"]["score"]
        assert score > 70, score
        seed = expect(gw.get(f"/api/agents/workflows/{wf['workflow_id']}"), 200)
        assert seed["status"] == "completed" and seed["current_agents"] == []
        assert sorted(seed["results"]) == sorted(["learning", "code_analyzer", chosen])
        # visualization: live status per node, the routing edges marked, Mermaid classes
        vis = expect(gw.get(f"/api/agents/workflows/{wf['workflow_id']}/visualization"), 200)
        assert vis == expect(gw.get(f"/api/workflows/runs/{wf['workflow_id']}/visualization"), 200)
        nodes = {n["key"]: n for n in vis["nodes"]}
        assert {k: n["status"] for k, n in nodes.items()} == st
        assert nodes["code_analyzer"]["routing"] is True and nodes["code_analyzer"]["task"] == "analyze_code"
        assert nodes[chosen]["startedAt"] and nodes[chosen]["finishedAt"] and nodes[skipped]["startedAt"] is None
        assert sorted((e["from"], e["to"], e["condition"]) for e in vis["edges"]) == sorted([
            ("learning", "code_analyzer", None), ("code_analyzer", "monitoring", "routing"),
            ("code_analyzer", "learning_2", "routing")])
        m = vis["mermaid"]
        assert m.startswith("graph TD\n") and "n1 -.->|routing| n2" in m and "n0 --> n1" in m
        assert f'n3["{list(st)[3]}<br/>' in m and ":::skipped" in m and ":::completed" in m
        assert "classDef skipped" in m


def test_a_multi_agent_workflow_runs_its_agents_one_after_another(stack):
    stack.start_pool("learning=1,monitoring=1,data_processor=1")
    gw = stack.gateway()
    wf = execute(gw, {
        "workflow_type": "multi_agent", "participating_agents": ["learning", "monitoring", "data_processor"],
        "workflow_config": {"inputs": {"monitoring": {"sleepMs": {"$ref": "steps.learning.output.sleptMs"}}}},
        "input_data": {"sleepMs": 30}})
    done = wait_finished(stack, gw, wf["workflow_id"])
    assert done["status"] == "completed", done
    s = {x["key"]: x for x in done["steps"]}
    assert [x["agent"] for x in done["steps"]] == ["learning", "monitoring", "data_processor"]
    assert s["monitoring"]["input"] == {"sleepMs": 30}
    assert parse_ts(s["learning"]["finishedAt"]) <= parse_ts(s["monitoring"]["startedAt"])
    assert parse_ts(s["monitoring"]["finishedAt"]) <= parse_ts(s["data_processor"]["startedAt"])
    vis = expect(gw.get(f"/api/workflows/runs/{wf['workflow_id']}/visualization"), 200)
    assert [(e["from"], e["to"], e["condition"]) for e in vis["edges"]] == [
        ("learning", "monitoring", None), ("monitoring", "data_processor", None)]


def test_a_collaborative_workflow_runs_its_agents_at_once_sharing_memory_and_messages(stack):
    stack.start_pool("learning=1,monitoring=1,code_analyzer=1")
    gw = stack.gateway()
    counter = {"scope": "conversation", "scopeId": "conv_collab", "key": "visits"}
    wf = execute(gw, {
        "workflow_type": "collaborative", "conversation_id": "conv_collab",
        "participating_agents": ["learning", "monitoring", "code_analyzer"],
        "input_data": {"sharedCounter": counter}})
    assert all(not s.get("dependsOn") for s in wf["run"]["definition"]["steps"])
    assert all(s["status"] == "running" for s in wf["run"]["steps"])
    sent = expect(gw.post(f"/api/agents/workflows/{wf['workflow_id']}/messages", json={
        "from_agent": "learning", "to_agent": "monitoring", "message_type": "handoff",
        "content": {"reason": "technical_consultation_needed"}}), 201)
    assert sent["workflow_id"] == wf["workflow_id"] and sent["content"] == {"reason": "technical_consultation_needed"}
    done = wait_finished(stack, gw, wf["workflow_id"])
    assert done["status"] == "completed", done
    shared = expect(gw.get("/api/memory/shared/conversation/conv_collab/visits"), 200)
    assert shared["value"] == 3
    assert sorted(o["sharedCounter"] for o in done["output"].values()) == [1, 2, 3]
    # The message reached its target's inbox like any other (an inter_agent_message job).
    msgs = expect(gw.get(f"/api/workflows/runs/{wf['workflow_id']}/messages"), 200)["messages"]
    assert [m["message_id"] for m in msgs] == [sent["message_id"]]
    stack.wait_job(sent["job_id"], lambda r: r["status"] == "completed", 60, "the message delivered")


@pytest.mark.parametrize("body,field,message", [
    ({"workflow_type": "parallel", "participating_agents": ["a"]}, "workflow_type", "multi_agent"),
    ({"participating_agents": ["a"]}, "workflow_type", "required"),
    ({"workflow_type": "multi_agent", "participating_agents": []}, "participating_agents", "1 or more"),
    ({"workflow_type": "multi_agent"}, "participating_agents", "required"),
    ({"workflow_type": "conditional", "participating_agents": ["a"],
      "workflow_config": {"routing_rules": {"conditions": [{"default": "a"}]}}}, "participating_agents", "2 or more"),
    ({"workflow_type": "multi_agent", "participating_agents": ["a", "a"]}, "participating_agents", "twice"),
    ({"workflow_type": "multi_agent", "participating_agents": ["a b"]}, "participating_agents", None),
    ({"workflow_type": "conditional", "participating_agents": ["a", "b"]},
     "workflow_config.routing_rules", "required"),
    ({"workflow_type": "multi_agent", "participating_agents": ["a", "b"],
      "workflow_config": {"routing_rules": {"conditions": [{"default": "b"}]}}},
     "workflow_config.routing_rules", "conditional workflows only"),
    ({"workflow_type": "conditional", "participating_agents": ["a", "b"],
      "workflow_config": {"routing_rules": {"conditions": [
          {"field": "x", "operator": "=>", "value": 1, "next_agent": "b"}]}}},
     "workflow_config.routing_rules.conditions[0].operator", "one of"),
    ({"workflow_type": "conditional", "participating_agents": ["a", "b"],
      "workflow_config": {"routing_rules": {"conditions": [
          {"field": "x", "operator": ">", "value": 1, "next_agent": "c"}]}}},
     "workflow_config.routing_rules.conditions[0].next_agent", "not one of participating_agents"),
    ({"workflow_type": "conditional", "participating_agents": ["a", "b"],
      "workflow_config": {"routing_rules": {"conditions": [
          {"field": "x", "operator": ">", "value": [1], "next_agent": "b"}]}}},
     "workflow_config.routing_rules.conditions[0].value", "number or a string"),
    ({"workflow_type": "conditional", "participating_agents": ["a", "b"],
      "workflow_config": {"routing_rules": {"rules": []}}}, "workflow_config.routing_rules.rules", "unknown"),
    ({"workflow_type": "multi_agent", "participating_agents": ["a"], "workflow_config": {"max": 1}},
     "workflow_config", "unknown field"),
    ({"workflow_type": "multi_agent", "participating_agents": ["a"], "workflow_config": {"tasks": {"b": "x"}}},
     "workflow_config.tasks", "not one of participating_agents"),
    ({"workflow_type": "multi_agent", "participating_agents": ["a"], "workflow_config": {"tasks": {"a": "x y"}}},
     "workflow_config.tasks", "task name"),
    ({"workflow_type": "multi_agent", "participating_agents": ["a", "b"],
      "workflow_config": {"inputs": {"a": {"$ref": "steps.b.output"}}}},
     "workflow_config.inputs.a", "does not depend on"),
    ({"workflow_type": "multi_agent", "participating_agents": ["a"], "input_data": [1]}, "input_data", None),
    ({"workflow_type": "multi_agent", "participating_agents": ["a"], "conversation_id": 5}, "conversation_id",
     None),
])
def test_a_bad_execute_request_is_refused_and_stores_nothing(gateway, db, body, field, message):
    before = counts(db)
    err = expect_error(gateway.post("/api/agents/workflows/execute", json=body), 400, "invalid_field", field)
    if message:
        assert message in err["message"], err
    assert counts(db) == before


def test_the_state_route_pauses_resumes_and_cancels_through_the_run_controls(gateway, db):
    wf = execute(gateway, {"workflow_type": "multi_agent", "participating_agents": [AGENT, "wf_other"]})
    wid = wf["workflow_id"]
    assert expect(patch_state(gateway, wid, "paused"), 200)["status"] == "paused"
    expect_error(patch_state(gateway, wid, "paused"), 409, "conflict", "status")
    complete(gateway, claim(db)[AGENT], {})
    assert step_statuses(get_run(gateway, wid))["wf_other"] == "pending", "paused: nothing starts"
    resumed = expect(patch_state(gateway, wid, "running"), 200)
    assert resumed["status"] == "running" and resumed["current_agents"] == ["wf_other"]
    expect_error(patch_state(gateway, wid, "running"), 409, "conflict", "status")
    expect_error(patch_state(gateway, wid, "completed"), 400, "invalid_field", "state")
    expect_error(gateway.request("PATCH", f"/api/agents/workflows/{wid}/state", json={}), 400,
                 "invalid_field", "state")
    assert expect(patch_state(gateway, wid, "cancelled"), 200)["status"] == "cancelled"
    expect_error(patch_state(gateway, wid, "running"), 409, "conflict", "status")
    expect_error(patch_state(gateway, wid, "cancelled"), 409, "conflict", "status")
    assert get_run(gateway, wid)["status"] == "cancelled"


def test_an_unknown_run_is_404_on_every_route(gateway, db):
    before = counts(db)
    msg = {"from_agent": "a", "to_agent": "b", "message_type": "request", "content": "hi"}
    for r in [gateway.get("/api/agents/workflows/999999"),
              gateway.get("/api/agents/workflows/999999/visualization"),
              gateway.get("/api/workflows/runs/999999/visualization"),
              gateway.get("/api/workflows/runs/999999/messages"),
              gateway.post("/api/workflows/runs/999999/messages", json=msg),
              gateway.post("/api/agents/workflows/999999/messages", json=msg),
              patch_state(gateway, 999999, "paused")]:
        expect_error(r, 404, "not_found")
    expect_error(gateway.get("/api/agents/workflows/abc"), 400, "invalid_field", "id")
    assert counts(db) == before


# --- messages within a run ----------------------------------------------------------------


def test_messages_within_a_run_are_stored_delivered_and_paged_oldest_first(gateway, db):
    run = start(gateway, [{"key": "a", "agent": AGENT, "task": "t"}])
    rid = run["id"]
    sent = []
    for i, (route, kind, content) in enumerate([
            ("/api/workflows/runs", "request", {"ask": "context"}),
            ("/api/agents/workflows", "response", ["a", 1]),
            ("/api/workflows/runs", "notification", "plain text"),
            ("/api/agents/workflows", "handoff", {"reason": "technical_consultation_needed", "n": 1.5})]):
        m = expect(gateway.post(f"{route}/{rid}/messages", json={
            "from_agent": "chat", "to_agent": f"agent{i}", "message_type": kind, "content": content}), 201)
        assert (m["workflow_id"], m["message_type"], m["content"], m["status"]) == (rid, kind, content, "sent")
        sent.append(m)
    page = expect(gateway.get(f"/api/workflows/runs/{rid}/messages?limit=3"), 200)
    assert [m["message_id"] for m in page["messages"]] == [m["message_id"] for m in sent[:3]]
    rest = expect(gateway.get(f"/api/workflows/runs/{rid}/messages?limit=3&cursor={page['nextCursor']}"), 200)
    assert [m["message_id"] for m in rest["messages"]] == [sent[3]["message_id"]] and rest["nextCursor"] is None
    # Each is delivered as POST /agents/message delivers one: a job for its target.
    job = db.query("SELECT target_agent, payload FROM job_queue WHERE id = %s", (sent[3]["job_id"],))[0]
    assert job["target_agent"] == "agent3" and job["payload"]["taskType"] == "inter_agent_message"
    assert job["payload"]["workflowRunId"] == rid
    # and the agent's own message list shows it
    inbox = expect(gateway.get("/api/agents/agent3/messages?direction=in"), 200)["messages"]
    assert [m["message_id"] for m in inbox] == [sent[3]["message_id"]]
    other = start(gateway, [{"key": "a", "agent": AGENT, "task": "t"}])
    assert expect(gateway.get(f"/api/workflows/runs/{other['id']}/messages"), 200) == {
        "messages": [], "nextCursor": None}


@pytest.mark.parametrize("body,field", [
    ({"to_agent": "b", "message_type": "request", "content": 1}, "from_agent"),
    ({"from_agent": "a", "message_type": "request", "content": 1}, "to_agent"),
    ({"from_agent": "a b", "to_agent": "b", "message_type": "request", "content": 1}, "from_agent"),
    ({"from_agent": "a", "to_agent": "b", "message_type": "gossip", "content": 1}, "message_type"),
    ({"from_agent": "a", "to_agent": "b", "content": 1}, "message_type"),
    ({"from_agent": "a", "to_agent": "b", "message_type": "request"}, "content"),
    ({"from_agent": "a", "to_agent": "b", "message_type": "request", "content": None}, "content"),
    ({"from_agent": "a", "to_agent": "b", "message_type": "request", "content": "x" * 100001}, "content"),
])
def test_a_bad_message_is_refused_with_a_clear_error_and_stores_nothing(gateway, db, body, field):
    run = start(gateway, [{"key": "a", "agent": AGENT, "task": "t"}])
    before = counts(db)
    for route in ("/api/workflows/runs", "/api/agents/workflows"):
        expect_error(gateway.post(f"{route}/{run['id']}/messages", json=body), 400, "invalid_field", field)
    assert counts(db) == before


def test_message_paging_checks_its_parameters(gateway, db):
    run = start(gateway, [{"key": "a", "agent": AGENT, "task": "t"}])
    expect_error(gateway.get(f"/api/workflows/runs/{run['id']}/messages?limit=0"), 400, "invalid_field", "limit")
    expect_error(gateway.get(f"/api/workflows/runs/{run['id']}/messages?cursor=x"), 400, "invalid_field", "cursor")


# --- visualization ------------------------------------------------------------------------


def test_visualization_shows_live_status_when_edges_and_mermaid(gateway, db):
    run = start(gateway, [
        {"key": "a", "agent": AGENT, "task": "t"},
        {"key": "b", "agent": AGENT, "task": "t", "dependsOn": ["a"],
         "when": {"all": [{"field": "steps.a.output.ok", "operator": "==", "value": True}]}},
        {"key": "c", "agent": AGENT, "task": "t2", "dependsOn": ["a"]},
        {"key": "d", "agent": AGENT, "task": "t", "dependsOn": ["b", "c"]}])
    vis = expect(gateway.get(f"/api/workflows/runs/{run['id']}/visualization"), 200)
    assert vis["runId"] == run["id"] and vis["status"] == "running"
    assert [(n["key"], n["kind"], n["agent"], n["task"], n["status"]) for n in vis["nodes"]] == [
        ("a", "agent", AGENT, "t", "running"), ("b", "agent", AGENT, "t", "pending"),
        ("c", "agent", AGENT, "t2", "pending"), ("d", "agent", AGENT, "t", "pending")]
    assert vis["edges"] == [{"from": "a", "to": "b", "condition": "when"},
                            {"from": "a", "to": "c", "condition": None},
                            {"from": "b", "to": "d", "condition": None},
                            {"from": "c", "to": "d", "condition": None}]
    assert vis["mermaid"].splitlines()[:9] == [
        "graph TD",
        f'  n0["a<br/>{AGENT}: t"]:::running',
        f'  n1["b<br/>{AGENT}: t"]:::pending',
        f'  n2["c<br/>{AGENT}: t2"]:::pending',
        f'  n3["d<br/>{AGENT}: t"]:::pending',
        "  n0 -.->|when| n1", "  n0 --> n2", "  n1 --> n3", "  n2 --> n3"]
    complete(gateway, claim(db)["a"], {"ok": False})
    vis = expect(gateway.get(f"/api/workflows/runs/{run['id']}/visualization"), 200)
    st = {n["key"]: n["status"] for n in vis["nodes"]}
    assert st == {"a": "completed", "b": "skipped", "c": "running", "d": "pending"}
    a = vis["nodes"][0]
    assert a["startedAt"] and a["finishedAt"] and a["attempts"] == 1 and a["jobId"]
    assert 'n1["b<br/>' in vis["mermaid"] and ":::skipped" in vis["mermaid"]


# --- seed 000's POST /workflow/coordinate -------------------------------------------------


def test_workflow_coordinate_runs_the_coordinators_workflow_as_a_run(stack):
    stack.start_pool("coordinator=1,data_processor=1")
    gw = stack.gateway()
    body = {"input": {"records": [{"id": 1, "amount": 10}, {"id": 2, "amount": 20}]},
            "steps": [{"name": "clean", "taskType": "transform_data",
                       "data": {"steps": [{"op": "filter", "field": "amount", "operator": "gte", "value": 20}]},
                       "input": {"records": "$.input.records"}},
                      {"name": "stats", "taskType": "process_data", "data": {"fields": ["amount"]},
                       "input": {"records": "$.steps.clean.result.records"}}]}
    wf = expect(gw.post("/workflow/coordinate", json=body), 201)
    assert wf["workflow_type"] is None and wf["participating_agents"] == ["coordinator"]
    done = wait_finished(stack, gw, wf["workflow_id"])
    assert done["status"] == "completed", done
    result = done["output"]["coordinate"]
    assert result["status"] == "completed", result
    assert result["output"]["fields"]["amount"]["sum"] == 20


@pytest.mark.parametrize("body,field", [
    ({}, "steps"),
    ({"steps": []}, "steps"),
    ({"steps": [{"name": "a"}]}, "steps[0].taskType"),
    ({"steps": [{"name": "a", "taskType": "ping", "input": {"x": "$.steps.b.result"}}]}, "steps[0].input.x"),
])
def test_a_bad_coordinate_body_is_refused_as_the_coordinator_would_and_stores_nothing(gateway, db, body, field):
    before = counts(db)
    err = expect_error(gateway.post("/workflow/coordinate", json=body), 400, "invalid_field", field)
    assert err["message"].startswith(field), err
    assert counts(db) == before


def test_the_state_route_is_patch_only_and_wants_json(gateway, db):
    wf = execute(gateway, {"workflow_type": "collaborative", "participating_agents": [AGENT]})
    r = gateway.put(f"/api/agents/workflows/{wf['workflow_id']}/state", json={"state": "paused"})
    expect_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "PATCH"
    r = gateway.request("PATCH", f"/api/agents/workflows/{wf['workflow_id']}/state", data="state=paused",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect_error(r, 415, "unsupported_media_type")
    assert get_run(gateway, wf["workflow_id"])["status"] == "running"


# --- send_message: a step that messages another agent within its run ------------------------


def test_a_send_message_step_hands_off_to_another_agent_within_its_run(stack):
    stack.start_pool("learning=1,monitoring=1")
    gw = stack.gateway()
    run = start(gw, [
        {"key": "hand", "agent": "learning", "task": "send_message",
         "input": {"toAgent": "monitoring", "messageType": "handoff",
                   "content": {"reason": {"$ref": "input.why"}}}},
        {"key": "after", "agent": "monitoring", "task": "ping", "dependsOn": ["hand"]}],
        input={"why": "needs a health check"})
    done = wait_finished(stack, gw, run["id"])
    assert done["status"] == "completed", done
    out = done["output"]["hand"]
    assert out["toAgent"] == "monitoring" and out["messageType"] == "handoff" and out["runId"] == run["id"]
    msgs = expect(gw.get(f"/api/workflows/runs/{run['id']}/messages"), 200)["messages"]
    assert [(m["message_id"], m["from_agent"], m["to_agent"], m["message_type"], m["content"]) for m in msgs] \
        == [(out["messageId"], "learning", "monitoring", "handoff", {"reason": "needs a health check"})]
    # delivered to monitoring as any message is: an inter_agent_message job it runs
    stack.wait_job(msgs[0]["job_id"], lambda r: r["status"] == "completed", 60, "the message delivered")


@pytest.mark.parametrize("data,extra,error", [
    ({"toAgent": "monitoring"}, {}, "workflowRunId is required (send_message runs as a workflow step)"),
    ({}, {"workflowRunId": 1}, "toAgent"),
    ({"toAgent": "monitoring", "messageType": 7}, {"workflowRunId": 1}, "messageType"),
])
def test_send_message_outside_a_run_or_without_a_receiver_fails_without_retry(stack, data, extra, error):
    stack.start_pool("learning=1")
    gw = stack.gateway()
    job = expect(gw.post("/api/jobs", json={"targetAgent": "learning", "maxAttempts": 3,
                                            "payload": {"taskType": "send_message", "data": data, **extra}}), 201)
    row = stack.wait_job(job["id"], lambda r: r["status"] == "failed", 60, "send_message failed")
    assert row["attempts"] == 1 and error in row["last_error"], row


def test_a_message_the_gateway_refuses_fails_the_step_without_retry(stack):
    stack.start_pool("learning=1")
    gw = stack.gateway()
    run = start(gw, [{"key": "hand", "agent": "learning", "task": "send_message", "retries": 2,
                      "input": {"toAgent": "monitoring", "messageType": "gossip"}}])
    done = wait_finished(stack, gw, run["id"])
    step = done["steps"][0]
    assert done["status"] == "failed" and step["attempts"] == 1, done
    assert "message_type" in step["error"] and "400" in step["error"], step
    assert expect(gw.get(f"/api/workflows/runs/{run['id']}/messages"), 200)["messages"] == []
