"""The coordinator agent end to end: real coordinator, code_analyzer and data_processor
workers; delegate_task jobs created through the gateway create child jobs through the
gateway in turn, coordinate_workflow jobs start workflow runs (POST /api/workflows/runs)
whose steps are jobs, and the stored results (coordinator, runs and children) are checked in
the database."""

import json

from fsutil import expect
from stack import GatewayProxy

CODE = "def add(a, b):\n    return a + b\n"


def start_agents(stack):
    for agent in ("coordinator", "code_analyzer", "data_processor"):
        stack.start_worker(agent)


def run_coordinator(stack, task_type, data, status="completed", timeout=60):
    job_id = stack.create_job("coordinator", {"type": "ai_task", "taskType": task_type, "data": data})["id"]
    return stack.wait_status([job_id], status, timeout, f"coordinator {task_type} {status}")[job_id]


def children(stack, parent_id):
    return stack.db.query("SELECT * FROM job_queue WHERE (payload->>'parentJobId')::bigint = %s ORDER BY id",
                          (parent_id,))


def run_of(stack, coordinator_id):
    rows = stack.db.query("SELECT * FROM workflow_runs WHERE idempotency_key = %s", (f"coord-{coordinator_id}",))
    return rows[0] if rows else None


def run_jobs(stack, run_id):
    return stack.db.query("SELECT * FROM job_queue WHERE workflow_run_id = %s ORDER BY id", (run_id,))


def retry_coordinator(stack, first):
    """Fails the completed coordinator job `first` and retries it (as after a crash); returns
    the job once its second attempt completed."""
    stack.db.execute("UPDATE job_queue SET status = 'failed', last_error = 'simulated' WHERE id = %s",
                     (first["id"],))
    expect(stack.gateway().post(f"/api/jobs/{first['id']}/retry"), 200)
    return stack.wait_job(first["id"], lambda r: r["status"] == "completed" and r["result"] != first["result"],
                          30, "the retried coordinator job completed")


def test_delegate_by_capability_waits_for_the_result(stack):
    start_agents(stack)
    row = run_coordinator(stack, "delegate_task", {
        "task": {"taskType": "analyze_code", "code": CODE, "language": "python"},
        "capability": "code_analysis", "wait": 30, "priority": 3})
    res = row["result"]
    [child] = children(stack, row["id"])
    assert res["delegatedTo"] == "code_analyzer" and res["jobId"] == child["id"], res
    assert res["status"] == "completed" and res["result"] == child["result"], (res, child)
    assert child["status"] == "completed" and child["attempts"] == 1, child
    assert "agents with capability code_analysis: code_analyzer (queue" in res["reason"], res["reason"]
    assert res["reused"] is False, res
    assert child["target_agent"] == "code_analyzer" and child["priority"] == 3, child
    assert child["payload"] == {"type": "ai_task", "taskType": "analyze_code", "parentJobId": row["id"],
                                "data": {"code": CODE, "language": "python"}}, child["payload"]
    assert child["idempotency_key"] == f"coord-{row['id']}-delegate", child


def test_delegate_without_wait_returns_the_pending_child(stack):
    start_agents(stack)
    # No capability, no agent: the built-in map sends transform_data to data_processor.
    row = run_coordinator(stack, "delegate_task", {
        "task": {"taskType": "transform_data", "records": [{"a": 2}, {"a": 1}],
                 "steps": [{"op": "sort", "by": [{"field": "a"}]}]},
        "timeoutSeconds": 30})
    res = row["result"]
    assert res["delegatedTo"] == "data_processor" and res["status"] == "pending", res
    assert "result" not in res and "task type transform_data goes to data_processor" in res["reason"], res
    child = stack.wait_status([res["jobId"]], "completed", 30, "the delegated job completed")[res["jobId"]]
    assert child["result"]["records"] == [{"a": 1}, {"a": 2}], child["result"]
    assert child["timeout_seconds"] == 30, child


def test_delegate_without_candidate_fails_at_once(stack):
    start_agents(stack)
    row = run_coordinator(stack, "delegate_task", {"task": {"taskType": "analyze_code", "code": CODE},
                                                   "capability": "telepathy"}, status="failed")
    assert row["attempts"] == 1 and "no agent for task analyze_code" in row["last_error"], row
    assert "capability telepathy: none registered" in row["last_error"], row
    assert children(stack, row["id"]) == []
    bad = run_coordinator(stack, "delegate_task", {"task": {"code": CODE}}, status="failed")
    assert bad["attempts"] == 1 and bad["last_error"] == "data.task.taskType is required", bad


