"""The stored workflow templates (sql/010_workflow_templates.sql, docs/workflows.md#stored-
templates): a fresh install has them, each passes the gateway's definition check, and each run
on real workers (code_analyzer, data_processor, monitoring, learning) completes with the
expected outputs; a user's own version is never replaced."""

from fsutil import expect

TEMPLATES = ("code-review", "data-pipeline", "incident-check")

CODE = """import os

def run(cmd, items=[]):
    result = eval(cmd)
    if result == None:
        return 0
    for i in range(len(items)):
        items[i] = items[i] + 1
    return result
"""


def start(gw, name, inp):
    return expect(gw.post("/api/workflows/runs", json={"template": name, "input": inp}), 201)


def wait_finished(stack, gw, rid, timeout=60):
    def finished():
        r = expect(gw.get(f"/api/workflows/runs/{rid}"), 200)
        return r["status"] not in ("running", "pending"), {s["key"]: s["status"] for s in r["steps"]}

    stack.wait_until(finished, timeout, f"workflow run {rid} finished")
    run = expect(gw.get(f"/api/workflows/runs/{rid}"), 200)
    return run, {s["key"]: s for s in run["steps"]}


def test_a_fresh_install_has_the_three_templates_at_version_1_and_each_passes_the_check(gateway, db):
    listed = expect(gateway.get("/api/workflows/templates"), 200)
    names = {t["name"]: t for t in (listed["templates"] if isinstance(listed, dict) else listed)}
    assert set(TEMPLATES) <= set(names), names
    for name in TEMPLATES:
        t = expect(gateway.get(f"/api/workflows/templates/{name}"), 200)
        assert t["version"] == 1 and t["description"], t
        # The migration inserted them past the gateway's check: the same definition must be
        # one the gateway accepts.
        copy = expect(gateway.post("/api/workflows/templates",
                                   json={"name": f"copy-{name}", "definition": t["definition"]}), 201)
        assert copy["definition"] == t["definition"]


def test_code_review_analyzes_then_checks_in_parallel_then_sums_up(stack):
    stack.start_pool("code_analyzer=2,data_processor=1")
    gw = stack.gateway()
    run, steps = wait_finished(stack, gw, start(gw, "code-review", {"code": CODE, "language": "python"})["id"])
    assert run["status"] == "completed" and run["template"] == "code-review" and run["templateVersion"] == 1, run
    assert {k: s["status"] for k, s in steps.items()} == {
        "analyze": "completed", "bugs": "completed", "optimize": "completed", "summary": "completed"}
    analyze, bugs, optimize = (steps[k]["output"] for k in ("analyze", "bugs", "optimize"))
    assert analyze["language"] == "python" and analyze["functionCount"] == 1, analyze
    rules = {f["rule"] for f in bugs["findings"]}
    assert {"py.eval", "py.mutable-default", "py.none-comparison"} <= rules, rules
    assert optimize["total"] >= 1, optimize
    # bugs and optimize both waited for analyze only, and summary for both of them.
    assert steps["bugs"]["dependsOn"] == ["analyze"] and steps["optimize"]["dependsOn"] == ["analyze"]
    summary = steps["summary"]["output"]
    assert summary["count"] == 2, summary
    assert summary["fields"]["count"]["sum"] == bugs["total"] + optimize["total"], summary
    assert steps["summary"]["input"]["records"][0] == {"kind": "bug", "count": bugs["total"],
                                                       "summary": bugs["summary"]}
    assert sorted(run["output"]) == ["analyze", "bugs", "optimize", "summary"]


def test_data_pipeline_transforms_and_aggregates_only_valid_records(stack):
    stack.start_pool("data_processor=1")
    gw = stack.gateway()
    schema = {"type": "object", "required": ["region", "amount"], "properties": {"amount": {"type": "number"}}}
    records = [{"region": "eu", "amount": 10}, {"region": "us", "amount": 40},
               {"region": "eu", "amount": 20}, {"region": "eu", "amount": -5}]
    inp = {"records": records, "schema": schema, "fields": ["amount"], "groupBy": "region",
           "steps": [{"op": "filter", "field": "amount", "operator": "gt", "value": 0}]}
    run, steps = wait_finished(stack, gw, start(gw, "data-pipeline", inp)["id"])
    assert run["status"] == "completed", run
    assert steps["validate"]["output"]["valid"] is True
    assert steps["transform"]["output"]["count"] == 3
    agg = steps["aggregate"]["output"]
    assert agg["count"] == 3 and agg["fields"]["amount"]["sum"] == 70, agg
    # Invalid records: validate completes with valid false, and the rest is skipped.
    bad = {**inp, "records": [{"region": "eu", "amount": "ten"}]}
    run, steps = wait_finished(stack, gw, start(gw, "data-pipeline", bad)["id"])
    assert run["status"] == "completed", run
    assert {k: s["status"] for k, s in steps.items()} == {
        "validate": "completed", "transform": "skipped", "aggregate": "skipped"}
    assert steps["validate"]["output"]["valid"] is False
    assert sorted(run["output"]) == ["validate"]


def test_incident_check_alerts_only_when_the_system_is_degraded(stack):
    stack.start_pool("monitoring=2,learning=1")
    gw = stack.gateway()
    run, steps = wait_finished(stack, gw, start(gw, "incident-check", {"window": 600})["id"])
    assert run["status"] == "completed", run
    assert steps["health"]["output"]["healthy"] is True, steps["health"]["output"]
    assert steps["metrics"]["status"] == "completed" and steps["patterns"]["status"] == "completed"
    assert steps["alert"]["status"] == "skipped"
    assert stack.db.count("events", "type = 'alert'") == 0
    # A queue deeper than maxQueueDepth makes the health check degraded: the alert is sent.
    expect(gw.post("/api/agents/register", json={"agentName": "backlog"}), 201)
    for _ in range(3):
        stack.create_job("backlog", {"type": "ai_task", "taskType": "ping"})
    run, steps = wait_finished(stack, gw, start(gw, "incident-check", {"maxQueueDepth": 1, "window": 600})["id"])
    assert run["status"] == "completed", run
    health = steps["health"]["output"]
    assert health["healthy"] is False and any(p["kind"] == "queue_depth" for p in health["problems"]), health
    alert = steps["alert"]
    assert alert["status"] == "completed", alert
    assert alert["input"]["message"] == health["summary"] and alert["input"]["severity"] == "error"
    assert alert["input"]["details"]["problems"] == health["problems"]
    [event] = stack.db.query("SELECT * FROM events WHERE type = 'alert'")
    assert event["id"] == alert["output"]["eventId"], (event, alert)


def test_a_users_own_version_is_kept_across_restarts(stack):
    gw = stack.gateway()
    mine = {"steps": [{"key": "only", "agent": "data_processor", "task": "ping"}]}
    expect(gw.put("/api/workflows/templates/code-review", json={"definition": mine}), 200)
    expect(gw.delete("/api/workflows/templates/incident-check"), 200)
    gw.stop()
    gw = stack.restart_gateway(gw)  # migrations are checked again at start
    t = expect(gw.get("/api/workflows/templates/code-review"), 200)
    assert t["version"] == 2 and t["definition"] == mine, t
    assert expect(gw.get("/api/workflows/templates/code-review?version=1"), 200)["definition"] != mine
    assert gw.get("/api/workflows/templates/incident-check").status_code == 404
