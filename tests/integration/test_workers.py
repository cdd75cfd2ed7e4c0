"""Agent workers end to end: real PostgreSQL, the real gateway over HTTP, real agent
processes (single executables and flowstate-pool). Jobs are claimed, run (the built-in ping),
reported through the gateway and checked in the database: results, attempts, priorities,
delays, idempotency, cancellation, retries, long-polls, graceful drains, agent status,
throughput, and refused settings."""

import datetime as dt
import re
import time


from fsutil import expect, parse_ts
from stack import AGENTS, EXIT_FATAL, SLOW, assert_completed_once, refusals, worker_pid

PONG_KEYS = {"pong", "worker", "jobId", "attempt", "sleptMs"}


# --- the basic path ------------------------------------------------------------------------


def test_ping_completed_by_code_analyzer(stack):
    w = stack.start_worker("code_analyzer")
    job_id = stack.ping()
    row = stack.wait_status([job_id], "completed", 30)[job_id]
    res = row["result"]
    assert isinstance(res, dict) and set(res) == PONG_KEYS, f"result {res!r}, expected the keys {sorted(PONG_KEYS)}"
    assert res["pong"] is True and res["jobId"] == job_id and res["attempt"] == 1, f"result {res}"
    assert res["sleptMs"] == 0, f"result {res}"
    assert worker_pid(res["worker"]) == w.pid, f"result.worker {res['worker']!r}, worker pid {w.pid}"
    assert row["target_agent"] == "code_analyzer", f"target_agent {row['target_agent']!r}"
    assert row["attempts"] == 1, f"attempts {row['attempts']}, expected 1"
    assert row["locked_by"] is None and row["locked_until"] is None, f"lock left on a completed job: {row}"
    assert row["last_error"] is None, f"last_error {row['last_error']!r}"
    assert row["started_at"] is not None and row["processed_at"] >= row["started_at"], f"times: {row}"
    # the API shows the same
    j = expect(stack.gw.get(f"/api/jobs/{job_id}"), 200)
    assert j["status"] == "completed" and j["result"] == res and j["attempts"] == 1, f"GET /api/jobs/{job_id}: {j}"


def test_each_executable_runs_its_own_agent(stack):
    workers = {a: stack.start_worker(a) for a in AGENTS}
    ids = {a: stack.ping(a) for a in AGENTS}
    rows = stack.wait_status(ids.values(), "completed", 30, "one ping per agent completed")
    for agent, job_id in ids.items():
        res = rows[job_id]["result"]
        assert res["pong"] is True and res["jobId"] == job_id, f"{agent}'s job {job_id} has result {res}"
        assert worker_pid(res["worker"]) == workers[agent].pid, (
            f"{agent}'s job was run by {res['worker']}, expected the {agent} process {workers[agent].pid}")
        assert rows[job_id]["attempts"] == 1, f"{agent}: attempts {rows[job_id]['attempts']}"


def test_unknown_task_fails_at_once(stack):
    stack.start_worker()
    unknown = stack.create_job(payload={"taskType": "no_such_task"}, maxAttempts=5)["id"]
    no_type = stack.create_job(payload={"data": 1}, maxAttempts=5)["id"]
    bad_sleep = stack.create_job(payload={"taskType": "ping", "sleepMs": 60001}, maxAttempts=5)["id"]
    rows = stack.wait_status([unknown, no_type, bad_sleep], "failed", 30, "the three bad jobs failed")
    for job_id, words in [(unknown, ("unknown task", "no_such_task")), (no_type, ("taskType",)),
                          (bad_sleep, ("sleepMs",))]:
        row = rows[job_id]
        assert row["attempts"] == 1, f"job {job_id} was tried {row['attempts']} times (not retryable: expected 1)"
        err = row["last_error"] or ""
        assert all(w in err for w in words), f"job {job_id}: last_error {err!r} should mention {words}"
        assert row["processed_at"] is not None and row["locked_by"] is None, f"job {job_id}: {row}"
        dead = stack.events(job_id, "job.dead")
        assert len(dead) == 1, f"job {job_id}: job.dead events {dead}, expected one"
        assert dead[0]["severity"] == "error" and dead[0]["data"].get("error") == err, f"event {dead[0]}"
        assert not stack.events(job_id, "job.retry"), f"job {job_id} was retried: {stack.events(job_id)}"