def test_retried_coordinator_reattaches_to_its_child(stack):
    start_agents(stack)
    data = {"task": {"taskType": "detect_bugs", "code": CODE}, "wait": 30}
    first = run_coordinator(stack, "delegate_task", data)
    child_id = first["result"]["jobId"]
    # A second attempt of the same coordinator job (as after a failure): its children's
    # idempotency keys do not include the attempt, so it finds the child and reuses it.
    res = retry_coordinator(stack, first)["result"]
    assert res["reused"] is True and res["jobId"] == child_id and res["status"] == "completed", res
    assert res["result"] == first["result"]["result"], res
    assert [c["id"] for c in children(stack, first["id"])] == [child_id]


def workflow(records):
    return {
        "input": {"records": records, "minimum": 20},
        "steps": [
            {"name": "clean", "taskType": "transform_data", "capability": "transformation",
             "data": {"steps": [{"op": "filter", "field": "amount", "operator": "gte", "value": 20}]},
             "input": {"records": "$.input.records"}},
            {"name": "stats", "taskType": "process_data",
             "data": {"fields": ["amount"]},
             "input": {"records": "$.steps.clean.result.records"}},
            {"name": "notify", "taskType": "ping", "agent": "code_analyzer",
             "input": {"total": "$.steps.stats.result.fields.amount.sum", "first": "$.steps.clean.result.records[0]"}},
        ],
    }


def test_three_step_workflow(stack):
    start_agents(stack)
    records = [{"id": 1, "amount": 10}, {"id": 2, "amount": 20}, {"id": 3, "amount": 40}]
    row = run_coordinator(stack, "coordinate_workflow", workflow(records))
    res = row["result"]
    assert res["status"] == "completed", res
    clean, stats, notify = res["steps"]
    assert [s["name"] for s in res["steps"]] == ["clean", "stats", "notify"], res
    assert [s["agent"] for s in res["steps"]] == ["data_processor", "data_processor", "code_analyzer"], res
    assert all(s["status"] == "completed" and isinstance(s["durationMs"], int) for s in res["steps"]), res
    assert clean["result"]["records"] == [{"id": 2, "amount": 20}, {"id": 3, "amount": 40}], clean
    assert stats["result"]["count"] == 2 and stats["result"]["fields"]["amount"]["sum"] == 60, stats
    assert notify["result"]["pong"] is True and notify["result"]["jobId"] == notify["jobId"], notify
    assert res["output"] == notify["result"], res
    # The steps are the jobs of one workflow run, keyed by the coordinator job.
    run = run_of(stack, row["id"])
    assert run["id"] == res["runId"] and run["status"] == "completed" and res["reused"] is False, run
    kids = {c["id"]: c for c in run_jobs(stack, run["id"])}
    assert sorted(kids) == sorted(s["jobId"] for s in res["steps"]), kids
    assert [kids[s["jobId"]]["step_key"] for s in res["steps"]] == ["clean", "stats", "notify"]
    # The later steps' data came from the earlier results.
    assert kids[stats["jobId"]]["payload"]["data"] == {"fields": ["amount"], "records": clean["result"]["records"]}
    assert kids[notify["jobId"]]["payload"]["data"] == {"total": 60, "first": {"id": 2, "amount": 20}}
    # A plain list runs in order: each step depends on the one before it, and on the steps
    # its references read (notify reads clean's result too).
    assert [s["dependsOn"] for s in run["definition"]["steps"]] == [[], ["clean"], ["clean", "stats"]]


