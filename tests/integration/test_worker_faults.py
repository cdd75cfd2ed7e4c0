"""Faults around the workers: a worker killed with jobs (the pool releases them), a worker
frozen past its lease (the sweeper requeues, its late report is fenced off), the whole pool
killed, PostgreSQL restarted and the gateway restarted under load. Every job must end
completed exactly once."""

import json
import os
import signal
import time

import psycopg2
import pytest

from fsutil import Cluster, expect, run_cli
from stack import SLOW, GatewayProxy, assert_completed_once, pid_alive, worker_pid


def test_kill_9_worker_pool_releases_its_jobs(stack):
    pool = stack.start_pool("code_analyzer=2", env={"FLOWSTATE_SHUTDOWN_TIMEOUT": 3})
    kids = pool.children()
    assert len(kids) == 2, f"pool children {kids}"
    # Long pings with a long lease: only the pool's release can bring them back quickly.
    ids = [stack.ping(sleep_ms=20000, timeoutSeconds=120) for _ in range(4)]
    rows = stack.wait_status(ids, "running", 30, "the long pings running")
    victim = rows[ids[0]]["locked_by"]
    victim_pid = worker_pid(victim)
    assert victim_pid in kids, f"job {ids[0]} is locked by {victim}, not by a pool child {kids}"
    held = sorted(i for i, r in rows.items() if r["locked_by"] == victim)
    others = sorted(set(ids) - set(held))
    # The next attempt of the victim's jobs is quick (the running copies keep their payload).
    stack.db.execute("UPDATE job_queue SET payload = payload || '{\"sleepMs\": 100}' WHERE id = ANY(%s)", (held,))
    t0 = time.monotonic()
    os.kill(victim_pid, signal.SIGKILL)

    def done():
        r = stack.jobs(held)
        return all(x["status"] == "completed" for x in r.values()), {i: (x["status"], x["attempts"]) for i, x in r.items()}

    stack.wait_until(done, 20, f"the killed worker's jobs {held} completed by another process")
    recovery = time.monotonic() - t0
    print(f"kill -9 of {victim} holding {len(held)} job(s): completed again {recovery:.2f}s after the kill")
    rows = stack.jobs(held)
    assert_completed_once(rows, expect_attempts=2)
    for job_id, r in rows.items():
        assert r["result"]["worker"] != victim, f"job {job_id} completed by the killed worker: {r['result']}"
        ev = [e for e in stack.events(job_id, "job.retry") if e["data"].get("worker") == victim]
        assert len(ev) == 1, f"job {job_id}: job.retry events naming {victim}: {stack.events(job_id)}"
        err = ev[0]["data"].get("error", "")
        assert str(victim_pid) in err and ("signal 9" in err or "killed" in err.lower()), (
            f"job {job_id}: the release reason {err!r} does not say that {victim} was killed")
    assert recovery < 15 * SLOW, f"released jobs took {recovery:.1f}s to complete (lease was 120 s)"
    # the other worker's jobs were not touched
    for job_id, r in stack.jobs(others).items():
        assert r["status"] == "running" and r["attempts"] == 1 and r["locked_by"] != victim, (
            f"job {job_id} of the surviving worker changed: {r['status']} attempts {r['attempts']}")
    assert pool.alive(), f"the pool died; log:\n{pool.log_tail()}"
    # and the pool replaced the killed worker
    stack.wait_until(lambda: (len(pool.children()) == 2 and victim_pid not in pool.children(), pool.children()),
                     15, "the pool restarted the killed worker")
    pool.wait_log(r"database connected; listening for jobs", 30, count=3, what="the replacement worker started")