def test_ping_reads_sleep_ms_inside_data(stack):
    # POST /agents/:name/task and the coordinator put a task's fields in payload.data.
    stack.start_worker()
    slept = stack.create_job(payload={"taskType": "ping", "data": {"sleepMs": 300}})["id"]
    bad = stack.create_job(payload={"taskType": "ping", "data": {"sleepMs": 60001}}, maxAttempts=5)["id"]
    top_wins = stack.create_job(payload={"taskType": "ping", "sleepMs": 0, "data": {"sleepMs": 60001}})["id"]
    rows = stack.wait_status([slept, top_wins], "completed", 30, "the two good pings completed")
    assert rows[slept]["result"]["sleptMs"] >= 300, rows[slept]["result"]
    assert rows[slept]["processed_at"] - rows[slept]["started_at"] >= dt.timedelta(milliseconds=300)
    assert rows[top_wins]["result"]["sleptMs"] == 0, rows[top_wins]["result"]
    row = stack.wait_status([bad], "failed", 30, "the ping with data.sleepMs 60001 failed")[bad]
    assert row["attempts"] == 1 and "sleepMs" in (row["last_error"] or ""), row


def test_priorities_order_claims(stack):
    # Queued while no worker runs; then one worker claiming one job at a time.
    priorities = [2, 0, 4, 1, 3, 4, 0, 2, 3, 1, 2]
    ids = [stack.ping(priority=p) for p in priorities]
    expected = [i for _, i in sorted(zip(priorities, ids), key=lambda t: (-t[0], t[1]))]
    stack.start_worker(env={"FLOWSTATE_CONCURRENCY": 1, "FLOWSTATE_CLAIM_BATCH": 1})
    rows = stack.wait_status(ids, "completed", 60)
    got = [r["id"] for r in sorted(rows.values(), key=lambda r: r["started_at"])]
    seen = [(i, rows[i]["priority"]) for i in got]
    assert got == expected, f"claim order (id, priority) {seen}; expected priority desc, then id: {expected}"
    starts = sorted(r["started_at"] for r in rows.values())
    assert len(set(starts)) == len(ids), f"jobs share a started_at (claimed together?): {starts}"


def test_delayed_job_waits_for_run_at_and_the_sweeper_wakes_it(stack):
    stack.start_gateway({"FLOWSTATE_SWEEP_INTERVAL_MS": 200})
    # A worker that polls only once a minute: only a NOTIFY (the sweeper's) can wake it in time.
    stack.start_worker(env={"FLOWSTATE_POLL_INTERVAL_MS": 60000})
    time.sleep(0.5)  # its first, immediate claim has passed
    run_at = stack.db.scalar("SELECT now() + interval '3 seconds'")
    job = stack.create_job(runAt=run_at.isoformat())
    job_id = job["id"]
    assert parse_ts(job["runAt"]) == run_at, f"runAt {job['runAt']}, sent {run_at.isoformat()}"
    # pending until runAt
    while stack.db.scalar("SELECT now()") < run_at - dt.timedelta(milliseconds=300):
        row = stack.job(job_id)
        assert row["status"] == "pending" and row["attempts"] == 0, (
            f"job claimed before its runAt {run_at}: status {row['status']} attempts {row['attempts']} "
            f"started_at {row['started_at']}")
        time.sleep(0.05)
    row = stack.wait_status([job_id], "completed", 15, "the delayed job completed after runAt")[job_id]
    assert row["started_at"] >= run_at, f"started_at {row['started_at']} is before runAt {run_at}"
    late = (row["started_at"] - run_at).total_seconds()
    print(f"delayed job started {late:.2f}s after runAt")
    assert late < 15 * SLOW, (
        f"started {late:.1f}s after runAt: the sweeper did not wake the worker (it polls once a minute)")
    assert row["attempts"] == 1 and row["result"]["pong"] is True, f"job {row}"


