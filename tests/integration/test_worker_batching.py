"""How workers batch their work, and that batching never costs correctness: prefetched
claims (--prefetch) run and hand back like any other, workers with no flags leave long jobs
to idle workers, outcomes wait for each other only
while jobs still run (--report-delay-ms), a worker whose executors are all busy sleeps
instead of spinning, and the transition functions find their rows by primary key however large
the queue grows (their plans once read the whole table, or every running job, on every
claim and report)."""

import json
import signal
import time

from stack import EXIT_FATAL, SLOW, worker_pid


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (usually 1/100 s)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


# --- prefetch ----------------------------------------------------------------------------


def test_prefetch_claims_beyond_the_executors_and_runs_everything(stack):
    ids = stack.insert_jobs(12, payload={"taskType": "ping", "sleepMs": 400})
    w = stack.start_worker(env={"FLOWSTATE_CONCURRENCY": 1, "FLOWSTATE_PREFETCH": 5})

    def held():
        rows = stack.db.query("SELECT locked_by FROM job_queue WHERE status = 'running'")
        return len(rows) == 6 and all(worker_pid(r["locked_by"]) == w.pid for r in rows), len(rows)

    # one running and five queued in the process, not more
    stack.wait_until(held, 20, "the worker holds 1 running + 5 prefetched jobs")
    time.sleep(0.3)
    assert stack.status_counts(ids).get("running") == 6, f"claimed beyond concurrency+prefetch: {stack.status_counts(ids)}"
    rows = stack.wait_status(ids, "completed", 60)
    assert all(r["attempts"] == 1 for r in rows.values()), f"attempts {[r['attempts'] for r in rows.values()]}"


def test_prefetched_jobs_are_handed_back_at_shutdown(stack):
    ids = stack.insert_jobs(8, payload={"taskType": "ping", "sleepMs": 1500})
    w = stack.start_worker(env={"FLOWSTATE_CONCURRENCY": 1, "FLOWSTATE_PREFETCH": 4,
                                "FLOWSTATE_SHUTDOWN_TIMEOUT": 20})
    stack.wait_until(lambda: (stack.status_counts(ids).get("running") == 5, stack.status_counts(ids)), 20,
                     "1 running + 4 prefetched")
    w.signal(signal.SIGTERM)
    assert w.wait_exit(30) == 0, w.log_tail()
    rows = stack.jobs(ids)
    done = [r for r in rows.values() if r["status"] == "completed"]
    back = [r for r in rows.values() if r["status"] == "pending" and r["attempts"] == 1]
    assert len(done) == 1, f"the running job should finish during the drain: {[(r['id'], r['status']) for r in rows.values()]}"
    assert len(back) == 4, f"the 4 prefetched jobs should go back unspent: {[(r['id'], r['status'], r['attempts']) for r in rows.values()]}"
    for r in back:
        assert r["max_attempts"] == 4 and r["locked_by"] is None, f"hand-back of job {r['id']}: {r}"
        assert [e["type"] for e in stack.events(r["id"])] == ["job.handed_back"], stack.events(r["id"])


def test_workers_with_no_flags_share_a_burst_of_long_jobs(stack):
    # A pool with no flags sizes its prefetch itself. The first worker warms up on a backlog of
    # short jobs (its prefetch grows); then a second starts, and a burst of half-second jobs,
    # more than both run at once, arrives: the first must not keep a queue of them while the
    # second has idle executors. Each runs 16 at once, so a fair share is about 32 of 64;
    # either worker claiming all of its executors' worth once already gets 16.
    a = stack.start_worker()
    warm = stack.insert_jobs(3000)
    stack.wait_status(warm, "completed", 60 * SLOW, "the warm-up pings")
    b = stack.start_worker()
    ids = stack.insert_jobs(64, payload={"taskType": "ping", "sleepMs": 500})
    rows = stack.wait_status(ids, "completed", 60 * SLOW)
    by = {a.pid: 0, b.pid: 0}
    for r in rows.values():
        by[worker_pid(r["result"]["worker"])] += 1
    assert by[a.pid] >= 16 and by[b.pid] >= 16, f"jobs run by the first and second worker: {by}"


def test_prefetch_setting_is_validated(stack):
    for env, args, word in [({}, ("--prefetch", "-1"), "prefetch"), ({}, ("--prefetch", "many"), "prefetch"),
                            ({"FLOWSTATE_REPORT_DELAY_MS": "1001"}, (), "REPORT_DELAY_MS")]:
        code, out = stack.run_worker_briefly(env=env, args=args)
        assert code == EXIT_FATAL and word in out, f"{env} {args}: exit {code}, log:\n{out}"


# --- report batching ---------------------------------------------------------------------


def test_outcomes_wait_for_running_jobs_only_up_to_the_delay(stack):
    # A quick job finishing while a slow one runs waits for it (delay 1 s > 0.8 s) and both
    # are reported together; with the delay at 0 the quick one is reported at once.
    stack.start_worker(env={"FLOWSTATE_CONCURRENCY": 2, "FLOWSTATE_REPORT_DELAY_MS": 1000})
    slow = stack.ping(sleep_ms=800)
    quick = stack.ping(sleep_ms=0)
    rows = stack.wait_status([slow, quick], "completed", 30)
    gap = (rows[slow]["processed_at"] - rows[quick]["processed_at"]).total_seconds()
    waited = (rows[quick]["processed_at"] - rows[quick]["started_at"]).total_seconds()
    assert abs(gap) < 0.3 and waited > 0.4, (
        f"the quick job should be reported with the slow one: quick waited {waited:.3f} s, gap {gap:.3f} s")


