"""Plans kept for a whole session stay index lookups however big job_queue grows.

The gateway prepares its statements once per connection and the claim/complete/fail
functions keep generic plans per session (sql/002_jobs.sql), so a plan made while the queue
was nearly empty is still used when it holds many jobs. Each test makes the plans on a (nearly)
empty queue with autovacuum off (no ANALYZE to replan), adds 5,000 jobs, runs the same
statements again and checks, in PostgreSQL's table statistics, that nothing read job_queue
sequentially."""

import time

import psycopg2
import pytest

from fsutil import expect

AGENT = "code_analyzer"
BULK = 5000


def grow_queue(db):
    db.execute("INSERT INTO job_queue (payload, target_agent)"
               " SELECT '{}', 'bulk' FROM generate_series(1, %s)", (BULK,))


def sequential_reads(db, test_db):
    """Rows of job_queue read by sequential scans, once every other session has ended (a
    session reports its table statistics when it ends)."""
    dbname = test_db.rsplit("/", 1)[1]
    deadline = time.monotonic() + 10
    while db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (dbname,)) and time.monotonic() < deadline:
        time.sleep(0.05)
    db.execute("SELECT pg_stat_clear_snapshot()")
    return db.scalar("SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'job_queue'")


def start(gateway_factory, db):
    db.execute("ALTER TABLE job_queue SET (autovacuum_enabled = false)")
    return gateway_factory(env={"FLOWSTATE_SWEEP_INTERVAL_MS": "0"})


def test_single_inserts(gateway_factory, db, test_db):
    """The group-commit insert answers a repeated idempotency key through the key's index.
    A join with job_queue there, planned while the table was empty, becomes a hash join over
    the whole queue: every POST would read every job, and creations would slow as the queue
    grows (docs/measurements.md)."""
    gw = start(gateway_factory, db)
    body = {"targetAgent": AGENT, "payload": {"taskType": "ping"}}
    for i in range(8):  # past the five custom plans: both insert forms now have generic plans
        expect(gw.post("/api/jobs", json=body), 201)  # the plain form (no key)
        expect(gw.post("/api/jobs", json={**body, "idempotencyKey": f"warm{i}"}), 201)
    grow_queue(db)
    for i in range(4):
        expect(gw.post("/api/jobs", json={**body, "idempotencyKey": f"k{i % 2}"}), 201 if i < 2 else 200)
        expect(gw.post("/api/jobs", json=body), 201)
    assert gw.stop() == 0
    read = sequential_reads(db, test_db)
    assert read < BULK, f"the inserts read {read} rows of job_queue sequentially"
    assert db.count("job_queue", "target_agent = %s", (AGENT,)) == 8 + 8 + 2 + 4


def test_claims_and_outcomes(gateway_factory, db, test_db):
    """fs_jobs_claim/complete/fail planned while the queue was nearly empty turned
    "id = ANY (…)" into sequential scans, and the not-found/conflict answers joined the whole
    table; the session kept those plans for good."""
    gw = start(gateway_factory, db)
    worker = psycopg2.connect(test_db)
    worker.autocommit = True

    def round_of_reports():
        ids = [expect(gw.post("/api/jobs", json={"targetAgent": AGENT, "payload": {}}), 201)["id"]
               for _ in range(2)]
        with worker.cursor() as c:
            c.execute("SELECT id, attempt FROM fs_jobs_claim(%s, 2, 'test:1', 30)", (AGENT,))
            claimed = dict(c.fetchall())
        assert sorted(claimed) == sorted(ids)
        done, failed = ids
        expect(gw.post(f"/api/jobs/{done}/complete", json={"attempt": 1, "result": {"ok": True}}), 200)
        expect(gw.post(f"/api/jobs/{failed}/fail", json={"attempt": 1, "error": "boom", "retryable": False}),
               200)
        expect(gw.post(f"/api/jobs/{done}/complete", json={"attempt": 1}), 409)  # conflict answer
        expect(gw.post("/api/jobs/99999999/fail", json={"attempt": 1, "error": "x"}), 404)
        expect(gw.post("/api/jobs/complete",
                       json={"jobs": [{"id": done, "attempt": 1}, {"id": 99999998, "attempt": 1}]}), 200)

    for _ in range(3):
        round_of_reports()
    grow_queue(db)
    round_of_reports()
    worker.close()
    assert gw.stop() == 0
    read = sequential_reads(db, test_db)
    assert read < BULK, f"claims and reports read {read} rows of job_queue sequentially"
    assert db.count("job_queue", "status = 'completed'") == 4
    assert db.count("job_queue", "status = 'failed'") == 4