def test_idempotency_key_one_job_runs_once(stack):
    stack.start_worker()
    gw = stack.gateway()
    body = {"targetAgent": "code_analyzer", "payload": {"taskType": "ping", "sleepMs": 200},
            "idempotencyKey": "once-only-1"}
    a = expect(gw.post("/api/jobs", json=body), 201)
    b = expect(gw.post("/api/jobs", json=body), 200)
    assert b["id"] == a["id"], f"second POST with the same idempotencyKey made job {b['id']}, first was {a['id']}"
    row = stack.wait_status([a["id"]], "completed", 30)[a["id"]]
    c = expect(gw.post("/api/jobs", json=body), 200)
    assert c["id"] == a["id"] and c["status"] == "completed", f"third POST answered {c}"
    time.sleep(1.0)  # a duplicate would have been claimed by now
    assert stack.db.count("job_queue") == 1, f"job_queue holds {stack.db.count('job_queue')} rows, expected 1"
    again = stack.job(a["id"])
    assert again["attempts"] == 1 and row["attempts"] == 1, f"attempts {again['attempts']}: the job ran again"
    assert again["result"] == row["result"], f"result changed: {row['result']} -> {again['result']}"


def test_cancel_pending_and_running(stack):
    gw = stack.gateway()
    # pending: no worker yet
    pending_id = stack.ping()
    r = expect(gw.post(f"/api/jobs/{pending_id}/cancel"), 200)
    assert r["status"] == "cancelled", f"cancel of a pending job answered {r}"
    # running: one slot, a long ping with a 3 s lease (renewed every second)
    w = stack.start_worker(env={"FLOWSTATE_CONCURRENCY": 1})
    long_id = stack.ping(sleep_ms=30000, timeoutSeconds=3)
    stack.wait_job(long_id, lambda j: j["status"] == "running", 30, "the long ping running")
    t0 = time.monotonic()
    r = expect(gw.post(f"/api/jobs/{long_id}/cancel"), 202)  # accepted: the worker stops it
    assert r.get("cancelRequested") is True and r["status"] in ("running", "cancelled"), (
        f"cancel of a running job answered {r}")
    row = stack.wait_job(long_id, lambda j: j["status"] == "cancelled", 10, "the running job cancelled")
    print(f"running job cancelled {time.monotonic() - t0:.2f}s after the request")
    w.wait_log(rf'job taken away; stopping it" job={long_id} .*reason=cancelled', 10,
               what="the worker says it stopped the cancelled job")
    # the slot is free again long before the 30 s sleep would have ended
    next_id = stack.ping()
    stack.wait_status([next_id], "completed", 15, "a ping after the cancelled one (one slot)")
    time.sleep(1.0)  # nothing is reported for the cancelled job afterwards
    row = stack.job(long_id)
    assert row["status"] == "cancelled" and row["result"] is None and row["attempts"] == 1, (
        f"cancelled job changed afterwards: {row}")
    assert not refusals(w.log(), long_id), f"the worker reported the cancelled job: {refusals(w.log(), long_id)}"
    p = stack.job(pending_id)
    assert p["status"] == "cancelled" and p["attempts"] == 0 and p["started_at"] is None, (
        f"the cancelled pending job ran: {p}")
    for job_id in (pending_id, long_id):
        ev = stack.events(job_id, "job.cancelled")
        assert len(ev) == 1, f"job {job_id}: job.cancelled events {ev}"


