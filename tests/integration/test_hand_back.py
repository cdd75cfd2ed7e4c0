"""A hand-back — a worker shutting down gives back a job it will not finish — is recorded
in the job's hand_backs and is what makes the update trigger write job.handed_back; it costs
no attempt (max_attempts grows by one, as attempts, the fencing token, never goes back). A
running job sent back to pending any other way is a retry, even when its max_attempts grew
in the same statement (the event was once inferred from that alone)."""

import json


def claim(db, agent="ha"):
    return db.one("SELECT * FROM fs_jobs_claim(%s, 1, 'test:1', 30)", (agent,))


def events(db, job_id):
    return [(e["type"], e["severity"]) for e in
            db.query("SELECT type, severity FROM events WHERE job_id = %s ORDER BY id", (job_id,))]


def job(db, job_id):
    return db.one("SELECT status, attempts, max_attempts, hand_backs, last_error, locked_by"
                  " FROM job_queue WHERE id = %s", (job_id,))


def hand_back(db, job_id, attempt):
    return db.scalar("SELECT fs_jobs_hand_back(%s::bigint[], %s::int[], 'test:1', 'handed back: bye')",
                     ([job_id], [attempt]))


def test_a_hand_back_is_recorded_and_costs_no_attempt(db):
    job_id = db.scalar("INSERT INTO job_queue (payload, target_agent) VALUES ('{}', 'ha') RETURNING id")
    assert claim(db)["attempt"] == 1
    assert hand_back(db, job_id, 1) == 1
    assert job(db, job_id) == {"status": "pending", "attempts": 1, "max_attempts": 4, "hand_backs": 1,
                               "last_error": "handed back: bye", "locked_by": None}
    assert events(db, job_id) == [("job.handed_back", "info")]
    # a second claim and hand-back: each is recorded; a stale attempt is not ours to give back
    assert claim(db)["attempt"] == 2
    assert hand_back(db, job_id, 1) == 0
    assert hand_back(db, job_id, 2) == 1
    assert job(db, job_id)["hand_backs"] == 2 and job(db, job_id)["max_attempts"] == 5
    assert events(db, job_id) == [("job.handed_back", "info")] * 2
    # the job's API JSON is unchanged by the column
    doc = json.loads(db.scalar("SELECT fs_job_json(j)::text FROM job_queue j WHERE id = %s", (job_id,)))
    assert "handBacks" not in doc and doc["maxAttempts"] == 5


def test_a_hand_back_of_a_job_with_a_cancel_request_cancels_it(db):
    job_id = db.scalar("INSERT INTO job_queue (payload, target_agent) VALUES ('{}', 'ha') RETURNING id")
    claim(db)
    db.execute("UPDATE job_queue SET cancel_requested = true WHERE id = %s", (job_id,))
    assert hand_back(db, job_id, 1) == 1
    r = job(db, job_id)
    assert r["status"] == "cancelled" and r["hand_backs"] == 1, r
    assert events(db, job_id) == [("job.cancelled", "info")]


def test_a_requeue_that_raises_max_attempts_is_not_a_hand_back(db):
    job_id = db.scalar("INSERT INTO job_queue (payload, target_agent) VALUES ('{}', 'ha') RETURNING id")
    claim(db)
    # an operator sends the running job back by hand and grants it another attempt
    db.execute("UPDATE job_queue SET status = 'pending', max_attempts = max_attempts + 1, locked_by = NULL,"
               " locked_until = NULL WHERE id = %s", (job_id,))
    assert job(db, job_id)["hand_backs"] == 0
    assert events(db, job_id) == [("job.retry", "warning")]
