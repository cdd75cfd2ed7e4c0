"""Workflow step kinds beyond agent tasks (docs/workflows.md#step-kinds): durable sleeps,
waits for a named signal, child runs, and the run-level timeout (sql/008_workflow_kinds.sql).

Timers fire from the gateway's sweeper (fs_wf_tick), so these gateways sweep every 100 ms.
Most tests play the worker, as test_workflows.py does (claim step jobs from SQL, report
through the job API); the durable sleep runs on a real pool and survives a restart of both
the gateway and the pool."""

import time

import pytest

from fsutil import expect, expect_error, parse_ts
from test_workflows import AGENT, claim, claim_keys, complete, control, fail, get_run, steps_of

FAST_SWEEP = {"FLOWSTATE_SWEEP_INTERVAL_MS": 100}


@pytest.fixture
def gw(gateway_factory):
    return gateway_factory(env=FAST_SWEEP)


def agent_step(key, deps=(), **fields):
    s = {"key": key, "agent": AGENT, "task": "work", **fields}
    if deps:
        s["dependsOn"] = list(deps)
    return s


def start(gw, steps, status=201, **body):
    return expect(gw.post("/api/workflows/runs", json={"definition": {"steps": steps, **body.pop("top", {})},
                                                      **body}), status)


def wait_for(gw, rid, cond, what, timeout=30):
    """Polls run rid until cond(run) holds; returns the run."""
    deadline = time.monotonic() + timeout
    while True:
        run = get_run(gw, rid)
        if cond(run):
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout}s; run: {run}")
        time.sleep(0.05)


def finished(run):
    return run["status"] in ("completed", "failed", "cancelled")


def step_status(run, key):
    return steps_of(run)[key]["status"]


def signal(gw, rid, name, payload=None, status=200):
    body = {"name": name}
    if payload is not None:
        body["payload"] = payload
    return expect(gw.post(f"/api/workflows/runs/{rid}/signal", json=body), status)


# --- sleep --------------------------------------------------------------------------------


def test_a_sleep_completes_when_its_time_passes_and_the_next_step_runs(gw, db):
    run = start(gw, [{"key": "cool", "kind": "sleep", "seconds": 1},
                     agent_step("after", ["cool"], input={"woke": {"$ref": "steps.cool.output.sleptUntil"}})])
    cool = steps_of(run)["cool"]
    assert cool["status"] == "running" and cool["kind"] == "sleep" and cool["jobId"] is None
    assert cool["agent"] is None and cool["task"] is None
    assert parse_ts(cool["dueAt"]) > parse_ts(cool["startedAt"])
    assert claim(db) == [], "a sleep makes no job"
    run = wait_for(gw, run["id"], lambda r: step_status(r, "cool") == "completed", "the sleep completed")
    cool = steps_of(run)["cool"]
    assert parse_ts(cool["output"]["sleptUntil"]) == parse_ts(cool["dueAt"])
    assert parse_ts(cool["finishedAt"]) >= parse_ts(cool["dueAt"])
    job = claim_keys(db, ["after"], "the step after the sleep starts")["after"]
    assert parse_ts(job["payload"]["data"]["woke"]) == parse_ts(cool["dueAt"])
    expect(complete(gw, job, {"ok": 1}), 200)
    done = get_run(gw, run["id"])
    assert done["status"] == "completed" and set(done["output"]) == {"cool", "after"}


def test_a_sleep_of_a_paused_run_completes_and_the_next_step_waits_for_resume(gw, db):
    run = start(gw, [{"key": "cool", "kind": "sleep", "seconds": 1}, agent_step("after", ["cool"])])
    control(gw, run["id"], "pause")
    paused = wait_for(gw, run["id"], lambda r: step_status(r, "cool") == "completed", "the sleep completed")
    assert paused["status"] == "paused" and step_status(paused, "after") == "pending"
    assert claim(db) == []
    control(gw, run["id"], "resume")
    claim_keys(db, ["after"], "the next step starts at resume")