def test_retry_with_backoff_until_failed_then_manual_retry(stack):
    gw = stack.start_gateway({"FLOWSTATE_RETRY_BASE_MS": 400, "FLOWSTATE_RETRY_MAX_MS": 5000})
    job_id = stack.ping(maxAttempts=3)
    me = "test-host:1"
    for attempt in (1, 2, 3):
        # The test is the worker: claim when the backoff has passed.
        def claim():
            rows = stack.db.query("SELECT * FROM fs_jobs_claim('code_analyzer', 1, %s, 30)", (me,))
            return bool(rows), rows

        rows = stack.wait_until(claim, 15, f"attempt {attempt} claimable")
        assert rows[0]["id"] == job_id and rows[0]["attempt"] == attempt, f"claimed {rows}, expected attempt {attempt}"
        if attempt == 2:
            # a late report of attempt 1 is fenced off
            r = gw.post(f"/api/jobs/{job_id}/fail", json={"attempt": 1, "error": "late", "retryable": True})
            assert r.status_code == 409, f"fail for a stale attempt -> {r.status_code} {r.text}"
        r = expect(gw.post(f"/api/jobs/{job_id}/fail",
                           json={"attempt": attempt, "error": f"transient {attempt}", "retryable": True}), 200)
        want = "pending" if attempt < 3 else "failed"
        assert r["status"] == want, f"after failing attempt {attempt}: {r}"
    row = stack.job(job_id)
    assert row["status"] == "failed" and row["attempts"] == 3 and row["last_error"] == "transient 3", f"{row}"
    retries = stack.events(job_id, "job.retry")
    assert len(retries) == 2, f"job.retry events {retries}, expected 2"
    for ev in retries:
        a = ev["data"]["attempt"]
        delay = (parse_ts(ev["data"]["runAt"]) - ev["created_at"]).total_seconds()
        cap = min(5.0, 0.4 * 2 ** (a - 1))
        assert cap / 2 - 0.01 <= delay <= cap + 0.01, (
            f"attempt {a} backoff {delay:.3f}s, expected {cap / 2:.2f}..{cap:.2f}s (base 400 ms, equal jitter)")
    dead = stack.events(job_id, "job.dead")
    assert len(dead) == 1 and dead[0]["data"].get("attempt") == 3, f"job.dead events {dead}"
    # manual retry: pending again, and a worker completes it
    r = expect(gw.post(f"/api/jobs/{job_id}/retry"), 200)
    assert r["status"] == "pending" and r["attempts"] == 3 and r["maxAttempts"] == 6, (
        f"retry answered {r} (expected pending, attempts kept at 3, a fresh budget: maxAttempts 3 + 3)")
    assert len(stack.events(job_id, "job.requeued")) == 1, f"events {stack.events(job_id)}"
    stack.start_worker()
    row = stack.wait_status([job_id], "completed", 30, "the manually retried job completed")[job_id]
    assert row["result"]["pong"] is True and row["result"]["attempt"] == row["attempts"] == 4, (
        f"after the manual retry: attempts {row['attempts']} result {row['result']}")
    r = gw.post(f"/api/jobs/{job_id}/retry")
    assert r.status_code == 409, f"retry of a completed job -> {r.status_code} {r.text}"


def test_long_poll_returns_when_the_worker_finishes(stack):
    stack.start_worker()
    job_id = stack.ping(sleep_ms=500)
    t0 = time.monotonic()
    j = expect(stack.gw.get(f"/api/jobs/{job_id}?wait=10", timeout=30), 200)
    elapsed = time.monotonic() - t0
    print(f"long-poll answered after {elapsed:.2f}s")
    assert j["status"] == "completed", f"wait=10 answered after {elapsed:.1f}s with status {j['status']}"
    assert j["result"]["pong"] is True and j["result"]["sleptMs"] == 500, f"result {j['result']}"
    assert elapsed < 9.5, f"wait=10 took {elapsed:.1f}s: it did not return when the job finished"


