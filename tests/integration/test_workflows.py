"""Workflows (docs/workflows.md): templates, runs and the engine in sql/006_workflows.sql.

Most tests play the worker, as test_lifecycle_api.py does: they claim step jobs straight from
SQL with fs_jobs_claim and report through the gateway's job API, so each test decides every
outcome and its order (a failed attempt, a stale report, a step still running while the run
is paused). The last tests run steps on real flowstate-pool workers: independent steps
observed running at once, a fan-in after them, and a reference passing one step's output to
the next."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from fsutil import expect, expect_error, parse_ts
from stack import worker_pid

AGENT = "wf_agent"
WORKER = "wftest:1"


# --- helpers ------------------------------------------------------------------------------


def step(key, deps=(), agent=AGENT, task="work", **fields):
    s = {"key": key, "agent": agent, "task": task, **fields}
    if deps:
        s["dependsOn"] = list(deps)
    return s


def start(gw, steps=None, status=201, **body):
    if steps is not None:
        body["definition"] = {"steps": steps}
    return expect(gw.post("/api/workflows/runs", json=body), status)


def get_run(gw, rid):
    return expect(gw.get(f"/api/workflows/runs/{rid}"), 200)


def steps_of(run):
    return {s["key"]: s for s in run["steps"]}


def statuses(gw, rid):
    run = get_run(gw, rid)
    return run["status"], {k: s["status"] for k, s in steps_of(run).items()}


def claim(db, n=50):
    """Claims this agent's runnable jobs like a worker: [{id, attempt, lease, payload}]."""
    return db.query("SELECT * FROM fs_jobs_claim(%s, %s, %s, 30)", (AGENT, n, WORKER))


def keys(jobs):
    return sorted(j["payload"]["stepKey"] for j in jobs)


def claim_keys(db, want, what=""):
    jobs = claim(db)
    assert keys(jobs) == sorted(want), f"{what}: claimed steps {keys(jobs)}, expected {sorted(want)}"
    return {j["payload"]["stepKey"]: j for j in jobs}


def complete(gw, job, result=None, status=200):
    return gw.post(f"/api/jobs/{job['id']}/complete",
                   json={"attempt": job["attempt"], "result": result if result is not None else {}})


def fail(gw, job, error="boom", retryable=False):
    return gw.post(f"/api/jobs/{job['id']}/fail",
                   json={"attempt": job["attempt"], "error": error, "retryable": retryable})


def control(gw, rid, action, status=200):
    return expect(gw.post(f"/api/workflows/runs/{rid}/{action}"), status)


def wait_finished(stack, gw, rid, timeout=60):
    """Waits (real workers) until run rid has finished; returns it."""

    def finished():
        r = get_run(gw, rid)
        return r["status"] not in ("running", "pending"), {s["key"]: s["status"] for s in r["steps"]}

    stack.wait_until(finished, timeout, f"workflow run {rid} finished")
    return get_run(gw, rid)


