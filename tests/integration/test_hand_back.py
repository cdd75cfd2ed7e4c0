"""A hand-back — a worker shutting down gives back a job it will not finish — is recorded
in the job's handed_back_at, and that is what makes the update trigger write
job.handed_back; it costs no attempt (max_attempts grows by one, as attempts, the fencing
token, never goes back). A running job sent back to pending any other way is a retry, even
when its max_attempts grew in the same statement (the event was once inferred from that
alone)."""

import json


def claim(db, agent="ha"):
    return db.one("SELECT * FROM fs_jobs_claim(%s, 1, 'test:1', 30)", (agent,))


def events(db, job_id):
    return [(e["type"], e["severity"]) for e in
            db.query("SELECT type, severity FROM events WHERE job_id = %s ORDER BY id", (job_id,))]


def job(db, job_id):
    return db.one("SELECT status, attempts, max_attempts, last_error, locked_by,"
                  " handed_back_at IS NOT NULL AS handed_back FROM job_queue WHERE id = %s", (job_id,))


def hand_back(db, job_id, attempt):
    return db.scalar("SELECT fs_jobs_hand_back(%s::bigint[], %s::int[], 'test:1', 'handed back: bye')",
                     ([job_id], [attempt]))


def new_job(db):
    return db.scalar("INSERT INTO job_queue (payload, target_agent) VALUES ('{}', 'ha') RETURNING id")


def test_a_hand_back_is_recorded_and_costs_no_attempt(db):
    job_id = new_job(db)
    assert not job(db, job_id)["handed_back"]
    assert claim(db)["attempt"] == 1
    assert hand_back(db, job_id, 1) == 1
    r = job(db, job_id)
    assert r["handed_back"] and (r["status"], r["attempts"], r["max_attempts"], r["last_error"], r["locked_by"]) == (
        "pending", 1, 4, "handed back: bye", None), r
    assert events(db, job_id) == [("job.handed_back", "info")]
    # a second claim and hand-back is recorded again; a stale attempt is not ours to give back
    first = db.scalar("SELECT handed_back_at FROM job_queue WHERE id = %s", (job_id,))
    assert claim(db)["attempt"] == 2
    assert hand_back(db, job_id, 1) == 0
    assert hand_back(db, job_id, 2) == 1
    assert db.scalar("SELECT handed_back_at FROM job_queue WHERE id = %s", (job_id,)) > first
    assert job(db, job_id)["max_attempts"] == 5
    assert events(db, job_id) == [("job.handed_back", "info")] * 2
    # the job's API JSON does not carry the column
    doc = json.loads(db.scalar("SELECT fs_job_json(j)::text FROM job_queue j WHERE id = %s", (job_id,)))
    assert "handedBackAt" not in doc and doc["maxAttempts"] == 5


def test_a_hand_back_of_a_job_with_a_cancel_request_cancels_it(db):
    job_id = new_job(db)
    claim(db)
    db.execute("UPDATE job_queue SET cancel_requested = true WHERE id = %s", (job_id,))
    assert hand_back(db, job_id, 1) == 1
    r = job(db, job_id)
    assert r["status"] == "cancelled" and r["handed_back"], r
    assert events(db, job_id) == [("job.cancelled", "info")]


def test_a_requeue_that_raises_max_attempts_is_not_a_hand_back(db):
    job_id = new_job(db)
    claim(db)
    # an operator sends the running job back by hand and grants it another attempt
    db.execute("UPDATE job_queue SET status = 'pending', max_attempts = max_attempts + 1, locked_by = NULL,"
               " locked_until = NULL WHERE id = %s", (job_id,))
    assert not job(db, job_id)["handed_back"]
    assert events(db, job_id) == [("job.retry", "warning")]