def test_a_cancelled_sleep_never_fires(gw, db):
    run = start(gw, [{"key": "cool", "kind": "sleep", "seconds": 1}, agent_step("after", ["cool"])])
    cancelled = control(gw, run["id"], "cancel")
    assert step_status(cancelled, "cool") == "cancelled" and step_status(cancelled, "after") == "cancelled"
    due = steps_of(cancelled)["cool"]["dueAt"]
    while db.scalar("SELECT now() < %s", (due,)):
        time.sleep(0.1)
    # A tick after the wake time (NULL: the gateway's was running; try again) fires nothing.
    while db.scalar("SELECT fs_wf_tick(10)::text") is None:
        time.sleep(0.01)
    assert step_status(get_run(gw, run["id"]), "cool") == "cancelled" and claim(db) == []


def test_a_sleep_survives_a_restart_of_the_gateway_and_the_pool(stack):
    stack.start_gateway(FAST_SWEEP)
    pool = stack.start_pool("monitoring=1")
    gw = stack.gw
    ping = {"agent": "monitoring", "task": "ping"}
    run = start(gw, [{"key": "before", **ping, "input": {"sleepMs": 10}},
                     {"key": "nap", "kind": "sleep", "seconds": 3, "dependsOn": ["before"]},
                     {"key": "after", **ping, "dependsOn": ["nap"], "input": {"sleepMs": 10}}])
    rid = run["id"]
    wait_for(gw, rid, lambda r: step_status(r, "nap") == "running", "the sleep started")
    # Both stop while the sleep runs, and stay down past its wake time.
    assert pool.terminate() == 0, pool.log_tail()
    assert gw.stop(timeout=20) == 0, gw.log_tail()
    due = stack.db.scalar("SELECT due_at FROM workflow_steps WHERE run_id = %s AND key = 'nap'", (rid,))
    while stack.db.scalar("SELECT now() < %s", (due,)):
        time.sleep(0.1)
    assert stack.db.scalar("SELECT status FROM workflow_steps WHERE run_id = %s AND key = 'nap'", (rid,)) \
        == "running", "nothing fires a timer while no gateway runs"
    restarted_at = stack.db.scalar("SELECT now()")
    gw2 = stack.restart_gateway(gw)
    stack.start_pool("monitoring=1")
    done = wait_for(gw2, rid, finished, "the run finished after the restart", timeout=60)
    assert done["status"] == "completed", done
    nap = steps_of(done)["nap"]
    assert parse_ts(nap["finishedAt"]) >= restarted_at >= parse_ts(nap["dueAt"])
    assert steps_of(done)["after"]["attempts"] == 1


# --- wait and signal ----------------------------------------------------------------------


def test_a_signal_completes_the_waiting_step_with_its_payload(gw, db):
    run = start(gw, [{"key": "approve", "kind": "wait", "signal": "approval", "timeoutSeconds": 3600},
                     agent_step("ship", ["approve"], input={"by": {"$ref": "steps.approve.output.by"}})])
    rid = run["id"]
    approve = steps_of(run)["approve"]
    assert approve["status"] == "running" and approve["signal"] == "approval" and approve["dueAt"]
    assert claim(db) == []
    got = signal(gw, rid, "approval", {"by": "ann", "ok": True})
    assert got["outcome"] == "delivered" and got["step"] == "approve" and got["signal"] == "approval"
    assert steps_of(got["run"])["approve"]["output"] == {"by": "ann", "ok": True}
    assert steps_of(got["run"])["approve"]["status"] == "completed"
    job = claim_keys(db, ["ship"], "the step after the wait starts")["ship"]
    assert job["payload"]["data"] == {"by": "ann"}
    expect(complete(gw, job), 200)
    assert get_run(gw, rid)["status"] == "completed"
    # The step took the signal: another one has nothing to wait for it.
    expect_error(gw.post(f"/api/workflows/runs/{rid}/signal", json={"name": "approval"}), 409, "conflict", "status")


