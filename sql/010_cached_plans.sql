-- 010_cached_plans: the hot transition functions (claim, complete, fail) keep their plans.
--
-- A LANGUAGE sql function that cannot be inlined (these update rows) parses and plans its
-- body on every call: about 1 ms per call, a fifth of the database's CPU in a drain of no-op
-- jobs. A PL/pgSQL body's statements are prepared once per session and reused. Their plans
-- are generic by design (see 008: rows are found by primary key or through the claim index),
-- so the functions ask for the generic plan outright instead of re-planning the first five
-- calls of each session to find out.
--
-- A plan kept for the whole session must not depend on how big job_queue was when it was
-- made: planned while the table was nearly empty, "id = ANY (…)" became a sequential scan,
-- which every later call of that session would repeat over a queue of any size. So every
-- read of job_queue here has an index condition (the not-found/conflict tail now looks up
-- only the ids that were not applied), and the functions plan with enable_seqscan off.
--
-- Arguments, answers and behaviour are those of 008 unchanged; column names in the bodies win
-- over the OUT parameters of the same name (#variable_conflict use_column).

CREATE OR REPLACE FUNCTION fs_jobs_claim(agent text, max_jobs int, worker text, lease_s int)
RETURNS TABLE (id bigint, attempt int, lease int, payload jsonb)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
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
    RETURNING j.id, j.attempts, coalesce(j.timeout_seconds, lease_s), j.payload;
END
$$;
CREATE OR REPLACE FUNCTION fs_jobs_complete(items jsonb, with_job bool)
RETURNS TABLE (i int, id bigint, outcome text, status text, job json, attempts int, reported int)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
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
    SELECT u.i, u.id, 'ok'::text, u.status, u.job, u.attempts, u.reported FROM upd u
    UNION ALL
    SELECT x.i, x.id, CASE WHEN e.id IS NULL THEN 'not_found' ELSE 'conflict' END, e.status, NULL,
           e.attempts, x.attempt
    FROM input x LEFT JOIN job_queue e
        ON e.id = x.id
       AND e.id = ANY (ARRAY(SELECT y.id FROM input y WHERE y.id NOT IN (SELECT u.id FROM upd u)))
    WHERE x.id NOT IN (SELECT u.id FROM upd u);
END
$$;
CREATE OR REPLACE FUNCTION fs_jobs_fail(items jsonb, with_job bool, base_ms int, cap_ms int)
RETURNS TABLE (i int, id bigint, outcome text, status text, job json, attempts int, reported int)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
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
    SELECT u.i, u.id, 'ok'::text, u.status, u.job, u.attempts, u.reported FROM upd u
    UNION ALL
    SELECT x.i, x.id, CASE WHEN e.id IS NULL THEN 'not_found' ELSE 'conflict' END, e.status, NULL,
           e.attempts, x.attempt
    FROM input x LEFT JOIN job_queue e
        ON e.id = x.id
       AND e.id = ANY (ARRAY(SELECT y.id FROM input y WHERE y.id NOT IN (SELECT u.id FROM upd u)))
    WHERE x.id NOT IN (SELECT u.id FROM upd u);
END
$$;