def test_workflow_stops_at_the_failed_step(stack):
    start_agents(stack)
    records = [{"id": 1, "amount": 30}]
    broken = workflow(records)
    broken["steps"][1]["input"]["records"] = "$.input.records[0].amount"  # 30: not a list of records
    row = run_coordinator(stack, "coordinate_workflow", broken)
    res = row["result"]
    assert res["status"] == "failed" and res["output"] is None, res
    clean, stats, notify = res["steps"]
    assert clean["status"] == "completed" and stats["status"] == "failed", res
    assert "data.records" in stats["error"] and "result" not in stats, stats
    assert notify == {"name": "notify", "status": "skipped"}, notify
    assert len(run_jobs(stack, res["runId"])) == 2
    assert res["runStatus"] == "failed" and "stats" in res["error"], res
    # With stopOnFailure false the last step still runs (every step continues on failure);
    # its reference into the failed step's result reads null, as on the engine.
    go_on = {**broken, "stopOnFailure": False}
    res = run_coordinator(stack, "coordinate_workflow", go_on)["result"]
    assert [s["status"] for s in res["steps"]] == ["completed", "failed", "completed"], res
    assert res["status"] == "failed" and res["runStatus"] == "completed", res
    notify_job = stack.job(res["steps"][2]["jobId"])
    assert notify_job["payload"]["data"] == {"total": None, "first": {"id": 1, "amount": 30}}, notify_job


def test_workflow_is_validated_up_front(stack):
    start_agents(stack)
    bad = workflow([{"amount": 1}])
    bad["steps"][1]["input"]["records"] = "$.steps.notify.result.records"
    row = run_coordinator(stack, "coordinate_workflow", bad, status="failed")
    assert row["attempts"] == 1, row
    assert row["last_error"].startswith("data.steps[1].input.records refers to step 'notify'"), row
    assert run_of(stack, row["id"]) is None


def test_a_one_second_wait_polls_the_child_for_that_second(stack):
    """timeout: 1 on a step (and wait: 1 on delegate_task) long-polls the child for one second
    (GET /api/jobs/:id?wait=1) before giving up on it. It used to give up at once without
    asking: by the time the child existed, a hair under 1 s was left, and the wait rounded that
    down to nothing (worker/agents/coordinator/delegate.c). The coordinator talks to the
    gateway through a recording proxy; the child's agent is registered but has no worker, so
    its job stays pending whatever the timing."""
    gw = stack.gateway()
    expect(gw.post("/api/agents/register", json={"agentName": "sleeper"}), 201)
    proxy = GatewayProxy(gw.url)
    try:
        stack.start_worker("coordinator", url=proxy.url)
        row = run_coordinator(stack, "coordinate_workflow",
                              {"steps": [{"name": "nap", "taskType": "ping", "agent": "sleeper", "timeout": 1}]})
        [step] = row["result"]["steps"]
        assert step["status"] == "timed_out" and step["agent"] == "sleeper", step
        assert f"job {step['jobId']} did not finish within 1 s (it was pending)" in step["error"], step
        polls = [e for e in proxy.entries() if e["path"].startswith(f"/api/jobs/{step['jobId']}?")]
        assert [(e["method"], e["path"], e["status"]) for e in polls] == [
            ("GET", f"/api/jobs/{step['jobId']}?wait=1", 200)], proxy.entries()
        assert json.loads(polls[0]["response"])["status"] == "pending"
        assert stack.job(step["jobId"])["status"] == "cancelled"

        res = run_coordinator(stack, "delegate_task",
                              {"task": {"taskType": "ping"}, "agent": "sleeper", "wait": 1})["result"]
        assert res["status"] == "pending", res
        polls = [e for e in proxy.entries() if e["path"].startswith(f"/api/jobs/{res['jobId']}?")]
        assert [(e["method"], e["path"]) for e in polls] == [("GET", f"/api/jobs/{res['jobId']}?wait=1")], polls
    finally:
        proxy.close()