def test_sigstop_past_the_lease_then_late_report_is_fenced(stack):
    gw = stack.start_gateway({"FLOWSTATE_SWEEP_INTERVAL_MS": 200})
    proxy = GatewayProxy(gw.url)
    try:
        a = stack.start_worker(env={"FLOWSTATE_CONCURRENCY": 1}, url=proxy.url)
        # A's report of the job waits at the proxy: it is in flight when A is frozen.
        proxy.hold("/api/jobs/complete")
        job_id = stack.ping(timeoutSeconds=2)

        def held_report():
            held = [e for e in proxy.entries("/api/jobs/complete")
                    if e["held"] and any(j["id"] == job_id for j in json.loads(e["body"])["jobs"])]
            return bool(held), [e["body"][:200] for e in proxy.entries("/api/jobs/complete")]

        stack.wait_until(held_report, 30, "worker A's report reached the proxy")
        row = stack.job(job_id)
        assert row["status"] == "running" and worker_pid(row["locked_by"]) == a.pid and row["attempts"] == 1, (
            f"while A's report is held the job should be running, locked by A: {row}")
        a.signal(signal.SIGSTOP)
        t0 = time.monotonic()
        row = stack.wait_job(job_id, lambda j: j["status"] != "running" or j["attempts"] > 1, 30,
                             "the sweeper requeued the job of the frozen worker")
        print(f"lease of the frozen worker expired and was swept {time.monotonic() - t0:.2f}s after SIGSTOP")
        assert "lease expired" in (row["last_error"] or "") or row["attempts"] == 2, f"requeued job: {row}"
        b = stack.start_worker()
        row = stack.wait_status([job_id], "completed", 30, "worker B completed the requeued job")[job_id]
        assert row["attempts"] == 2 and worker_pid(row["result"]["worker"]) == b.pid, (
            f"expected B (pid {b.pid}) to complete attempt 2: attempts {row['attempts']} result {row['result']}")
        ev = stack.events(job_id, "job.retry")
        assert len(ev) == 1 and "lease expired" in ev[0]["data"].get("error", ""), f"job.retry events: {ev}"
        # A wakes up: its report of attempt 1 reaches the gateway and is refused.
        proxy.release()
        a.signal(signal.SIGCONT)

        def answered():
            done = [e for e in proxy.entries("/api/jobs/complete") if e["held"] and e["status"] is not None]
            return bool(done), done

        held = stack.wait_until(answered, 30, "the gateway answered A's late report")[0]
        after = stack.job(job_id)
        assert after["status"] == "completed" and after["attempts"] == 2 and after["result"] == row["result"], (
            f"the late report changed the job: {row['result']} -> {after['result']}, attempts {after['attempts']}")
        body = json.loads(held["response"])
        item = [x for x in body.get("results", []) if x.get("id") == job_id]
        assert held["status"] == 200 and item and item[0].get("error", {}).get("code") == "conflict", (
            f"the gateway answered the late report with {held['status']} {held['response'][:300]}")
        a.wait_log(rf'gateway refused an outcome; dropping it" job={job_id} ', 30,
                   what="A logs that its late report was refused")
        code = a.terminate()
        assert code == 0, f"worker A exited with {code}; log:\n{a.log_tail()}"
    finally:
        for p in stack.procs:
            p.terminate()
        proxy.close()


def test_kill_9_whole_pool_then_new_pool_finishes(stack):
    env = {"FLOWSTATE_CONCURRENCY": 4}
    pool = stack.start_pool("code_analyzer=2", env=env)
    kids = pool.children()
    ids = stack.insert_jobs(40, payload={"taskType": "ping", "sleepMs": 500}, timeout_seconds=3)

    def in_flight():
        c = stack.status_counts(ids)
        return c.get("running", 0) >= 4 and c.get("completed", 0) >= 4, c

    stack.wait_until(in_flight, 30, "jobs running and some completed")
    # The whole pool dies at once: freeze the supervisor so it cannot release anything, then
    # SIGKILL the workers (each in its own process group) and the supervisor.
    pool.signal(signal.SIGSTOP)
    kids = pool.children()
    for pid in kids:
        os.kill(pid, signal.SIGKILL)
    pool.kill9()
    t0 = time.monotonic()
    running = stack.db.query("SELECT id, locked_by FROM job_queue WHERE status = 'running' AND id = ANY(%s)", (ids,))
    dead = {r["locked_by"] for r in running}
    print(f"killed the pool with {len(running)} jobs running; counts {stack.status_counts(ids)}")
    assert running and {worker_pid(w) for w in dead} <= set(kids), f"running jobs {running}, killed {kids}"
    stack.wait_until(lambda: (not any(pid_alive(p) for p in kids), kids), 10, "the killed workers are gone")
    stack.start_pool("code_analyzer=2", env=env)
    rows = stack.wait_status(ids, "completed", 60, "every job completed by the new pool")
    print(f"all 40 jobs completed {time.monotonic() - t0:.2f}s after the kill")
    assert_completed_once(rows, expect_attempts=None)
    # A job running on a killed worker was either reported just before the kill (completed at
    # attempt 1 by that worker) or requeued by the sweeper when its lease expired.
    swept = 0
    for r in running:
        j = rows[r["id"]]
        ev = [e for e in stack.events(r["id"], "job.retry") if e["data"].get("worker") == r["locked_by"]]
        if j["attempts"] == 1 and j["result"]["worker"] == r["locked_by"] and not ev:
            continue
        swept += 1
        assert j["attempts"] >= 2 and ev and "lease expired" in ev[0]["data"].get("error", ""), (
            f"job {r['id']} was running on killed {r['locked_by']}: attempts {j['attempts']}, events {ev}")
    assert swept > 0, f"no job of the killed pool was requeued by the sweeper: {running}"


