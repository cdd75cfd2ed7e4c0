-- 008_claim_plans: the transition functions of 002, reshaped so their plans stay index
-- lookups however large job_queue grows.
--
-- SQL function bodies are planned generically: LIMIT max_jobs is estimated at 10% of the
-- pending rows and jsonb_to_recordset/unnest at 100 rows, so the planner joined job_queue to
-- the claimed or reported ids with a hash join over a sequential scan of the whole table —
-- every claim and every outcome batch read every row (1k jobs/s on a 30k-job queue). Here
-- each function finds its rows by primary key (id = ANY(ARRAY(…)): an index scan whatever
-- the estimate), and the per-item answers are built from the UPDATE's RETURNING plus a
-- hashed NOT IN for the items it did not apply, instead of a nested loop over the input.
-- The lease index covers rows with a lease (locked_until is set exactly while a job runs)
-- rather than status = 'running': as a partial index on status it looked like the cheapest
-- way to find "running jobs with these ids" whenever statistics said few jobs run, and every
-- report scanned all running jobs. The sweeper's expired-lease search still uses it.
--
-- Behaviour is unchanged.

DROP INDEX job_queue_lease_idx;
CREATE INDEX job_queue_lease_idx ON job_queue (locked_until) WHERE locked_until IS NOT NULL;

CREATE OR REPLACE FUNCTION fs_jobs_claim(agent text, max_jobs int, worker text, lease_s int)
RETURNS TABLE (id bigint, attempt int, lease int, payload jsonb)
LANGUAGE sql AS $$
    WITH picked AS MATERIALIZED (
        SELECT q.id FROM job_queue q
        WHERE q.status = 'pending' AND q.target_agent = agent AND q.run_at <= now()
        ORDER BY q.priority DESC, q.run_at, q.id
        LIMIT max_jobs
        FOR UPDATE SKIP LOCKED)
    UPDATE job_queue j SET status = 'running', attempts = j.attempts + 1, locked_by = worker,
        started_at = now(), processed_at = NULL,
        locked_until = now() + make_interval(secs => coalesce(j.timeout_seconds, lease_s))
    WHERE j.id = ANY (ARRAY(SELECT p.id FROM picked p))
    RETURNING j.id, j.attempts, coalesce(j.timeout_seconds, lease_s), j.payload
$$;

-- The outcome functions also pass each item's index i and reported attempt through, so
-- callers order and explain the answers without parsing the items a second time.
DROP FUNCTION fs_jobs_complete(jsonb, bool);
CREATE FUNCTION fs_jobs_complete(items jsonb, with_job bool)
RETURNS TABLE (i int, id bigint, outcome text, status text, job json, attempts int, reported int)
LANGUAGE sql AS $$
    WITH input AS MATERIALIZED (
        SELECT * FROM jsonb_to_recordset(items) AS t(i int, id bigint, attempt int, result jsonb)),
    upd AS (
        UPDATE job_queue j SET status = 'completed', result = x.result, processed_at = now(),
            locked_by = NULL, locked_until = NULL, last_error = NULL
        FROM input x
        WHERE j.id = ANY (ARRAY(SELECT y.id FROM input y))
          AND j.id = x.id AND j.attempts = x.attempt AND j.status = 'running'
        RETURNING x.i, j.id, j.status, j.attempts, x.attempt AS reported,
                  CASE WHEN with_job THEN fs_job_json(j) END AS job)
    SELECT u.i, u.id, 'ok', u.status, u.job, u.attempts, u.reported FROM upd u
    UNION ALL
    SELECT x.i, x.id, CASE WHEN e.id IS NULL THEN 'not_found' ELSE 'conflict' END, e.status, NULL,
           e.attempts, x.attempt
    FROM input x LEFT JOIN job_queue e ON e.id = x.id
    WHERE x.id NOT IN (SELECT u.id FROM upd u)
$$;