def test_outcomes_are_sent_at_once_without_a_delay(stack):
    stack.start_worker(env={"FLOWSTATE_CONCURRENCY": 2, "FLOWSTATE_REPORT_DELAY_MS": 0})
    slow = stack.ping(sleep_ms=1500)
    quick = stack.ping(sleep_ms=0)
    rows = stack.wait_status([slow, quick], "completed", 30)
    gap = (rows[slow]["processed_at"] - rows[quick]["processed_at"]).total_seconds()
    assert gap > 0.7, f"the quick job waited for the slow one although the delay is 0 (gap {gap:.3f} s)"


# --- idle while busy -----------------------------------------------------------------------


def test_worker_sleeps_while_every_executor_is_busy(stack):
    # All executors busy for longer than the poll interval: the main thread must wait for
    # room, not spin (it once did: the poll came due with no room, and poll() got timeout 0).
    w = stack.start_worker(env={"FLOWSTATE_CONCURRENCY": 1, "FLOWSTATE_POLL_INTERVAL_MS": 50})
    job = stack.ping(sleep_ms=3000)
    stack.wait_job(job, lambda r: r["status"] == "running", 10, "the long job started")
    before = cpu_ticks(w.pid)
    time.sleep(2.0)
    used = cpu_ticks(w.pid) - before
    # a spinning loop burns ~200 ticks in 2 s; an idle worker a handful (polls, renewals)
    assert used < 40 * SLOW, f"the worker used {used} CPU ticks in 2 s while its only executor was busy"
    stack.wait_status([job], "completed", 30)


# --- plans ---------------------------------------------------------------------------------


def scans(db):
    """(sequential scans of job_queue, scans of its lease index), flushed and fresh."""
    db.one("SELECT pg_stat_force_next_flush()")
    db.one("SELECT pg_stat_clear_snapshot()")
    return (db.one("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'job_queue'")["seq_scan"],
            db.one("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'job_queue_lease_idx'")["idx_scan"])


def test_transition_functions_never_scan_the_whole_queue(stack):
    db = stack.db
    db.execute("INSERT INTO job_queue (target_agent, payload) SELECT 'code_analyzer', '{\"taskType\":\"ping\"}'"
               " FROM generate_series(1, 20000)")
    db.execute("ANALYZE job_queue")  # statistics say: nothing runs
    before = scans(db)
    claimed = db.query("SELECT * FROM fs_jobs_claim('code_analyzer', 60, 'test:1', 30)")
    assert len(claimed) == 60, f"claimed {len(claimed)}"
    ids = [r["id"] for r in claimed]
    # ten applied reports, one fenced (attempt 7) and one for no job; with_job (single
    # reports): the applied jobs come back too, with their JSON
    out = db.query("SELECT * FROM fs_jobs_complete(%s::bigint[], %s::int[], %s::jsonb, true)",
                   (ids[:10] + [ids[20], 10 ** 12], [1] * 10 + [7, 1],
                    json.dumps([{"n": i} for i in ids[:10]] + [{}, {}])))
    got = {r["id"]: (r["i"], r["outcome"]) for r in out}
    assert got == {**{i: (k, "ok") for k, i in enumerate(ids[:10])}, ids[20]: (10, "conflict"),
                   10 ** 12: (11, "not_found")}, got
    # without with_job (worker batches): rows only for what was not applied
    out = db.query("SELECT * FROM fs_jobs_complete(%s::bigint[], %s::int[], %s::jsonb, false)",
                   (ids[10:20] + [ids[0]], [1] * 11, json.dumps([{"n": i} for i in ids[10:20]] + [None])))
    assert [(r["i"], r["outcome"], r["status"]) for r in out] == [(10, "conflict", "completed")], out
    out = db.query("SELECT * FROM fs_jobs_fail(%s::bigint[], %s::int[], %s::jsonb, %s::jsonb, %s::bool[],"
                   " false, 100, 1000)", (ids[20:30], [1] * 10, json.dumps([None] * 10), json.dumps(["boom"] * 10),
                                          [True] * 10))
    assert {r["outcome"] for r in out} == {"ok"} and {r["status"] for r in out} == {"pending"}, out
    out = db.query("SELECT * FROM fs_jobs_fail(%s::bigint[], %s::int[], %s::jsonb, %s::jsonb, %s::bool[],"
                   " false, 100, 1000)", (ids[30:40], [1] * 10, json.dumps([None] * 10), json.dumps(["x"] * 10),
                                          [False] * 10))
    assert {r["outcome"] for r in out} == {"ok"} and {r["status"] for r in out} == {"failed"}, out
    out = db.query("SELECT * FROM fs_jobs_renew(%s::bigint[], %s::int[], 'test:1', 30)",
                   (ids[40:50] + [ids[0]], [1] * 11))
    states = {r["id"]: r["state"] for r in out}
    assert states == {**{i: "ok" for i in ids[40:50]}, ids[0]: "lost"}, states
    n = db.one("SELECT fs_jobs_hand_back(%s::bigint[], %s::int[], 'test:1', 'bye') AS n",
               (ids[50:60], [1] * 10))["n"]
    assert n == 10, f"handed back {n}"
    seq, lease = scans(db)
    assert seq == before[0], "a transition function read job_queue with a sequential scan"
    # the lease index is for the sweeper; reading it here means scanning every running job
    assert lease == before[1], "a transition function scanned all running jobs through the lease index"