def test_sigterm_drains_and_hands_back(stack):
    env = {"FLOWSTATE_CONCURRENCY": 4, "FLOWSTATE_SHUTDOWN_TIMEOUT": 30}
    workers = [stack.start_worker(env=env) for _ in range(2)]
    ids = [stack.ping(sleep_ms=300) for _ in range(20)]
    stack.wait_until(lambda: (stack.status_counts(ids).get("completed", 0) >= 2, stack.status_counts(ids)),
                     30, "the first jobs completed")
    running = {r["id"]: r["locked_by"] for r in
               stack.db.query("SELECT id, locked_by FROM job_queue WHERE status = 'running'")}
    for w in workers:
        w.signal(15)
    for w in workers:
        code = w.wait_exit(40 * SLOW)
        assert code == 0, f"{w} exited with {code} after SIGTERM; log:\n{w.log_tail()}"
        assert "stopping: no new claims" in w.log(), f"{w} did not log its drain:\n{w.log_tail()}"
    counts = stack.status_counts(ids)
    print(f"running at SIGTERM: {len(running)}; after the drain: {counts}")
    assert running, "no job was running when the workers got SIGTERM"
    assert counts.get("running", 0) == 0, f"jobs left running after both workers exited: {counts}"
    assert set(counts) <= {"completed", "pending"}, f"statuses after the drain: {counts}"
    # Jobs running at SIGTERM were finished (and reported) by their worker before it exited,
    # or, when no executor had started them yet, handed back (the worker logs how many).
    unstarted = sum(int(n) for w in workers for n in re.findall(r"unstarted=(\d+)", w.log()))
    handed = []
    for job_id, r in stack.jobs(running).items():
        if r["status"] == "pending":
            handed.append(job_id)
            assert r["attempts"] == 1 and r["max_attempts"] == 4 and "shutting down" in (r["last_error"] or ""), (
                f"job {job_id} was running on {running[job_id]} at SIGTERM and is pending again, but not as a "
                f"hand-back: attempts {r['attempts']} max_attempts {r['max_attempts']} last_error {r['last_error']!r}")
            continue
        assert r["status"] == "completed" and r["result"]["worker"] == running[job_id] and r["attempts"] == 1, (
            f"job {job_id} was running on {running[job_id]} at SIGTERM; after the drain: {r['status']} "
            f"attempts {r['attempts']} result {r['result']}")
    all_handed = [r["id"] for r in stack.jobs(ids).values()
                  if r["status"] == "pending" and (r["last_error"] or "").startswith("handed back")]
    assert set(handed) <= set(all_handed) and len(all_handed) == unstarted, (
        f"handed back {all_handed}, but the workers logged unstarted={unstarted} in total")
    assert stack.agent_state("code_analyzer")["status"] == "offline", f"agent state {stack.agent_state('code_analyzer')}"
    stack.start_worker(env=env)
    rows = stack.wait_status(ids, "completed", 60, "every job completed after a new worker started")
    assert_completed_once(rows, expect_attempts=None)
    logs = "".join(w.log() for w in stack.procs)
    assert not refusals(logs), f"outcomes refused (a job reported twice?): {refusals(logs)[:5]}"
    assert stack.db.count("job_queue", "status = 'completed'") == 20


def test_sigterm_hands_back_jobs_outliving_the_shutdown_timeout(stack):
    w = stack.start_worker(env={"FLOWSTATE_CONCURRENCY": 2, "FLOWSTATE_SHUTDOWN_TIMEOUT": 1})
    ids = [stack.ping(sleep_ms=30000) for _ in range(2)]
    stack.wait_status(ids, "running", 30)
    time.sleep(0.5)  # claimed is not started: let the executors pick both up (microseconds, normally)
    t0 = time.monotonic()
    w.signal(15)
    code = w.wait_exit(30 * SLOW)
    took = time.monotonic() - t0
    assert code == 0, f"exit {code} after SIGTERM; log:\n{w.log_tail()}"
    assert took < 20 * SLOW, f"took {took:.1f}s to exit with a 1 s shutdown timeout"
    assert "shutdown timeout; handing back unfinished jobs" in w.log(), w.log_tail()
    for job_id, r in stack.jobs(ids).items():
        assert r["status"] == "pending" and r["attempts"] == 1 and r["max_attempts"] == 4, (
            f"job {job_id} after the hand-back: status {r['status']} attempts {r['attempts']} "
            f"max_attempts {r['max_attempts']} (expected pending, 1, 3+1)")
        assert "shutdown timeout" in (r["last_error"] or "") and r["locked_by"] is None, f"job {job_id}: {r}"
        kinds = [(e["type"], e["severity"]) for e in stack.events(job_id)]
        assert kinds == [("job.handed_back", "info")], f"job {job_id}: events {kinds} (a hand-back is not a failed attempt)"
    assert not refusals(w.log()), f"a handed-back job was reported: {refusals(w.log())}"
    # the next worker runs them (quickly this time)
    stack.db.execute("UPDATE job_queue SET payload = payload || '{\"sleepMs\": 0}'")
    stack.start_worker()
    rows = stack.wait_status(ids, "completed", 30, "the handed-back jobs completed by a new worker")
    assert_completed_once(rows, expect_attempts=2)