def test_a_workflow_with_dependencies_retries_and_a_condition_runs_on_the_engine(stack):
    """dependsOn (two branches at once, then a fan-in), retries, timeoutSeconds and a
    condition (a `when`) used to be refused; they now become the run's definition."""
    start_agents(stack)
    records = [{"id": 1, "amount": 10}, {"id": 2, "amount": 25}]
    row = run_coordinator(stack, "coordinate_workflow", {
        "input": {"records": records, "code": CODE},
        "steps": [
            {"name": "check", "taskType": "validate_data",
             "data": {"schema": {"type": "object", "required": ["amount"]}}, "input": {"records": "$.input.records"}},
            {"name": "bugs", "taskType": "detect_bugs", "dependsOn": [], "input": {"code": "$.input.code"},
             "retries": 2, "timeoutSeconds": 30},
            {"name": "stats", "taskType": "process_data", "dependsOn": ["check"], "data": {"fields": ["amount"]},
             "input": {"records": "$.input.records"},
             "condition": {"field": "$.steps.check.result.valid", "operator": "eq", "value": True}},
            {"name": "never", "taskType": "ping", "agent": "code_analyzer", "dependsOn": ["check"],
             "condition": {"field": "$.steps.check.result.valid", "operator": "eq", "value": False}},
            {"name": "join", "taskType": "ping", "agent": "data_processor", "dependsOn": ["bugs", "stats"],
             "input": {"sum": "$.steps.stats.result.fields.amount.sum"}},
        ]})
    res = row["result"]
    assert res["status"] == "completed", res
    got = {s["name"]: s for s in res["steps"]}
    assert {k: s["status"] for k, s in got.items()} == {
        "check": "completed", "bugs": "completed", "stats": "completed", "never": "skipped", "join": "completed"}
    assert got["never"] == {"name": "never", "status": "skipped"}
    assert got["stats"]["result"]["fields"]["amount"]["sum"] == 35
    assert res["output"] == got["join"]["result"]
    run = run_of(stack, row["id"])
    deps = {s["key"]: s for s in run["definition"]["steps"]}
    assert deps["bugs"]["dependsOn"] == [] and deps["bugs"]["retries"] == 2 and deps["bugs"]["timeoutSeconds"] == 30
    assert deps["join"]["dependsOn"] == ["bugs", "stats"]
    assert deps["stats"]["when"] == {"field": "steps.check.output.valid", "operator": "eq", "value": True}
    jobs = {j["step_key"]: j for j in run_jobs(stack, run["id"])}
    assert sorted(jobs) == ["bugs", "check", "join", "stats"]
    assert jobs["bugs"]["max_attempts"] == 3 and jobs["bugs"]["timeout_seconds"] == 30
    assert jobs["join"]["payload"]["data"] == {"sum": 35}
    # bugs did not wait for check: it has no parent, so it was queued with the run.
    steps = {s["key"]: s for s in stack.db.query("SELECT * FROM workflow_steps WHERE run_id = %s", (run["id"],))}
    assert steps["bugs"]["queued_at"] == steps["check"]["queued_at"], steps


def test_a_retried_coordinator_reattaches_to_its_run(stack):
    start_agents(stack)
    first = run_coordinator(stack, "coordinate_workflow", workflow([{"id": 1, "amount": 50}]))
    assert first["result"]["reused"] is False
    res = retry_coordinator(stack, first)["result"]
    assert res["reused"] is True and res["runId"] == first["result"]["runId"], res
    assert res["steps"] == first["result"]["steps"] and res["status"] == "completed", res
    assert stack.db.scalar("SELECT count(*) FROM workflow_runs") == 1
    assert len(run_jobs(stack, res["runId"])) == 3


def test_a_cancelled_coordinator_job_cancels_its_run(stack):
    gw = stack.gateway()
    expect(gw.post("/api/agents/register", json={"agentName": "sleeper"}), 201)
    stack.start_worker("coordinator")
    job_id = stack.create_job("coordinator", {"type": "ai_task", "taskType": "coordinate_workflow", "data": {
        "steps": [{"name": "nap", "taskType": "ping", "agent": "sleeper", "timeout": 600}]}})["id"]
    stack.wait_until(lambda: (run_of(stack, job_id) is not None, None), 30, "the coordinator started its run")
    r = stack.gateway().post(f"/api/jobs/{job_id}/cancel")
    assert r.status_code in (200, 202), r.text
    stack.wait_status([job_id], "cancelled", 30, "the coordinator job cancelled")
    run = stack.wait_until(lambda: (lambda r: (r["status"] == "cancelled", r))(run_of(stack, job_id)),
                           30, "its run cancelled")
    [job] = run_jobs(stack, run["id"])
    assert job["status"] == "cancelled", job


def test_a_workflow_whose_step_has_no_agent_fails_before_starting_a_run(stack):
    start_agents(stack)
    row = run_coordinator(stack, "coordinate_workflow", {
        "steps": [{"name": "a", "taskType": "ping", "agent": "code_analyzer"},
                  {"name": "b", "taskType": "analyze_code", "capability": "telepathy"}]}, status="failed")
    assert row["attempts"] == 1, row
    assert row["last_error"].startswith("data.steps[1]: no agent for task analyze_code"), row
    assert run_of(stack, row["id"]) is None