def test_a_signal_without_payload_gives_an_empty_object(gw):
    run = start(gw, [{"key": "w", "kind": "wait", "signal": "go"}])
    assert steps_of(run)["w"]["dueAt"] is None, "a wait without timeoutSeconds never times out"
    got = signal(gw, run["id"], "go")
    assert got["run"]["status"] == "completed" and got["run"]["output"] == {"w": {}}


def test_a_wait_that_times_out_fails_the_run(gw, db):
    run = start(gw, [{"key": "approve", "kind": "wait", "signal": "approval", "timeoutSeconds": 1},
                     agent_step("ship", ["approve"])])
    done = wait_for(gw, run["id"], finished, "the wait timed out")
    assert done["status"] == "failed"
    approve = steps_of(done)["approve"]
    assert approve["status"] == "failed"
    assert approve["error"] == "timed out after 1 seconds waiting for signal approval"
    assert done["error"] == "step approve failed: timed out after 1 seconds waiting for signal approval"
    assert step_status(done, "ship") == "cancelled"
    assert claim(db) == []
    expect_error(gw.post(f"/api/workflows/runs/{run['id']}/signal", json={"name": "approval"}),
                 409, "conflict", "status")
    # A retry waits again, with a fresh timeout, and a signal now completes it.
    again = control(gw, run["id"], "retry")
    assert step_status(again, "approve") == "running"
    assert parse_ts(steps_of(again)["approve"]["dueAt"]) > parse_ts(approve["dueAt"])
    signal(gw, run["id"], "approval", {"late": True})
    expect(complete(gw, claim_keys(db, ["ship"], "ship after the retried wait")["ship"]), 200)
    assert get_run(gw, run["id"])["status"] == "completed"


def test_a_wait_that_times_out_with_continue_on_failure_lets_the_run_go_on(gw, db):
    run = start(gw, [{"key": "approve", "kind": "wait", "signal": "approval", "timeoutSeconds": 1,
                      "continueOnFailure": True},
                     agent_step("fallback", ["approve"])])
    wait_for(gw, run["id"], lambda r: step_status(r, "approve") == "failed", "the wait timed out")
    expect(complete(gw, claim_keys(db, ["fallback"], "the run goes on")["fallback"]), 200)
    done = get_run(gw, run["id"])
    assert done["status"] == "completed" and list(done["output"]) == ["fallback"]


def test_a_signal_sent_before_its_wait_starts_is_kept_for_it(gw, db):
    run = start(gw, [agent_step("first"),
                     {"key": "approve", "kind": "wait", "signal": "approval", "dependsOn": ["first"]},
                     agent_step("ship", ["approve"], input={"$ref": "steps.approve.output"})])
    rid = run["id"]
    kept = signal(gw, rid, "approval", {"n": 1}, status=202)
    assert kept["outcome"] == "kept" and kept["step"] is None
    assert [s["name"] for s in kept["run"]["keptSignals"]] == ["approval"]
    assert step_status(kept["run"], "approve") == "pending"
    # One pending wait takes one signal: a second has no step left to wait for it.
    err = expect_error(gw.post(f"/api/workflows/runs/{rid}/signal", json={"name": "approval", "payload": {"n": 2}}),
                       409, "conflict", "name")
    assert "approval" in err["message"]
    expect(complete(gw, claim_keys(db, ["first"], "the first step")["first"]), 200)
    # The wait started and took the kept signal at once: the next step is already queued.
    job = claim_keys(db, ["ship"], "the wait took the kept signal")["ship"]
    assert job["payload"]["data"] == {"n": 1}
    after = get_run(gw, rid)
    assert step_status(after, "approve") == "completed" and after["keptSignals"] == []
    assert db.count("workflow_signals") == 0


def test_two_waits_on_one_signal_take_one_signal_each_in_definition_order(gw):
    run = start(gw, [{"key": "a", "kind": "wait", "signal": "s"}, {"key": "b", "kind": "wait", "signal": "s"}])
    assert signal(gw, run["id"], "s", {"n": 1})["step"] == "a"
    second = signal(gw, run["id"], "s", {"n": 2})
    assert second["step"] == "b" and second["run"]["output"] == {"a": {"n": 1}, "b": {"n": 2}}