def test_2000_pings_over_4_processes(stack):
    pool = stack.start_pool("code_analyzer=4")
    kids = pool.children()
    assert len(kids) == 4, f"the pool runs {len(kids)} children: {kids}"
    n = 2000
    t0 = time.monotonic()
    ids = stack.insert_jobs(n)
    rows = stack.wait_status(ids, "completed", 120, f"{n} pings completed")
    wall = time.monotonic() - t0
    assert_completed_once(rows, expect_attempts=1)
    by_worker = {}
    for r in rows.values():
        by_worker[r["result"]["worker"]] = by_worker.get(r["result"]["worker"], 0) + 1
    pids = {worker_pid(w) for w in by_worker}
    assert len(by_worker) == 4 and pids == set(kids), (
        f"work spread over {by_worker} (pids {sorted(pids)}), expected the pool's 4 children {kids}")
    first = min(r["started_at"] for r in rows.values())
    last = max(r["processed_at"] for r in rows.values())
    span = (last - first).total_seconds()
    print(f"{n} pings over 4 processes: {n / span:.0f} jobs/s claim-to-report ({span:.2f}s), "
          f"{n / wall:.0f} jobs/s wall ({wall:.2f}s); per worker {sorted(by_worker.values())}")
    assert not refusals(pool.log()), f"outcomes refused: {refusals(pool.log())[:5]}"
    assert not stack.events(type="job.retry"), f"retries: {stack.events(type='job.retry')[:5]}"


def test_agent_status_idle_busy_offline(stack):
    w = stack.start_worker(env={"FLOWSTATE_HEARTBEAT": 1})

    def state_is(status, **more):
        def check():
            s = stack.agent_state("code_analyzer") or {}
            ok = s.get("status") == status and all(s.get(k) == v for k, v in more.items())
            return ok, s
        return check

    s = stack.wait_until(state_is("idle", activeJobs=0), 15, "agent idle after start")
    assert worker_pid(s["worker"]) == w.pid, f"state.worker {s['worker']}, pid {w.pid}"
    assert s["capabilities"] == ["code_analysis", "optimization", "bug_detection"], f"state {s}"
    first_beat = parse_ts(s["lastHeartbeat"])
    job_id = stack.ping(sleep_ms=60000, timeoutSeconds=3)
    s = stack.wait_until(state_is("busy", activeJobs=1), 15, "agent busy during the long job")
    assert parse_ts(s["lastHeartbeat"]) > first_beat, f"lastHeartbeat did not advance: {s}"
    assert stack.job(job_id)["status"] == "running", f"busy, but the job is {stack.job(job_id)['status']}"
    expect(stack.gw.post(f"/api/jobs/{job_id}/cancel"), 202)  # stops it at the next renewal (1 s)
    stack.wait_status([job_id], "cancelled", 15)
    stack.wait_until(state_is("idle", activeJobs=0), 15, "agent idle after the job")
    code = w.terminate()
    assert code == 0, f"exit {code} after SIGTERM; log:\n{w.log_tail()}"
    s = stack.agent_state("code_analyzer")
    assert s["status"] == "offline" and worker_pid(s["worker"]) == w.pid, f"state after exit: {s}"


