"""Workflow runs survive crashes (docs/workflows.md#atomic-and-fenced): kill -9 of a worker
mid-step (its step job comes back when the lease expires and runs again), kill -9 of the
gateway mid-run (a new gateway on the same database carries every run to the end), and 1,000
concurrent runs of a 5-step template. Each checks, in the database, that every run completed
and every step completed exactly once: one job per step, completed, and the step's row
completed with that job."""

import os
import signal
import threading

from fsutil import expect
from stack import worker_pid

PING = {"agent": "monitoring", "task": "ping"}


def start(gw, body):
    return expect(gw.post("/api/workflows/runs", json=body), 201)


def wait_all_finished(stack, ids, timeout):
    def check():
        rows = stack.db.query("SELECT status, count(*) AS n FROM workflow_runs WHERE id = ANY(%s) GROUP BY status",
                              (list(ids),))
        counts = {r["status"]: r["n"] for r in rows}
        return sum(n for s, n in counts.items() if s not in ("running", "pending")) == len(ids), counts

    return stack.wait_until(check, timeout, f"{len(ids)} workflow runs finished", interval=0.2)


def assert_each_step_completed_once(stack, ids, steps_per_run):
    """Every run completed; each of its steps completed with exactly one job, itself completed."""
    ids = list(ids)
    runs = stack.db.query("SELECT status, count(*) AS n FROM workflow_runs WHERE id = ANY(%s) GROUP BY status", (ids,))
    assert {r["status"]: r["n"] for r in runs} == {"completed": len(ids)}, runs
    bad_steps = stack.db.query(
        "SELECT s.run_id, s.key, s.status, s.job_id, j.status AS job_status FROM workflow_steps s"
        " LEFT JOIN job_queue j ON j.id = s.job_id"
        " WHERE s.run_id = ANY(%s) AND (s.status <> 'completed' OR j.status IS DISTINCT FROM 'completed')", (ids,))
    assert bad_steps == [], bad_steps[:10]
    assert stack.db.scalar("SELECT count(*) FROM workflow_steps WHERE run_id = ANY(%s)", (ids,)) == \
        len(ids) * steps_per_run
    # One job per step, ever: no step was started twice.
    jobs = stack.db.query("SELECT workflow_run_id, step_key, count(*) AS n, bool_and(status = 'completed') AS ok"
                          " FROM job_queue WHERE workflow_run_id = ANY(%s) GROUP BY 1, 2", (ids,))
    assert len(jobs) == len(ids) * steps_per_run, len(jobs)
    assert all(j["n"] == 1 and j["ok"] for j in jobs), [j for j in jobs if j["n"] != 1 or not j["ok"]][:10]


def test_a_worker_killed_mid_step_is_recovered_by_lease_expiry(stack):
    """Two standalone workers (no pool to release a dead one's jobs): the step's job comes back
    only when its lease (timeoutSeconds 4) expires and the sweeper requeues it; the other
    worker runs it. Left alone, the first attempt would have finished in 3 s."""
    workers = [stack.start_worker("monitoring", env={"FLOWSTATE_CONCURRENCY": 1}) for _ in range(2)]
    gw = stack.gateway()
    run = start(gw, {"definition": {"steps": [
        {"key": "before", **PING, "input": {"sleepMs": 10}},
        {"key": "long", **PING, "dependsOn": ["before"], "input": {"sleepMs": 3000}, "retries": 1,
         "timeoutSeconds": 4},
        {"key": "after", **PING, "dependsOn": ["long"], "input": {"sleepMs": 10}}]}})
    job = stack.wait_until(
        lambda: (lambda rows: (bool(rows) and rows[0]["status"] == "running", rows[0] if rows else None))(
            stack.db.query("SELECT * FROM job_queue WHERE workflow_run_id = %s AND step_key = 'long'", (run["id"],))),
        30, "the long step running")
    # The next attempt is quick (the running copy keeps its payload).
    stack.db.execute("UPDATE job_queue SET payload = jsonb_set(payload, '{data,sleepMs}', '100') WHERE id = %s",
                     (job["id"],))
    [victim] = [w for w in workers if w.pid == worker_pid(job["locked_by"])]
    victim.kill9()
    wait_all_finished(stack, [run["id"]], 60)
    assert_each_step_completed_once(stack, [run["id"]], 3)
    long = stack.job(job["id"])
    assert long["attempts"] == 2 and long["locked_by"] is None, long
    assert long["result"]["worker"] != job["locked_by"], long["result"]
    # Back to pending once, by the sweeper's release of the expired lease (no pool watched
    # the dead worker).
    assert len(stack.events(job_id=job["id"], type="job.retry")) == 1