DROP FUNCTION fs_jobs_fail(jsonb, bool, int, int);
CREATE FUNCTION fs_jobs_fail(items jsonb, with_job bool, base_ms int, cap_ms int)
RETURNS TABLE (i int, id bigint, outcome text, status text, job json, attempts int, reported int)
LANGUAGE sql AS $$
    WITH input AS MATERIALIZED (
        SELECT * FROM jsonb_to_recordset(items)
            AS t(i int, id bigint, attempt int, error text, retryable bool, result jsonb)),
    decided AS (
        SELECT x.i, j.id, x.attempt, x.error, x.result,
               CASE WHEN j.cancel_requested THEN 'cancelled'
                    WHEN coalesce(x.retryable, true) AND j.attempts < j.max_attempts THEN 'pending'
                    ELSE 'failed' END AS next
        FROM input x JOIN job_queue j ON j.id = x.id AND j.attempts = x.attempt
        WHERE j.id = ANY (ARRAY(SELECT y.id FROM input y)) AND j.status = 'running'
        FOR UPDATE OF j),
    upd AS (
        UPDATE job_queue j SET status = d.next, last_error = d.error,
            result = coalesce(d.result, j.result),
            run_at = CASE WHEN d.next = 'pending'
                          THEN now() + fs_retry_delay(j.attempts, base_ms, cap_ms) ELSE j.run_at END,
            processed_at = CASE WHEN d.next = 'pending' THEN NULL ELSE now() END,
            locked_by = NULL, locked_until = NULL
        FROM decided d
        WHERE j.id = ANY (ARRAY(SELECT y.id FROM decided y)) AND j.id = d.id
        RETURNING d.i, j.id, j.status, j.attempts, d.attempt AS reported,
                  CASE WHEN with_job THEN fs_job_json(j) END AS job)
    SELECT u.i, u.id, 'ok', u.status, u.job, u.attempts, u.reported FROM upd u
    UNION ALL
    SELECT x.i, x.id, CASE WHEN e.id IS NULL THEN 'not_found' ELSE 'conflict' END, e.status, NULL,
           e.attempts, x.attempt
    FROM input x LEFT JOIN job_queue e ON e.id = x.id
    WHERE x.id NOT IN (SELECT u.id FROM upd u)
$$;

CREATE OR REPLACE FUNCTION fs_jobs_renew(job_ids bigint[], job_attempts int[], worker text, lease_s int)
RETURNS TABLE (id bigint, state text)
LANGUAGE sql AS $$
    WITH input AS MATERIALIZED (SELECT * FROM unnest(job_ids, job_attempts) AS t(id, attempt)),
    upd AS (
        UPDATE job_queue j SET
            status = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE j.status END,
            processed_at = CASE WHEN j.cancel_requested THEN now() END,
            last_error = CASE WHEN j.cancel_requested THEN 'cancelled while running'
                              ELSE j.last_error END,
            locked_by = CASE WHEN j.cancel_requested THEN NULL ELSE j.locked_by END,
            locked_until = CASE WHEN j.cancel_requested THEN NULL
                  ELSE now() + make_interval(secs => coalesce(j.timeout_seconds, lease_s)) END
        FROM input i
        WHERE j.id = ANY (job_ids)
          AND j.id = i.id AND j.attempts = i.attempt AND j.status = 'running'
          AND j.locked_by = worker
        RETURNING j.id, j.status)
    SELECT u.id, CASE WHEN u.status = 'cancelled' THEN 'cancelled' ELSE 'ok' END FROM upd u
    UNION ALL
    SELECT i.id, 'lost' FROM input i WHERE i.id NOT IN (SELECT u.id FROM upd u)
$$;

CREATE OR REPLACE FUNCTION fs_jobs_hand_back(job_ids bigint[], job_attempts int[], worker text, reason text)
RETURNS int LANGUAGE sql AS $$
    WITH upd AS (
        UPDATE job_queue j SET
            status = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'pending' END,
            processed_at = CASE WHEN j.cancel_requested THEN now() END,
            max_attempts = j.max_attempts + 1, run_at = now(), last_error = reason,
            locked_by = NULL, locked_until = NULL
        FROM unnest(job_ids, job_attempts) AS i(id, attempt)
        WHERE j.id = ANY (job_ids)
          AND j.id = i.id AND j.attempts = i.attempt AND j.status = 'running'
          AND j.locked_by = worker
        RETURNING 1)
    SELECT count(*)::int FROM upd
$$;