def test_bad_settings_exit_78(stack):
    gw = stack.gateway()
    cases = [
        ({"FLOWSTATE_BOGUS": "1"}, (), "FLOWSTATE_BOGUS"),
        ({"FLOWSTATE_CONCURRENCY": "0"}, (), "FLOWSTATE_CONCURRENCY"),
        ({}, ("--bogus", "1"), "bogus"),
        ({"FLOWSTATE_API_KEY": "fsk_" + "0" * 40}, (), "refused"),
        ({"FLOWSTATE_API_KEY": stack.create_key("viewer")}, (), "refused"),
        ({"DATABASE_URL": None}, (), "DATABASE_URL"),
    ]
    for env, args, word in cases:
        code, log = stack.run_worker_briefly(env=env, args=args)
        shown = {k: (v[:8] + "…" if isinstance(v, str) and v.startswith("fsk_") else v) for k, v in env.items()}
        assert code == EXIT_FATAL, f"worker with {shown} {list(args)} exited {code}, expected {EXIT_FATAL}; log:\n{log}"
        assert word in log, f"worker with {shown} {list(args)}: log does not mention {word!r}:\n{log}"
    assert gw.alive()
    assert stack.db.count("job_queue") == 0


def revoke_key_named(gw, name):
    keys = [k for k in expect(gw.get("/api/keys"), 200)["keys"] if k["name"] == name]
    assert len(keys) == 1, f"keys named {name!r}: {keys}"
    expect(gw.delete(f"/api/keys/{keys[0]['id']}"), 200)


def test_key_revoked_while_running_hands_jobs_back_and_exits_78(stack):
    gw = stack.gateway()
    # Heartbeats off (an hour): the refusal comes back on the outcome report.
    a = stack.start_worker(env={"FLOWSTATE_API_KEY": stack.create_key("agent", "worker-a"),
                                "FLOWSTATE_CONCURRENCY": 2, "FLOWSTATE_HEARTBEAT": 3600})
    ids = [stack.ping(sleep_ms=1500), stack.ping(sleep_ms=30000)]
    stack.wait_status(ids, "running", 30)
    revoke_key_named(gw, "worker-a")
    a.expected_exit = EXIT_FATAL
    code = a.wait_exit(30 * SLOW)
    assert code == EXIT_FATAL, (
        f"worker A exited with {code} (None: still running) after its key was revoked; expected {EXIT_FATAL}; "
        f"jobs {stack.status_counts(ids)}; log:\n{a.log_tail()}")
    assert "refused" in a.log(), a.log_tail()
    for job_id, r in stack.jobs(ids).items():
        assert r["status"] == "pending" and r["locked_by"] is None and r["attempts"] == 1 and r["max_attempts"] == 4, (
            f"job {job_id} after A gave up: {r['status']} locked_by {r['locked_by']} attempts {r['attempts']} "
            f"max_attempts {r['max_attempts']} (expected handed back)")
    stack.db.execute("UPDATE job_queue SET payload = payload || '{\"sleepMs\": 0}'")
    stack.start_worker()
    rows = stack.wait_status(ids, "completed", 30, "a worker with a valid key completed the handed-back jobs")
    assert_completed_once(rows, expect_attempts=2)


def test_key_revoked_while_idle_exits_78_without_claiming(stack):
    gw = stack.gateway()
    a = stack.start_worker(env={"FLOWSTATE_API_KEY": stack.create_key("agent", "worker-a"),
                                "FLOWSTATE_HEARTBEAT": 1})
    revoke_key_named(gw, "worker-a")
    a.expected_exit = EXIT_FATAL
    code = a.wait_exit(30 * SLOW)
    assert code == EXIT_FATAL, f"worker A exited with {code} (None: still running); log:\n{a.log_tail()}"
    job_id = stack.ping()
    time.sleep(0.5)
    row = stack.job(job_id)
    assert row["status"] == "pending" and row["attempts"] == 0, f"a job was claimed after A exited: {row}"


def test_settings_in_database_url_win_over_the_workers_defaults(stack, db):
    """The worker's connection defaults (here application_name) give way to what
    DATABASE_URL sets, as they do for the pool's connection: one rule in common/pgconn."""
    sep = "&" if "?" in stack.db.url else "?"
    url = f"{stack.db.url}{sep}application_name=fs_custom_worker"
    stack.start_worker("code_analyzer", env={"DATABASE_URL": url})
    names = [r["application_name"] for r in db.query("SELECT application_name FROM pg_stat_activity WHERE datname = current_database()")]
    assert "fs_custom_worker" in names, names
    assert "flowstate-code_analyzer" not in names, names