def test_signal_refusals(gw, db):
    run = start(gw, [{"key": "w", "kind": "wait", "signal": "go"}])
    rid = run["id"]
    before = db.counts()
    expect_error(gw.post("/api/workflows/runs/999999/signal", json={"name": "go"}), 404, "not_found", "id")
    expect(gw.post("/api/workflows/runs/abc/signal", json={"name": "go"}), 400)
    err = expect_error(gw.post(f"/api/workflows/runs/{rid}/signal", json={"name": "other"}), 409, "conflict", "name")
    assert "no step of workflow run" in err["message"] and "'other'" in err["message"]
    for body, field in [({}, "name"), ({"name": 5}, "name"), ({"name": ""}, "name"), ({"name": "a b"}, "name"),
                        ({"name": "x" * 101}, "name")]:
        expect_error(gw.post(f"/api/workflows/runs/{rid}/signal", json=body), 400, "invalid_field", field)
    r = gw.post(f"/api/workflows/runs/{rid}/signal", data="[1]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert db.counts() == before and step_status(get_run(gw, rid), "w") == "running"
    control(gw, rid, "cancel")
    err = expect_error(gw.post(f"/api/workflows/runs/{rid}/signal", json={"name": "go"}), 409, "conflict", "status")
    assert "is cancelled" in err["message"]
    assert step_status(get_run(gw, rid), "w") == "cancelled"


def test_a_signal_reaches_a_waiting_step_of_a_paused_run_and_nothing_starts_until_resume(gw, db):
    run = start(gw, [{"key": "w", "kind": "wait", "signal": "go"}, agent_step("next", ["w"])])
    control(gw, run["id"], "pause")
    got = signal(gw, run["id"], "go")
    assert got["run"]["status"] == "paused" and step_status(got["run"], "w") == "completed"
    assert claim(db) == []
    control(gw, run["id"], "resume")
    claim_keys(db, ["next"], "next after resume")


# --- child runs ---------------------------------------------------------------------------


def child_of(gw, run, key):
    cid = steps_of(run)[key]["childRunId"]
    assert cid, f"step {key} has no child run: {run}"
    return get_run(gw, cid)


def test_a_child_run_gets_its_input_and_its_output_becomes_the_steps(gw, db):
    expect(gw.post("/api/workflows/templates", json={"name": "double", "definition": {"steps": [
        agent_step("calc", input={"x": {"$ref": "input.x"}})]}}), 201)
    run = start(gw, [agent_step("first"),
                     {"key": "sub", "kind": "workflow", "template": "double", "dependsOn": ["first"],
                      "input": {"x": {"$ref": "steps.first.output.n"}}},
                     agent_step("last", ["sub"], input={"y": {"$ref": "steps.sub.output.calc.y"}})],
                input={"n": 0})
    expect(complete(gw, claim_keys(db, ["first"], "first")["first"], {"n": 21}), 200)
    parent = get_run(gw, run["id"])
    sub = steps_of(parent)["sub"]
    assert sub["status"] == "running" and sub["kind"] == "workflow"
    child = child_of(gw, parent, "sub")
    assert child["parentRunId"] == run["id"] and child["parentStepKey"] == "sub"
    assert child["template"] == "double" and child["templateVersion"] == 1 and child["input"] == {"x": 21}
    calc = claim_keys(db, ["calc"], "the child's step")["calc"]
    assert calc["payload"]["workflowRunId"] == child["id"] and calc["payload"]["data"] == {"x": 21}
    expect(complete(gw, calc, {"y": 42}), 200)
    # The child's completion completed the parent's step in the same transaction.
    parent = get_run(gw, run["id"])
    assert get_run(gw, child["id"])["status"] == "completed"
    assert steps_of(parent)["sub"]["status"] == "completed"
    assert steps_of(parent)["sub"]["output"] == {"calc": {"y": 42}}
    last = claim_keys(db, ["last"], "the step after the child")["last"]
    assert last["payload"]["data"] == {"y": 42}


def test_a_child_of_an_inline_definition_that_finishes_at_once_completes_the_step_at_once(gw):
    run = start(gw, [{"key": "sub", "kind": "workflow", "definition": {"steps": [
        agent_step("never", when={"field": "input.go", "operator": "eq", "value": True})]}}])
    assert run["status"] == "completed", run
    assert step_status(run, "sub") == "completed" and run["output"] == {"sub": {}}
    assert step_status(child_of(gw, run, "sub"), "never") == "skipped"


def test_a_failed_child_fails_the_parent_unless_the_step_continues_on_failure(gw, db):
    inner = {"steps": [agent_step("boom")]}
    run = start(gw, [{"key": "sub", "kind": "workflow", "definition": inner},
                     {"key": "soft", "kind": "workflow", "definition": inner, "continueOnFailure": True},
                     agent_step("after", ["soft"])])
    jobs = claim(db)
    assert sorted(j["payload"]["stepKey"] for j in jobs) == ["boom", "boom"]
    by_run = {j["payload"]["workflowRunId"]: j for j in jobs}
    soft_child = steps_of(run)["soft"]["childRunId"]
    expect(fail(gw, by_run[soft_child], "soft broke"), 200)
    parent = get_run(gw, run["id"])
    assert parent["status"] == "running" and step_status(parent, "soft") == "failed"
    assert steps_of(parent)["soft"]["error"] == f"child run {soft_child} failed: step boom failed: soft broke"
    claim_keys(db, ["after"], "the run goes on past the soft failure")
    sub_child = steps_of(run)["sub"]["childRunId"]
    expect(fail(gw, by_run[sub_child], "hard broke"), 200)
    parent = get_run(gw, run["id"])
    assert parent["status"] == "failed"
    assert parent["error"] == f"step sub failed: child run {sub_child} failed: step boom failed: hard broke"


def test_cancelling_a_parent_cancels_its_children_and_their_jobs(gw, db):
    grandchild = {"steps": [agent_step("deep"), agent_step("deeper", ["deep"])]}
    run = start(gw, [{"key": "sub", "kind": "workflow", "definition": {"steps": [
        {"key": "subsub", "kind": "workflow", "definition": grandchild},
        {"key": "nap", "kind": "sleep", "seconds": 3600}]}}])
    child = child_of(gw, run, "sub")
    leaf = child_of(gw, child, "subsub")
    assert leaf["parentRunId"] == child["id"]
    deep = claim_keys(db, ["deep"], "the grandchild's step runs")["deep"]
    cancelled = control(gw, run["id"], "cancel")
    assert cancelled["status"] == "cancelled" and step_status(cancelled, "sub") == "cancelled"
    child, leaf = get_run(gw, child["id"]), get_run(gw, leaf["id"])
    assert child["status"] == leaf["status"] == "cancelled"
    assert child["error"] == f"parent run {run['id']} cancelled"
    assert step_status(child, "nap") == "cancelled" and step_status(leaf, "deeper") == "cancelled"
    job = db.one("SELECT status, cancel_requested FROM job_queue WHERE id = %s", (deep["id"],))
    assert job == {"status": "running", "cancel_requested": True}, "the running job is asked to stop"
    # Its worker's report is still recorded, and starts nothing.
    expect(complete(gw, deep), 200)
    assert step_status(get_run(gw, leaf["id"]), "deep") == "completed"
    assert claim(db) == [] and get_run(gw, leaf["id"])["status"] == "cancelled"


def test_cancelling_a_child_fails_its_parents_step(gw, db):
    run = start(gw, [{"key": "sub", "kind": "workflow", "definition": {"steps": [agent_step("x")]}}])
    child = child_of(gw, run, "sub")
    control(gw, child["id"], "cancel")
    parent = get_run(gw, run["id"])
    assert step_status(parent, "sub") == "cancelled" and parent["status"] == "failed"
    assert parent["error"] == f"step sub cancelled: child run {child['id']} cancelled: cancelled"


def test_a_template_that_includes_itself_fails_at_the_depth_limit(gw, db):
    expect(gw.post("/api/workflows/templates", json={"name": "forever", "definition": {"steps": [
        {"key": "again", "kind": "workflow", "template": "forever"}]}}), 201)
    run = expect(gw.post("/api/workflows/runs", json={"template": "forever"}), 201)
    assert run["status"] == "failed"
    assert run["error"].endswith("step again failed: child runs nest at most 8 levels deep"), run["error"]
    assert db.scalar("SELECT max(depth) FROM workflow_runs") == 8
    assert db.count("workflow_runs") == 9 and db.count("workflow_runs", "status <> 'failed'") == 0


def test_a_child_of_a_missing_template_fails_its_step(gw):
    run = start(gw, [{"key": "sub", "kind": "workflow", "template": "nowhere"},
                     {"key": "sub2", "kind": "workflow", "template": "nowhere", "version": 3,
                      "continueOnFailure": True}])
    assert run["status"] == "failed"
    assert steps_of(run)["sub"]["error"] == "no workflow template nowhere"
    assert steps_of(run)["sub"]["childRunId"] is None


def test_a_retried_parent_starts_a_new_child_for_a_failed_child_step(gw, db):
    run = start(gw, [{"key": "sub", "kind": "workflow", "definition": {"steps": [agent_step("x")]}}])
    first_child = steps_of(run)["sub"]["childRunId"]
    expect(fail(gw, claim_keys(db, ["x"], "x")["x"]), 200)
    assert get_run(gw, run["id"])["status"] == "failed"
    again = control(gw, run["id"], "retry")
    second_child = steps_of(again)["sub"]["childRunId"]
    assert second_child and second_child != first_child
    expect(complete(gw, claim_keys(db, ["x"], "x again")["x"], {"ok": True}), 200)
    done = get_run(gw, run["id"])
    assert done["status"] == "completed" and done["output"] == {"sub": {"x": {"ok": True}}}


def test_an_old_child_retried_after_its_parent_was_does_not_settle_the_new_childs_step(gw, db):
    run = start(gw, [{"key": "sub", "kind": "workflow", "definition": {"steps": [agent_step("x")]}}])
    old_child = steps_of(run)["sub"]["childRunId"]
    expect(fail(gw, claim_keys(db, ["x"], "x")["x"]), 200)
    new_child = steps_of(control(gw, run["id"], "retry"))["sub"]["childRunId"]
    new_job = claim_keys(db, ["x"], "the new child's x")["x"]
    control(gw, old_child, "retry")
    old_job = claim_keys(db, ["x"], "the old child's x again")["x"]
    assert old_job["payload"]["workflowRunId"] == old_child
    expect(complete(gw, old_job, {"from": "old"}), 200)
    assert get_run(gw, old_child)["status"] == "completed"
    parent = get_run(gw, run["id"])
    assert step_status(parent, "sub") == "running" and steps_of(parent)["sub"]["childRunId"] == new_child
    expect(complete(gw, new_job, {"from": "new"}), 200)
    done = get_run(gw, run["id"])
    assert done["status"] == "completed" and done["output"] == {"sub": {"x": {"from": "new"}}}


# --- several gateways ---------------------------------------------------------------------


def test_two_sweeping_gateways_fire_each_timer_once(gateway_factory, db):
    gws = [gateway_factory(env={"FLOWSTATE_SWEEP_INTERVAL_MS": 20}) for _ in range(2)]
    runs = [start(gws[i % 2], [{"key": "nap", "kind": "sleep", "seconds": 1},
                               agent_step("after", ["nap"])]) for i in range(20)]
    for r in runs:
        wait_for(gws[0], r["id"], lambda x: step_status(x, "nap") == "completed", "every sleep completed")
    jobs = db.query("SELECT workflow_run_id, count(*) AS n FROM job_queue WHERE step_key = 'after'"
                    " GROUP BY 1")
    assert sorted(j["workflow_run_id"] for j in jobs) == sorted(r["id"] for r in runs)
    assert all(j["n"] == 1 for j in jobs), jobs


# --- run timeout --------------------------------------------------------------------------


def test_a_run_past_its_timeout_fails_and_its_work_is_stopped(gw, db):
    run = start(gw, [agent_step("busy"), agent_step("queued"), agent_step("later", ["busy"]),
                     {"key": "sub", "kind": "workflow", "definition": {"steps": [{"key": "w", "kind": "wait",
                                                                                  "signal": "never"}]}}],
                top={"timeoutSeconds": 1})
    assert run["timeoutAt"] and parse_ts(run["timeoutAt"]) > parse_ts(run["startedAt"])
    busy = db.query("SELECT * FROM fs_jobs_claim(%s, 1, 'wftest:1', 30)", (AGENT,))[0]
    assert busy["payload"]["stepKey"] in ("busy", "queued")
    done = wait_for(gw, run["id"], finished, "the run timed out")
    assert done["status"] == "failed"
    assert done["error"] == "run timed out: it ran longer than its timeoutSeconds (1)"
    st = {k: s["status"] for k, s in steps_of(done).items()}
    claimed = busy["payload"]["stepKey"]
    other = "queued" if claimed == "busy" else "busy"
    assert st[claimed] == "running" and st[other] == "cancelled" and st["later"] == "cancelled"
    assert st["sub"] == "cancelled"
    assert db.one("SELECT cancel_requested FROM job_queue WHERE id = %s", (busy["id"],))["cancel_requested"]
    child = child_of(gw, done, "sub")
    assert child["status"] == "cancelled" and child["error"] == f"parent run {run['id']} failed"
    assert db.count("events", "type = 'workflow.failed' AND data->>'runId' = %s", (str(run["id"]),)) == 1
    # A child's own timeoutSeconds works the same way, and fails the parent's step.
    run2 = start(gw, [{"key": "sub", "kind": "workflow", "definition": {
        "timeoutSeconds": 1, "steps": [{"key": "w", "kind": "wait", "signal": "never"}]}}])
    done2 = wait_for(gw, run2["id"], finished, "the child timed out")
    assert done2["status"] == "failed" and "run timed out" in done2["error"], done2


# --- refusals -----------------------------------------------------------------------------

KIND_INVALID = [
    ("agent fields on a sleep", {"steps": [{"key": "a", "kind": "sleep", "seconds": 1, "agent": AGENT}]},
     "definition.steps[0].agent"),
    ("a sleep without seconds", {"steps": [{"key": "a", "kind": "sleep"}]}, "definition.steps[0].seconds"),
    ("a wait without signal", {"steps": [{"key": "a", "kind": "wait"}]}, "definition.steps[0].signal"),
    ("a wait timeout of 0", {"steps": [{"key": "a", "kind": "wait", "signal": "s", "timeoutSeconds": 0}]},
     "definition.steps[0].timeoutSeconds"),
    ("a workflow step with template and definition",
     {"steps": [{"key": "a", "kind": "workflow", "template": "t", "definition": {"steps": []}}]},
     "definition.steps[0].template"),
    ("a bad inline definition",
     {"steps": [{"key": "a", "kind": "workflow", "definition": {"steps": [{"key": "x", "kind": "sleep"}]}}]},
     "definition.steps[0].definition.steps[0].seconds"),
    ("a run timeout of 0", {"timeoutSeconds": 0, "steps": [{"key": "a", "kind": "wait", "signal": "s"}]},
     "definition.timeoutSeconds"),
]


@pytest.mark.parametrize("name,definition,field", KIND_INVALID, ids=[c[0] for c in KIND_INVALID])
def test_an_invalid_step_of_a_kind_is_refused_and_stores_nothing(gw, db, name, definition, field):
    before = db.counts()
    err = expect_error(gw.post("/api/workflows/runs", json={"definition": definition}), 400, "invalid_field", field)
    assert err["message"].startswith(field), err
    if "steps[" in field:
        assert "(step 'a')" in err["message"], err
    expect_error(gw.post("/api/workflows/templates", json={"name": "bad", "definition": definition}),
                 400, "invalid_field", field)
    assert db.counts() == before