@pytest.fixture
def own_cluster(gateway_bin):
    c = Cluster.create(prefix="fs-pg-workers-")
    try:
        p = run_cli(["--migrate"], {"DATABASE_URL": c.url})
        assert p.returncode == 0, f"--migrate failed: {p.stderr}"
        yield c
    finally:
        c.destroy()


def test_postgres_restart_under_load(own_cluster, stack_factory):
    stack = stack_factory(own_cluster.url)
    stack.start_gateway({"FLOWSTATE_SWEEP_INTERVAL_MS": 200})
    pool = stack.start_pool("code_analyzer=2", env={"FLOWSTATE_LEASE": 5, "FLOWSTATE_CONCURRENCY": 4})
    n = 500
    ids = stack.insert_jobs(n, payload={"taskType": "ping", "sleepMs": 20})
    stack.wait_until(lambda: (stack.status_counts(ids).get("completed", 0) >= 50, stack.status_counts(ids)), 60,
                     "the first 50 jobs completed")
    url = own_cluster.url
    stack.db.close()
    own_cluster.stop()
    t0 = time.monotonic()
    time.sleep(2)
    assert own_cluster.start() == url, "PostgreSQL came back on another port"
    stack.db.conn = psycopg2.connect(url, connect_timeout=10)
    stack.db.conn.autocommit = True
    print(f"PostgreSQL was down {time.monotonic() - t0:.2f}s")
    rows = stack.wait_status(ids, "completed", 90, f"all {n} jobs completed after the restart")
    print(f"all {n} jobs completed {time.monotonic() - t0:.2f}s after the stop")
    assert_completed_once(rows, expect_attempts=None)
    again = {i: r for i, r in rows.items() if r["attempts"] > 1}
    for job_id, r in again.items():
        ev = stack.events(job_id, "job.retry")
        assert ev and all("lease expired" in e["data"].get("error", "") for e in ev), (
            f"job {job_id} ran {r['attempts']} times without a lease expiry: {ev}")
    print(f"{len(again)} job(s) ran again after a lease expired")
    assert stack.db.count("job_queue", "status <> 'completed'") == 0
    assert pool.alive() and stack.gw.alive()
    # both workers lost their connection and made a new one (the last may still be backing off)
    pool.wait_log(r"database connection lost", 30, count=2, what="both workers noticed the restart")
    pool.wait_log(r"database connected; listening for jobs", 30, count=4, what="both workers reconnected")


def test_gateway_restart_under_load(stack):
    gw = stack.start_gateway()
    pool = stack.start_pool("code_analyzer=2", env={"FLOWSTATE_CONCURRENCY": 4})
    n = 500
    ids = stack.insert_jobs(n, payload={"taskType": "ping", "sleepMs": 20})
    stack.wait_until(lambda: (stack.status_counts(ids).get("completed", 0) >= 50, stack.status_counts(ids)), 60,
                     "the first 50 jobs completed")
    code = gw.stop(timeout=20)
    assert code == 0, f"gateway exited with {code} after SIGTERM; log:\n{gw.log_tail()}"
    t0 = time.monotonic()
    done_at_stop = stack.status_counts(ids)
    time.sleep(1.5)
    gw2 = stack.restart_gateway(gw)
    assert gw2.url == gw.url
    print(f"gateway down {time.monotonic() - t0:.2f}s; counts at the stop {done_at_stop}")
    rows = stack.wait_status(ids, "completed", 90, f"all {n} jobs completed after the gateway restart")
    print(f"all {n} jobs completed {time.monotonic() - t0:.2f}s after the stop")
    assert_completed_once(rows, expect_attempts=1)
    assert "cannot report outcomes; retrying" in pool.log(), "the workers never had to retry a report"
    assert pool.alive()
    expect(gw2.get("/health", auth=None), 200)