def wait_claim(db, key, timeout=10):
    """Claims the job of step key once it is runnable (a retry waits out its backoff)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = claim(db)
        if jobs:
            assert keys(jobs) == [key], f"claimed {keys(jobs)}, expected [{key}]"
            return jobs[0]
        time.sleep(0.05)
    pytest.fail(f"step {key}'s job never became runnable")


# --- order, fan-in, references ------------------------------------------------------------


def test_steps_start_as_their_parents_complete_and_a_fan_in_waits_for_every_parent(gateway, db):
    run = start(gateway, [step("a"), step("b", ["a"]), step("c", ["a"]), step("d", ["b", "c"])])
    assert run["status"] == "running"
    assert {k: s["status"] for k, s in steps_of(run).items()} == {
        "a": "running", "b": "pending", "c": "pending", "d": "pending"}
    a = claim_keys(db, ["a"], "only the root starts")["a"]
    assert a["payload"]["taskType"] == "work" and a["payload"]["workflowRunId"] == run["id"]
    expect(complete(gateway, a, {"n": 1}), 200)
    jobs = claim_keys(db, ["b", "c"], "both children of a start together")
    expect(complete(gateway, jobs["b"], {"n": 2}), 200)
    assert claim(db) == [], "d must wait for c"
    assert statuses(gateway, run["id"]) == ("running", {"a": "completed", "b": "completed",
                                                         "c": "running", "d": "pending"})
    expect(complete(gateway, jobs["c"], {"n": 3}), 200)
    d = claim_keys(db, ["d"], "the fan-in starts once both parents completed")["d"]
    expect(complete(gateway, d, {"n": 4}), 200)
    done = get_run(gateway, run["id"])
    assert done["status"] == "completed"
    assert done["output"] == {"a": {"n": 1}, "b": {"n": 2}, "c": {"n": 3}, "d": {"n": 4}}
    assert done["finishedAt"] is not None and done["error"] is None
    for s in done["steps"]:
        assert s["attempts"] == 1 and s["jobId"] and parse_ts(s["finishedAt"])
    # Every step ran exactly once.
    assert db.scalar("SELECT count(*) FROM job_queue WHERE workflow_run_id = %s", (run["id"],)) == 4


def test_references_build_a_steps_input_from_the_run_input_and_earlier_outputs(gateway, db):
    run = start(gateway, [
        step("a", input={"x": {"$ref": "input.x"}, "lit": [1, {"k": "v"}]}),
        step("b", ["a"], input={
            "score": {"$ref": "steps.a.output.score"},
            "all": {"$ref": "steps.a.output"},
            "nested": [{"deep": {"$ref": "steps.a.output.items.1"}}],
            "missing": {"$ref": "steps.a.output.nope"},
            "first": {"$ref": "input.list.0"},
            "whole": {"$ref": "input"}}),
    ], input={"x": {"y": 7}, "list": ["p", "q"]})
    a = claim_keys(db, ["a"])["a"]
    assert a["payload"]["data"] == {"x": {"y": 7}, "lit": [1, {"k": "v"}]}
    expect(complete(gateway, a, {"score": 0.9, "items": ["i0", "i1"]}), 200)
    b = claim_keys(db, ["b"])["b"]
    assert b["payload"]["data"] == {
        "score": 0.9, "all": {"score": 0.9, "items": ["i0", "i1"]}, "nested": [{"deep": "i1"}],
        "missing": None, "first": "p", "whole": {"x": {"y": 7}, "list": ["p", "q"]}}
    assert steps_of(get_run(gateway, run["id"]))["b"]["input"] == b["payload"]["data"]


# --- conditions and skipping --------------------------------------------------------------

RUN_INPUT = {"n": 5, "s": "hello world", "tags": ["a", "b"], "obj": {"k": 1}, "nul": None}
# (key, field, operator, value or absent, runs?)
WHEN_CASES = [
    ("eq_yes", "input.n", "eq", 5, True), ("eq_no", "input.n", "eq", 6, False),
    ("eq_numeric", "input.n", "eq", 5.0, True), ("eq_string", "input.s", "eq", "hello world", True),
    ("eq_object", "input.obj", "eq", {"k": 1}, True), ("eq_missing_null", "input.zz", "eq", None, True),
    ("ne_yes", "input.n", "ne", 6, True), ("ne_no", "input.n", "ne", 5, False),
    ("ne_missing", "input.zz", "ne", 1, True),
    ("gt_yes", "input.n", "gt", 4, True), ("gt_no", "input.n", "gt", 5, False),
    ("gt_string", "input.s", "gt", "hello", True), ("gt_mixed", "input.n", "gt", "4", False),
    ("gt_missing", "input.zz", "gt", 0, False),
    ("gte_yes", "input.n", "gte", 5, True), ("gte_no", "input.n", "gte", 6, False),
    ("lt_yes", "input.n", "lt", 6, True), ("lt_no", "input.n", "lt", 5, False),
    ("lt_string", "input.s", "lt", "a", False),
    ("lte_yes", "input.n", "lte", 5, True), ("lte_no", "input.n", "lte", 4, False),
    ("in_yes", "input.n", "in", [1, 5], True), ("in_no", "input.n", "in", [1, 2], False),
    ("in_string", "input.s", "in", ["x", "hello world"], True),
    ("contains_substring", "input.s", "contains", "world", True),
    ("contains_substring_no", "input.s", "contains", "xyz", False),
    ("contains_element", "input.tags", "contains", "b", True),
    ("contains_element_no", "input.tags", "contains", "c", False),
    ("contains_key", "input.obj", "contains", "k", True),
    ("contains_key_no", "input.obj", "contains", "j", False),
    ("exists_yes", "input.n", "exists", True, True), ("exists_no", "input.zz", "exists", True, False),
    ("exists_default", "input.tags.1", "exists", "absent", True),
    ("exists_null", "input.nul", "exists", "absent", False),
    ("exists_false", "input.zz", "exists", False, True),
]


def test_every_when_operator_decides_whether_a_step_runs_or_is_skipped(gateway, db):
    steps = []
    for key, field, op, value, _ in WHEN_CASES:
        cond = {"field": field, "operator": op}
        if value != "absent":
            cond["value"] = value
        steps.append(step(key, when=cond))
    run = start(gateway, steps, input=RUN_INPUT)
    want = {k: ("running" if runs else "skipped") for k, _, _, _, runs in WHEN_CASES}
    got = {k: s["status"] for k, s in steps_of(run).items()}
    assert got == want
    jobs = claim_keys(db, [k for k, _, _, _, runs in WHEN_CASES if runs], "the steps whose when holds")
    for j in jobs.values():
        expect(complete(gateway, j), 200)
    done = get_run(gateway, run["id"])
    assert done["status"] == "completed"
    assert sorted(done["output"]) == sorted(jobs)


def test_a_when_reads_a_parents_output(gateway, db):
    run = start(gateway, [
        step("score"),
        step("high", ["score"], when={"field": "steps.score.output.value", "operator": "gt", "value": 3}),
        step("low", ["score"], when={"field": "steps.score.output.value", "operator": "lte", "value": 3}),
    ])
    expect(complete(gateway, claim_keys(db, ["score"])["score"], {"value": 4}), 200)
    claim_keys(db, ["high"], "only the branch whose condition holds")
    assert statuses(gateway, run["id"])[1]["low"] == "skipped"


def test_skipping_runs_down_a_branch_and_stops_at_a_fan_in_with_a_live_parent(gateway, db):
    # a ─┬─ b (when false) ── c ─┬─ d (also after a: runs)
    #    │                      └─ e (after b and c only: skipped)
    #    └──────────────────────────┘
    run = start(gateway, [
        step("a"),
        step("b", ["a"], when={"field": "input.go", "operator": "eq", "value": True}),
        step("c", ["b"]),
        step("d", ["c", "a"]),
        step("e", ["b", "c"]),
    ], input={"go": False})
    expect(complete(gateway, claim_keys(db, ["a"])["a"], {}), 200)
    d = claim_keys(db, ["d"], "d has a parent that completed")["d"]
    assert statuses(gateway, run["id"]) == ("running", {"a": "completed", "b": "skipped",
                                                         "c": "skipped", "d": "running",
                                                         "e": "skipped"})
    expect(complete(gateway, d, {"ok": True}), 200)
    done = get_run(gateway, run["id"])
    assert done["status"] == "completed" and sorted(done["output"]) == ["a", "d"]


def test_a_run_whose_every_step_is_skipped_completes_at_once(gateway, db):
    run = start(gateway, [step("a", when={"field": "input.x", "operator": "exists"}), step("b", ["a"])])
    assert run["status"] == "completed"
    assert {s["status"] for s in run["steps"]} == {"skipped"}
    assert claim(db) == []


# --- failures and retries -----------------------------------------------------------------


def test_a_failed_step_fails_the_run_and_cancels_the_steps_that_did_not_start(gateway, db):
    run = start(gateway, [step("a"), step("side"), step("b", ["a"]), step("c", ["b"])])
    jobs = claim_keys(db, ["a", "side"])
    expect(fail(gateway, jobs["a"], "bad input"), 200)
    done = get_run(gateway, run["id"])
    assert done["status"] == "failed"
    assert "step a failed: bad input" in done["error"]
    got = {k: s["status"] for k, s in steps_of(done).items()}
    assert got == {"a": "failed", "side": "running", "b": "cancelled", "c": "cancelled"}
    assert steps_of(done)["a"]["error"] == "bad input"
    ev = db.query("SELECT * FROM events WHERE type = 'workflow.failed'")
    assert [(e["severity"], e["job_id"], e["agent_name"], e["data"]) for e in ev] == [
        ("error", jobs["a"]["id"], AGENT, {"runId": run["id"], "step": "a", "error": "bad input"})]
    # A step still running finishes; its outcome is recorded and starts nothing.
    expect(complete(gateway, jobs["side"], {"late": True}), 200)
    done = get_run(gateway, run["id"])
    assert done["status"] == "failed" and steps_of(done)["side"]["status"] == "completed"
    assert claim(db) == []


def test_continue_on_failure_lets_the_run_go_on_past_a_failed_step(gateway, db):
    run = start(gateway, [step("a", continueOnFailure=True), step("b", ["a"])])
    expect(fail(gateway, claim_keys(db, ["a"])["a"], "flaky"), 200)
    b = claim_keys(db, ["b"], "b runs after a failed step that continues on failure")["b"]
    expect(complete(gateway, b, {"ok": 1}), 200)
    done = get_run(gateway, run["id"])
    assert done["status"] == "completed"
    assert steps_of(done)["a"]["status"] == "failed" and done["output"] == {"b": {"ok": 1}}


def test_a_retried_attempt_is_not_a_step_failure(gateway, db):
    run = start(gateway, [step("a", retries=1, timeoutSeconds=45), step("b", ["a"])])
    job = db.one("SELECT max_attempts, timeout_seconds FROM job_queue WHERE workflow_run_id = %s",
                 (run["id"],))
    assert job == {"max_attempts": 2, "timeout_seconds": 45}
    first = claim_keys(db, ["a"])["a"]
    expect(fail(gateway, first, "transient", retryable=True), 200)
    assert statuses(gateway, run["id"]) == ("running", {"a": "running", "b": "pending"})
    second = wait_claim(db, "a")
    assert second["id"] == first["id"] and second["attempt"] == 2
    expect(complete(gateway, second, {"second": True}), 200)
    claim_keys(db, ["b"])
    a = steps_of(get_run(gateway, run["id"]))["a"]
    assert a["status"] == "completed" and a["attempts"] == 2 and a["output"] == {"second": True}


def test_a_stale_report_advances_nothing(gateway, db):
    run = start(gateway, [step("a", retries=1), step("b", ["a"])])
    first = claim_keys(db, ["a"])["a"]
    expect(fail(gateway, first, "transient", retryable=True), 200)
    second = wait_claim(db, "a")
    # The first attempt's late completion is fenced: 409, and the run does not move.
    expect_error(complete(gateway, first, {"stale": True}), 409, "conflict")
    assert statuses(gateway, run["id"]) == ("running", {"a": "running", "b": "pending"})
    assert claim(db) == []
    expect(complete(gateway, second, {"fresh": True}), 200)
    claim_keys(db, ["b"])
    assert steps_of(get_run(gateway, run["id"]))["a"]["output"] == {"fresh": True}


def test_retry_reruns_a_failed_run_from_its_failed_steps(gateway, db):
    run = start(gateway, [step("a"), step("b", ["a"]), step("c", ["b"])])
    expect(complete(gateway, claim_keys(db, ["a"])["a"], {"a": 1}), 200)
    b1 = claim_keys(db, ["b"])["b"]
    expect(fail(gateway, b1, "down"), 200)
    assert get_run(gateway, run["id"])["status"] == "failed"
    control(gateway, run["id"], "resume", 409)
    retried = control(gateway, run["id"], "retry")
    assert retried["status"] == "running" and retried["error"] is None
    got = steps_of(retried)
    assert (got["a"]["status"], got["b"]["status"], got["c"]["status"]) == ("completed", "running", "pending")
    b2 = claim_keys(db, ["b"], "only the failed step runs again")["b"]
    assert b2["id"] != b1["id"]
    # The old job's late outcome is not the step's any more.
    expect(complete(gateway, b2, {"b": 2}), 200)
    expect(complete(gateway, claim_keys(db, ["c"])["c"], {"c": 3}), 200)
    done = get_run(gateway, run["id"])
    assert done["status"] == "completed" and done["output"] == {"a": {"a": 1}, "b": {"b": 2}, "c": {"c": 3}}
    err = expect_error(gateway.post(f"/api/workflows/runs/{run['id']}/retry"), 409, "conflict", "status")
    assert "completed" in err["message"]


def test_a_step_that_outlives_its_timeout_is_failed_by_the_sweeper_and_fails_the_run(gateway, db):
    run = start(gateway, [step("slow", timeoutSeconds=1), step("after", ["slow"])])
    claim_keys(db, ["slow"])  # and never report: the lease (timeoutSeconds) runs out
    deadline = time.monotonic() + 20
    while get_run(gateway, run["id"])["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    done = get_run(gateway, run["id"])
    assert done["status"] == "failed", done
    assert "step slow failed: lease expired" in done["error"]
    assert {k: s["status"] for k, s in steps_of(done).items()} == {"slow": "failed", "after": "cancelled"}


def test_concurrent_outcomes_of_two_runs_neither_deadlock_nor_start_a_fan_in_twice(gateway, db):
    n = 24
    steps = [step(f"p{i}") for i in range(n)] + [step("join", [f"p{i}" for i in range(n)])]
    runs = [start(gateway, steps)["id"] for _ in range(2)]
    jobs = claim(db, n=100)
    assert len(jobs) == 2 * n
    mine = [sorted((j for j in jobs if j["payload"]["workflowRunId"] == rid), key=lambda j: j["id"])
            for rid in runs]
    # Each request reports one job of each run, in alternating orders, so that concurrent
    # statements reach the two runs in opposite orders.
    batches = [[mine[0][i], mine[1][i]] if i % 2 else [mine[1][i], mine[0][i]] for i in range(n)]

    def report(batch):
        body = {"jobs": [{"id": j["id"], "attempt": j["attempt"], "result": {"i": j["id"]}} for j in batch]}
        r = requests.post(gateway.url + "/api/jobs/complete", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {gateway.key}"}, proxies={"http": None})
        return r.status_code, r.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(report, batches))
    for code, body in answers:
        assert code == 200 and all(x.get("status") == "completed" for x in body["results"]), body
    joins = claim(db)
    assert sorted(j["payload"]["workflowRunId"] for j in joins) == sorted(runs)
    assert all(j["payload"]["stepKey"] == "join" for j in joins)
    for j in joins:
        expect(complete(gateway, j, {}), 200)
    for rid in runs:
        done = get_run(gateway, rid)
        assert done["status"] == "completed" and len(done["output"]) == n + 1
        assert db.scalar("SELECT count(*) FROM job_queue WHERE workflow_run_id = %s", (rid,)) == n + 1


# --- pause, resume, cancel ----------------------------------------------------------------


def test_pause_holds_new_steps_and_resume_starts_them(gateway, db):
    run = start(gateway, [step("a"), step("b", ["a"])])
    a = claim_keys(db, ["a"])["a"]
    assert control(gateway, run["id"], "pause")["status"] == "paused"
    control(gateway, run["id"], "pause", 409)
    expect(complete(gateway, a, {"x": 1}), 200)  # a running step finishes
    assert statuses(gateway, run["id"]) == ("paused", {"a": "completed", "b": "pending"})
    assert claim(db) == [], "no step starts while the run is paused"
    assert control(gateway, run["id"], "resume")["status"] == "running"
    control(gateway, run["id"], "resume", 409)
    expect(complete(gateway, claim_keys(db, ["b"])["b"], {}), 200)
    assert get_run(gateway, run["id"])["status"] == "completed"


def test_cancel_stops_a_run_its_queued_jobs_and_its_pending_steps(gateway, db):
    run = start(gateway, [step("a"), step("b"), step("c", ["a", "b"])])
    a = claim(db, n=1)[0]
    other = "b" if a["payload"]["stepKey"] == "a" else "a"
    done = control(gateway, run["id"], "cancel")
    assert done["status"] == "cancelled" and done["finishedAt"]
    got = {k: s["status"] for k, s in steps_of(done).items()}
    assert got == {a["payload"]["stepKey"]: "running", other: "cancelled", "c": "cancelled"}
    jobs = {r["step_key"]: r for r in db.query(
        "SELECT step_key, status, cancel_requested FROM job_queue WHERE workflow_run_id = %s", (run["id"],))}
    assert jobs[other]["status"] == "cancelled"
    assert jobs[a["payload"]["stepKey"]]["cancel_requested"] is True
    assert [e["data"] for e in db.query("SELECT * FROM events WHERE type = 'workflow.cancelled'")] == [
        {"runId": run["id"]}]
    # The running step may still report; nothing starts.
    expect(complete(gateway, a, {}), 200)
    assert get_run(gateway, run["id"])["status"] == "cancelled"
    assert claim(db) == []
    control(gateway, run["id"], "cancel", 409)
    control(gateway, run["id"], "pause", 409)


def test_control_of_a_missing_run_is_404(gateway):
    for action in ("cancel", "pause", "resume", "retry"):
        expect_error(gateway.post(f"/api/workflows/runs/999999/{action}"), 404, "not_found")
    expect_error(gateway.get("/api/workflows/runs/999999"), 404, "not_found")
    expect_error(gateway.get("/api/workflows/runs/abc"), 400, "invalid_field", "id")


# --- idempotency, templates, lists ---------------------------------------------------------


def test_an_idempotency_key_starts_one_run(gateway, db):
    first = start(gateway, [step("a")], idempotencyKey="order-17", conversationId="conv-1")
    again = start(gateway, [step("a"), step("b")], status=200, idempotencyKey="order-17")
    assert again["id"] == first["id"] and len(again["steps"]) == 1
    assert first["idempotencyKey"] == "order-17" and first["conversationId"] == "conv-1"
    assert db.count("workflow_runs") == 1 and db.count("job_queue") == 1


def test_templates_are_versioned_and_a_run_keeps_the_version_it_started_with(gateway, db):
    v1 = {"steps": [step("a")]}
    v2 = {"steps": [step("a"), step("b", ["a"])]}
    t = expect(gateway.post("/api/workflows/templates",
                            json={"name": "pipe", "definition": v1, "description": "first"}), 201)
    assert (t["name"], t["version"], t["description"]) == ("pipe", 1, "first")
    expect_error(gateway.post("/api/workflows/templates", json={"name": "pipe", "definition": v1}),
                 409, "conflict", "name")
    run1 = start(gateway, template="pipe", input={"k": 1})
    assert (run1["template"], run1["templateVersion"]) == ("pipe", 1)
    t2 = expect(gateway.put("/api/workflows/templates/pipe", json={"definition": v2}), 200)
    assert t2["version"] == 2
    assert expect(gateway.get("/api/workflows/templates/pipe"), 200)["version"] == 2
    assert expect(gateway.get("/api/workflows/templates/pipe?version=1"), 200)["definition"] == v1
    run2 = start(gateway, template="pipe")
    assert run2["templateVersion"] == 2 and len(run2["steps"]) == 2
    pinned = start(gateway, template="pipe", version=1)
    keyed = start(gateway, template="pipe", idempotencyKey="k1")
    assert pinned["templateVersion"] == 1 and len(pinned["steps"]) == 1
    # run1 keeps its definition: completing its only step completes it.
    for j in claim(db):
        if j["payload"]["workflowRunId"] == run1["id"]:
            expect(complete(gateway, j, {}), 200)
    assert get_run(gateway, run1["id"])["status"] == "completed"
    listed = expect(gateway.get("/api/workflows/templates"), 200)
    # Besides the stored templates a fresh install has (sql/010_workflow_templates.sql).
    stored = {"code-review", "data-pipeline", "incident-check"}
    assert [(x["name"], x["version"]) for x in listed["templates"] if x["name"] not in stored] == [("pipe", 2)]
    assert stored <= {x["name"] for x in listed["templates"]}
    assert expect(gateway.put("/api/workflows/templates/fresh", json={"definition": v1}), 201)["version"] == 1
    gone = expect(gateway.delete("/api/workflows/templates/pipe"), 200)
    assert gone == {"name": "pipe", "versionsDeleted": 2}
    expect_error(gateway.get("/api/workflows/templates/pipe"), 404, "not_found")
    expect_error(gateway.delete("/api/workflows/templates/pipe"), 404, "not_found")
    expect_error(gateway.post("/api/workflows/runs", json={"template": "pipe"}), 404, "not_found", "template")
    # A repeat of a keyed start still answers its run.
    again = expect(gateway.post("/api/workflows/runs", json={"template": "pipe", "idempotencyKey": "k1"}), 200)
    assert again["id"] == keyed["id"]
    assert get_run(gateway, run2["id"])["definition"] == v2


def test_runs_are_listed_newest_first_with_filters_and_a_cursor(gateway, db):
    expect(gateway.post("/api/workflows/templates", json={"name": "t1", "definition": {"steps": [step("a")]}}), 201)
    ids = [start(gateway, template="t1")["id"] for _ in range(3)]
    other = start(gateway, [step("x", when={"field": "input.no", "operator": "exists"})])
    assert other["status"] == "completed"
    page = expect(gateway.get("/api/workflows/runs?limit=2"), 200)
    assert [r["id"] for r in page["runs"]] == [other["id"], ids[2]]
    assert "steps" not in page["runs"][0]
    rest = expect(gateway.get(f"/api/workflows/runs?limit=2&cursor={page['nextCursor']}"), 200)
    assert [r["id"] for r in rest["runs"]] == [ids[1], ids[0]] and rest["nextCursor"] is None
    by_t = expect(gateway.get("/api/workflows/runs?template=t1&status=running"), 200)
    assert [r["id"] for r in by_t["runs"]] == ids[::-1]
    done = expect(gateway.get("/api/workflows/runs?status=completed"), 200)
    assert [r["id"] for r in done["runs"]] == [other["id"]]
    expect_error(gateway.get("/api/workflows/runs?status=bogus"), 400, "invalid_field", "status")


# --- refusals -----------------------------------------------------------------------------

S = {"agent": AGENT, "task": "t"}
INVALID = [
    ("not an object", "steps", "definition"),
    ("no steps", {}, "definition.steps"),
    ("too many steps", {"steps": [{"key": f"s{i}", **S} for i in range(501)]}, "definition.steps"),
    ("duplicate keys", {"steps": [{"key": "a", **S}, {"key": "a", **S}]}, "definition.steps[1].key"),
    ("unknown field", {"steps": [{"key": "a", "retry": 2, **S}]}, "definition.steps[0].retry"),
    ("unknown kind", {"steps": [{"key": "a", "kind": "lambda", **S}]}, "definition.steps[0].kind"),
    ("agent fields on a sleep", {"steps": [{"key": "a", "kind": "sleep", "seconds": 1, **S}]},
     "definition.steps[0].agent"),
    ("unknown dependency", {"steps": [{"key": "a", "dependsOn": ["zz"], **S}]}, "definition.steps[0].dependsOn"),
    ("cycle", {"steps": [{"key": "a", "dependsOn": ["b"], **S}, {"key": "b", "dependsOn": ["a"], **S}]},
     "definition.steps[0].dependsOn"),
    ("reference to a non-ancestor", {"steps": [{"key": "a", **S},
                                               {"key": "b", "input": {"v": {"$ref": "steps.a.output"}}, **S}]},
     "definition.steps[1].input"),
    ("reference to an unknown step", {"steps": [{"key": "a", "input": {"$ref": "steps.q.output"}, **S}]},
     "definition.steps[0].input"),
    ("reference too deep", {"steps": [{"key": "a", "input": {"$ref": "input." + ".".join("x" * 16)}, **S}]},
     "definition.steps[0].input"),
    ("bad operator", {"steps": [{"key": "a", "when": {"field": "input.x", "operator": "like", "value": 1}, **S}]},
     "definition.steps[0].when.operator"),
    ("when on a non-ancestor", {"steps": [{"key": "a", **S}, {"key": "b", "when": {
        "field": "steps.a.output.x", "operator": "exists"}, **S}]}, "definition.steps[1].when.field"),
    ("negative retries", {"steps": [{"key": "a", "retries": -1, **S}]}, "definition.steps[0].retries"),
]


@pytest.mark.parametrize("name,definition,field", INVALID, ids=[c[0] for c in INVALID])
def test_an_invalid_definition_is_refused_naming_the_step_and_field_and_stores_nothing(gateway, db, name,
                                                                                      definition, field):
    before = db.counts()
    err = expect_error(gateway.post("/api/workflows/runs", json={"definition": definition}), 400,
                       "invalid_field", field)
    assert err["message"].startswith(field)
    if "steps[" in field and name != "duplicate keys":
        assert "(step '" in err["message"], err
    expect_error(gateway.post("/api/workflows/templates", json={"name": "bad", "definition": definition}),
                 400, "invalid_field", field)
    expect(gateway.put("/api/workflows/templates/bad", json={"definition": definition}), 400)
    assert db.counts() == before


def test_a_run_request_needs_a_template_or_a_definition(gateway, db):
    before = db.counts()
    for body, field in [({}, "template"), ({"template": "t", "definition": {"steps": []}}, "template"),
                        ({"definition": {"steps": [step("a")]}, "version": 1}, "version"),
                        ({"template": "t", "input": [1]}, "input"),
                        ({"template": "a b"}, "template")]:
        expect_error(gateway.post("/api/workflows/runs", json=body), 400, "invalid_field", field)
    assert db.counts() == before


# --- on real workers ----------------------------------------------------------------------


def test_independent_steps_run_at_the_same_time_on_real_workers(stack):
    stack.start_pool("monitoring=2")
    gw = stack.gateway()
    ping = {"agent": "monitoring", "task": "ping"}
    run = start(gw, [
        {"key": "first", **ping, "input": {"sleepMs": 20}},
        {"key": "left", **ping, "dependsOn": ["first"], "input": {"sleepMs": 1500}},
        {"key": "right", **ping, "dependsOn": ["first"], "input": {"sleepMs": 1500}},
        {"key": "join", **ping, "dependsOn": ["left", "right"],
         "input": {"sleepMs": {"$ref": "steps.first.output.sleptMs"}}},
    ])
    done = wait_finished(stack, gw, run["id"])
    assert done["status"] == "completed", done
    s = {k: (parse_ts(v["startedAt"]), parse_ts(v["finishedAt"])) for k, v in steps_of(done).items()}
    assert s["first"][1] <= min(s["left"][0], s["right"][0])
    # The two branches overlapped: each started before the other finished.
    assert s["left"][0] < s["right"][1] and s["right"][0] < s["left"][1], s
    assert s["join"][0] >= max(s["left"][1], s["right"][1])
    assert steps_of(done)["join"]["input"] == {"sleepMs": 20}
    assert done["output"]["join"]["sleptMs"] == 20
    assert all(v["attempts"] == 1 for v in done["steps"])


def test_a_data_pipeline_runs_on_real_agents_with_a_condition_on_a_steps_output(stack):
    stack.start_pool("data_processor=1")
    gw = stack.gateway()
    records = [{"region": "eu", "amount": 10}, {"region": "us", "amount": 40},
               {"region": "eu", "amount": 20}, {"region": "eu", "amount": -5}]
    dp = {"agent": "data_processor"}
    valid = {"field": "steps.validate.output.valid", "operator": "eq"}
    run = start(gw, [
        {"key": "validate", **dp, "task": "validate_data",
         "input": {"records": {"$ref": "input.records"},
                   "schema": {"type": "object", "required": ["region", "amount"],
                              "properties": {"amount": {"type": "number"}}}}},
        {"key": "clean", **dp, "task": "transform_data", "dependsOn": ["validate"],
         "when": {**valid, "value": True},
         "input": {"records": {"$ref": "input.records"},
                   "steps": [{"op": "filter", "field": "amount", "operator": "gt", "value": 0}]}},
        {"key": "totals", **dp, "task": "process_data", "dependsOn": ["clean"],
         "input": {"records": {"$ref": "steps.clean.output.records"}, "fields": ["amount"],
                   "groupBy": "region"}},
        {"key": "complain", **dp, "task": "ping", "dependsOn": ["validate"], "when": {**valid, "value": False}},
    ], input={"records": records})
    done = wait_finished(stack, gw, run["id"])
    assert done["status"] == "completed", done
    got = steps_of(done)
    assert {k: s["status"] for k, s in got.items()} == {
        "validate": "completed", "clean": "completed", "totals": "completed", "complain": "skipped"}
    assert got["validate"]["output"]["valid"] is True
    assert got["clean"]["output"]["count"] == 3
    assert got["totals"]["input"]["records"] == got["clean"]["output"]["records"]
    assert got["totals"]["output"]["fields"]["amount"]["sum"] == 70
    assert sorted(done["output"]) == ["clean", "totals", "validate"]


def test_a_worker_killed_mid_step_leaves_no_run_stuck_and_no_step_done_twice(stack):
    stack.start_pool("monitoring=2", env={"FLOWSTATE_SHUTDOWN_TIMEOUT": 3})
    gw = stack.gateway()
    ping = {"agent": "monitoring", "task": "ping"}
    # A long lease: only the pool's release of the dead worker's jobs brings the step back soon.
    run = start(gw, [{"key": "long", **ping, "input": {"sleepMs": 20000}, "retries": 1, "timeoutSeconds": 120},
                     {"key": "after", **ping, "dependsOn": ["long"], "input": {"sleepMs": 10}}])
    job_id = steps_of(run)["long"]["jobId"]
    row = stack.wait_job(job_id, lambda r: r["status"] == "running", 30, "the long step running")
    # The next attempt is quick (the running copy keeps its payload).
    stack.db.execute("UPDATE job_queue SET payload = payload || '{\"sleepMs\": 100}' WHERE id = %s", (job_id,))
    os.kill(worker_pid(row["locked_by"]), signal.SIGKILL)
    done = wait_finished(stack, gw, run["id"])
    assert done["status"] == "completed", done
    long = steps_of(done)["long"]
    assert long["attempts"] == 2 and long["output"]["worker"] != row["locked_by"]
    jobs = stack.db.query("SELECT step_key, status, attempts FROM job_queue WHERE workflow_run_id = %s"
                          " ORDER BY id", (run["id"],))
    assert [(j["step_key"], j["status"]) for j in jobs] == [("long", "completed"), ("after", "completed")]
