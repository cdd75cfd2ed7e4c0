"""Run retention (sql/010_workflow_templates.sql: fs_wf_prune, run by the sweeper with the
jobs' FLOWSTATE_RETENTION) and a run's shared memory going with it: a finished run past the
retention is deleted with its steps and its run-scoped shared memory; unfinished and recent
runs, other runs' memory and conversation memory stay. Deleting a run any other way takes
its memory too (the trigger)."""

import time

from fsutil import expect

SKIPPED = {"steps": [{"key": "only", "agent": "data_processor", "task": "ping",
                      "when": {"field": "input.go", "operator": "eq", "value": True}}]}
WAITING = {"steps": [{"key": "only", "agent": "nobody", "task": "ping"}]}


def start(gw, definition):
    return expect(gw.post("/api/workflows/runs", json={"definition": definition}), 201)


def put_memory(gw, scope, scope_id, key="k"):
    r = gw.put(f"/api/memory/shared/{scope}/{scope_id}/{key}", json={"value": {"of": scope_id}})
    assert r.status_code == 201, r.text


def memory(db):
    return sorted((r["scope"], r["scope_id"]) for r in db.query("SELECT scope, scope_id FROM shared_memory"))


def test_the_sweeper_prunes_old_finished_runs_with_their_shared_memory(gateway_factory, db):
    # No sweeps yet: the runs are made and aged first.
    gw = gateway_factory(env={"FLOWSTATE_SWEEP_INTERVAL_MS": "0"})
    old = start(gw, SKIPPED)        # completes at once (its only step is skipped)
    recent = start(gw, SKIPPED)
    live = start(gw, WAITING)       # running: its job waits for an agent that never comes
    assert old["status"] == "completed" and live["status"] == "running"
    for run in (old, recent, live):
        put_memory(gw, "run", run["id"])
    put_memory(gw, "conversation", "chat-1")
    db.execute("UPDATE workflow_runs SET finished_at = now() - interval '2 days',"
               " created_at = now() - interval '2 days' WHERE id = %s", (old["id"],))
    db.execute("UPDATE workflow_runs SET created_at = now() - interval '2 days' WHERE id = %s", (live["id"],))
    gw.stop()
    gw2 = gateway_factory(env={"FLOWSTATE_SWEEP_INTERVAL_MS": "100", "FLOWSTATE_RETENTION": "86400"})
    deadline = time.monotonic() + 30
    while "runs_pruned=1" not in gw2.log_tail(200) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "runs_pruned=1" in gw2.log_tail(200), gw2.log_tail()
    assert db.scalar("SELECT count(*) FROM workflow_runs WHERE id = %s", (old["id"],)) == 0
    assert db.scalar("SELECT count(*) FROM workflow_steps WHERE run_id = %s", (old["id"],)) == 0
    assert gw2.get(f"/api/workflows/runs/{old['id']}").status_code == 404
    assert memory(db) == sorted([("conversation", "chat-1"), ("run", str(recent["id"])), ("run", str(live["id"]))])
    assert db.scalar("SELECT count(*) FROM workflow_runs") == 2


def test_deleting_a_run_deletes_its_shared_memory_in_the_same_statement(gateway, db):
    a, b = start(gateway, SKIPPED), start(gateway, SKIPPED)
    for run in (a, b):
        put_memory(gateway, "run", run["id"], "x")
        put_memory(gateway, "run", run["id"], "y")
    put_memory(gateway, "conversation", str(a["id"]))  # same id, other scope: kept
    db.execute("DELETE FROM workflow_runs WHERE id = %s", (a["id"],))
    assert memory(db) == sorted([("conversation", str(a["id"])), ("run", str(b["id"])), ("run", str(b["id"]))])


def test_pruning_is_off_without_a_retention(db):
    assert db.scalar("SELECT fs_wf_prune(0, true, 100)") == 0
    assert db.scalar("SELECT fs_wf_prune(60, false, 100)") == 0