def test_a_gateway_killed_mid_run_leaves_every_run_to_finish_on_a_new_gateway(stack):
    stack.start_pool("monitoring=2")
    gw = stack.gateway()
    chain = {"steps": [
        {"key": "a", **PING, "input": {"sleepMs": 100}},
        {"key": "b", **PING, "dependsOn": ["a"], "input": {"sleepMs": 100}},
        {"key": "c", **PING, "dependsOn": ["a"], "input": {"sleepMs": 100}},
        {"key": "d", **PING, "dependsOn": ["b", "c"], "input": {"sleepMs": 100}}]}
    ids = [start(gw, {"definition": chain, "idempotencyKey": f"crash-{i}"})["id"] for i in range(30)]
    # Kill it while runs are in every state: some steps done, some running, some pending.
    stack.wait_until(lambda: (lambda n: (n >= 10, n))(stack.db.scalar(
        "SELECT count(*) FROM workflow_steps WHERE run_id = ANY(%s) AND status = 'completed'", (ids,))),
        30, "some steps completed")
    gw.expected_exit = None
    os.kill(gw.proc.pid, signal.SIGKILL)
    gw.proc.wait(timeout=10)
    unfinished = stack.db.scalar("SELECT count(*) FROM workflow_runs WHERE id = ANY(%s) AND status = 'running'",
                                 (ids,))
    assert unfinished > 0, "every run finished before the kill: nothing was tested"
    gw = stack.restart_gateway(gw)
    # A repeated start with the same key answers the run, not a second one.
    assert expect(gw.post("/api/workflows/runs", json={"definition": chain, "idempotencyKey": "crash-0"}),
                  200)["id"] == ids[0]
    wait_all_finished(stack, ids, 60)
    assert_each_step_completed_once(stack, ids, 4)


def test_a_thousand_concurrent_runs_of_a_five_step_template_all_complete(stack):
    stack.start_pool("monitoring=3")
    gw = stack.gateway()
    expect(gw.post("/api/workflows/templates", json={"name": "fan5", "definition": {"steps": [
        {"key": "first", **PING},
        {"key": "left", **PING, "dependsOn": ["first"]},
        {"key": "middle", **PING, "dependsOn": ["first"]},
        {"key": "right", **PING, "dependsOn": ["first"]},
        {"key": "join", **PING, "dependsOn": ["left", "middle", "right"]}]}}), 201)
    ids, errors = [], []
    lock = threading.Lock()

    def starter(k):
        try:
            mine = [start(gw, {"template": "fan5", "input": {"n": i}})["id"] for i in range(k, 1000, 4)]
            with lock:
                ids.extend(mine)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=starter, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(ids)) == 1000, (errors[:3], len(ids))
    wait_all_finished(stack, ids, 120)
    assert_each_step_completed_once(stack, ids, 5)


def test_a_coordinator_killed_while_it_waits_re_attaches_to_its_run_on_the_next_attempt(stack):
    """coordinate_workflow's run is keyed by the coordinator job: the attempt after a kill -9
    (its lease expired; another coordinator worker claims it) waits for the same run."""
    stack.start_worker("monitoring")
    coordinators = [stack.start_worker("coordinator", env={"FLOWSTATE_CONCURRENCY": 1}) for _ in range(2)]
    job_id = stack.create_job("coordinator", {"type": "ai_task", "taskType": "coordinate_workflow", "data": {
        "steps": [{"name": "slow", "taskType": "ping", "agent": "monitoring", "data": {"sleepMs": 2500}},
                  {"name": "quick", "taskType": "ping", "agent": "monitoring"}]}},
        timeoutSeconds=4, maxAttempts=2)["id"]
    run = stack.wait_until(lambda: (lambda rows: (bool(rows), rows[0] if rows else None))(
        stack.db.query("SELECT * FROM workflow_runs WHERE idempotency_key = %s", (f"coord-{job_id}",))),
        30, "the coordinator started its run")
    holder = stack.job(job_id)["locked_by"]
    [victim] = [c for c in coordinators if c.pid == worker_pid(holder)]
    victim.kill9()
    row = stack.wait_job(job_id, lambda r: r["status"] == "completed", 60, "the coordinator job's next attempt")
    res = row["result"]
    assert row["attempts"] == 2 and res["reused"] is True and res["runId"] == run["id"], row
    assert res["status"] == "completed" and [s["status"] for s in res["steps"]] == ["completed", "completed"], res
    assert stack.db.scalar("SELECT count(*) FROM workflow_runs") == 1
    assert_each_step_completed_once(stack, [run["id"]], 2)