# Functions called once per row of a statement: each must be inlined into the caller's plan
# (see fs_job_json in sql/002_jobs.sql). A SQL function the planner cannot inline parses and
# plans its own body every time a statement calls it, which would make a per-row function
# the larger part of a group-commit insert (docs/measurements.md).
PER_ROW_FUNCTIONS = [
    ("fs_job_json", "fs_job_json(t)", "job_queue"),
    ("fs_agent_json", "fs_agent_json(t)", "agent_states"),
    ("fs_document_json", "fs_document_json(t)", "documents"),
    ("fs_key_json", "fs_key_json(t)", "api_keys"),
    ("fs_message_json", "fs_message_json(t, 'sent')", "agent_messages"),
    ("fs_wake_channel", "fs_wake_channel(t.target_agent)", "job_queue"),
]


@pytest.mark.parametrize("name, call, table", PER_ROW_FUNCTIONS, ids=[f[0] for f in PER_ROW_FUNCTIONS])
def test_per_row_functions_are_inlined(db, name, call, table):
    plan = "\n".join(r["QUERY PLAN"] for r in db.query(f"EXPLAIN VERBOSE SELECT {call} FROM {table} t"))
    assert name not in plan, f"{name} is called, not inlined:\n{plan}"


def test_job_json_text_is_unchanged_by_inlining(db):
    """The inlined fs_job_json prints the same text as the subquery form it replaced: the same
    keys in the same order, values formatted alike, every column set."""
    db.execute("INSERT INTO job_queue (payload, target_agent, status, attempts, priority, max_attempts,"
               " timeout_seconds, started_at, processed_at, locked_by, locked_until, idempotency_key,"
               " result, last_error, cancel_requested)"
               " VALUES ('{\"a\": [1, 2.50, \"\\u00e9\"]}', 'agent \"q\"', 'running', 2, 4, 5, 30,"
               " now(), now(), 'host:1', now() + interval '1 minute', 'key-1', '{\"r\": null}',"
               " E'line\\nbreak', true), ('{}', 'plain', DEFAULT, DEFAULT, DEFAULT, DEFAULT, NULL,"
               " NULL, NULL, NULL, NULL, NULL, NULL, NULL, DEFAULT)")
    rows = db.query(
        "SELECT fs_job_json(j)::text AS inlined, (SELECT row_to_json(x)::text FROM (SELECT"
        "  j.id, j.target_agent AS \"targetAgent\", j.payload, j.status, j.priority, j.attempts,"
        "  j.max_attempts AS \"maxAttempts\", j.timeout_seconds AS \"timeoutSeconds\","
        "  j.run_at AS \"runAt\", j.created_at AS \"createdAt\", j.started_at AS \"startedAt\","
        "  j.processed_at AS \"processedAt\", j.locked_by AS \"lockedBy\","
        "  j.locked_until AS \"lockedUntil\", j.idempotency_key AS \"idempotencyKey\", j.result,"
        "  j.last_error AS \"lastError\", j.cancel_requested AS \"cancelRequested\") x) AS subquery"
        " FROM job_queue j ORDER BY j.id")
    assert len(rows) == 2
    for r in rows:
        assert r["inlined"] == r["subquery"]
