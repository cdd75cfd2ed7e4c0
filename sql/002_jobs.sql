-- 002_jobs: the job lifecycle after creation — the job's API JSON, the wake-up channels,
-- claims with leases, outcomes with fencing, retries with backoff, lease renewal and
-- cancellation, hand-backs, the release of a dead worker's jobs, and the sweeper. The
-- triggers that announce status changes and write events are in 004_notify.
--
-- Fencing: a worker reports with the attempt number it claimed; an outcome applies only
-- while the job is still 'running' at that attempt. attempts only ever grows, so a late
-- report from a lost lease can never match a newer attempt.
--
-- Plans: the hot functions (claim, complete, fail) are PL/pgSQL, so their statements are
-- prepared once per session and reused (a LANGUAGE sql function that updates rows cannot be
-- inlined, and parses and plans its body on every call). They ask for the generic plan
-- outright (plan_cache_mode) and plan with enable_seqscan off: a plan kept for the whole
-- session must not depend on how big job_queue was when it was made (planned while the table
-- was nearly empty, "id = ANY (…)" would become a sequential scan that every later call of
-- the session repeats). So every read of job_queue in them has an index condition: rows are
-- found by primary key (id = ANY (ARRAY(…)), an index scan whatever the row estimate) or
-- through job_queue_claim_idx, and the answers for items that were not applied are built
-- from a hashed NOT IN over the UPDATE's RETURNING rather than a join over the input.

-- A job as the API shows it: row_to_json of a ROW cast to a composite type whose field names
-- are the JSON keys (camelCase, in this order). The body is one expression, so the planner
-- inlines it into each calling statement; a body with a FROM would start a function executor
-- per statement that parses and plans it again. A column meant for the JSON needs the type
-- and the function changed together (and gateway/jobs/jobjson.c, which prints the same JSON
-- from a row's columns for the plain group-commit insert).
CREATE TYPE fs_job_doc AS (
    id bigint, "targetAgent" text, payload jsonb, status text, priority smallint,
    attempts integer, "maxAttempts" integer, "timeoutSeconds" integer, "runAt" timestamptz,
    "createdAt" timestamptz, "startedAt" timestamptz, "processedAt" timestamptz,
    "lockedBy" text, "lockedUntil" timestamptz, "idempotencyKey" text, result jsonb,
    "lastError" text, "cancelRequested" boolean);

CREATE FUNCTION fs_job_json(j job_queue) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(ROW(j.id, j.target_agent, j.payload, j.status, j.priority, j.attempts,
        j.max_attempts, j.timeout_seconds, j.run_at, j.created_at, j.started_at,
        j.processed_at, j.locked_by, j.locked_until, j.idempotency_key, j.result,
        j.last_error, j.cancel_requested)::fs_job_doc)
$$;

-- The LISTEN channel that wakes an agent's workers. Channel names are at most 63 bytes;
-- longer agent names use a digest. Not STRICT (the CASE already gives NULL for a NULL
-- agent): a STRICT function around a non-strict body is not inlined, and the insert trigger
-- would parse this body on every statement.
CREATE FUNCTION fs_wake_channel(agent text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN octet_length(agent) <= 55 THEN 'fs_wake_' || agent
                ELSE 'fs_wake_' || md5(agent) END
$$;

-- Workers call this once per connection: LISTEN on their agent's channel.
CREATE FUNCTION fs_listen(agent text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('LISTEN %I', fs_wake_channel(agent));
END
$$;

-- Exponential backoff with "equal jitter": half the capped delay fixed, half random.
CREATE FUNCTION fs_retry_delay(attempt int, base_ms int, cap_ms int) RETURNS interval
LANGUAGE sql VOLATILE AS $$
    SELECT make_interval(secs => d * (0.5 + random() / 2) / 1000.0)
    FROM (SELECT least(cap_ms::float8, base_ms::float8 * power(2, greatest(attempt, 1) - 1)) AS d) x
$$;

-- Claim up to max_jobs runnable jobs of one agent for worker (host:pid), in priority, run_at,
-- id order, skipping rows another claim holds. The lease is the job's timeout_seconds, or
-- lease_s. Column names in the body win over the OUT parameters of the same name
-- (#variable_conflict use_column).
CREATE FUNCTION fs_jobs_claim(agent text, max_jobs int, worker text, lease_s int)
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

-- Outcomes. Each report is an item: a job id, the attempt it ran, a result (a JSON null or
-- a missing one means "no result") and, for a failure, an error and whether it may be
-- retried. Items come as columns: parallel arrays of ids and attempts and one jsonb array
-- each of results and errors, zipped back together by position (ROWS FROM … WITH
-- ORDINALITY; i is the position, from 0), which spares PostgreSQL parsing a document of
-- items key by key. Item ids must be distinct within one call (the gateway checks): two
-- reports for one job in the same statement would both see the job running.
--
-- Each answer row: i, id, outcome — 'ok' (applied), 'conflict' (the job exists but is not
-- running at that attempt: fenced) or 'not_found' — status and attempts of the job after the
-- statement (for a conflict: what it is instead, for the caller's message), the job's JSON
-- when with_job asks for it, and the attempt reported.

-- Complete. A job with a cancel request still completes: the work was done. Answers only
-- the items that were not applied, plus the applied ones when with_job asks for their JSON:
-- for the others the caller already knows the answer (ok, completed, the attempt it
-- reported).
CREATE FUNCTION fs_jobs_complete(ids bigint[], attempts_in int[], results jsonb, with_job bool)
RETURNS TABLE (i int, id bigint, outcome text, status text, job json, attempts int, reported int)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH input AS MATERIALIZED (
        SELECT (t.n - 1)::int AS i, t.id, t.attempt, nullif(t.result, 'null') AS result
        FROM ROWS FROM (unnest(ids), unnest(attempts_in), jsonb_array_elements(results))
             WITH ORDINALITY AS t(id, attempt, result, n)),
    upd AS (
        UPDATE job_queue j SET status = 'completed', result = x.result, processed_at = now(),
            locked_by = NULL, locked_until = NULL, last_error = NULL
        FROM input x
        WHERE j.id = ANY (ids)
          AND j.id = x.id AND j.attempts = x.attempt AND j.status = 'running'
        RETURNING x.i, j.id, j.status, j.attempts, x.attempt AS reported,
                  CASE WHEN with_job THEN fs_job_json(j) END AS job)
    SELECT u.i, u.id, 'ok'::text, u.status, u.job, u.attempts, u.reported FROM upd u
    WHERE with_job
    UNION ALL
    SELECT x.i, x.id, CASE WHEN e.id IS NULL THEN 'not_found' ELSE 'conflict' END, e.status,
           NULL::json, e.attempts, x.attempt
    FROM input x LEFT JOIN job_queue e
        ON e.id = x.id
       AND e.id = ANY (ARRAY(SELECT y.id FROM input y WHERE y.id NOT IN (SELECT u.id FROM upd u)))
    WHERE x.id NOT IN (SELECT u.id FROM upd u);
END
$$;

-- Fail. Attempts left and retryable (the default) → back to pending after a backoff;
-- otherwise 'failed' (the dead letter). A job with a cancel request becomes 'cancelled'
-- instead of retrying. Answers every item: the status applied depends on the job.
CREATE FUNCTION fs_jobs_fail(ids bigint[], attempts_in int[], results jsonb, errors jsonb,
                             retryable bool[], with_job bool, base_ms int, cap_ms int)
RETURNS TABLE (i int, id bigint, outcome text, status text, job json, attempts int, reported int)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH input AS MATERIALIZED (
        SELECT (t.n - 1)::int AS i, t.id, t.attempt, nullif(t.result, 'null') AS result,
               t.error, t.retryable
        FROM ROWS FROM (unnest(ids), unnest(attempts_in), jsonb_array_elements(results),
                        jsonb_array_elements_text(errors), unnest(retryable))
             WITH ORDINALITY AS t(id, attempt, result, error, retryable, n)),
    decided AS (
        SELECT x.i, j.id, x.attempt, x.error, x.result,
               CASE WHEN j.cancel_requested THEN 'cancelled'
                    WHEN coalesce(x.retryable, true) AND j.attempts < j.max_attempts THEN 'pending'
                    ELSE 'failed' END AS next
        FROM input x JOIN job_queue j ON j.id = x.id AND j.attempts = x.attempt
        WHERE j.id = ANY (ids) AND j.status = 'running'
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
    SELECT x.i, x.id, CASE WHEN e.id IS NULL THEN 'not_found' ELSE 'conflict' END, e.status,
           NULL::json, e.attempts, x.attempt
    FROM input x LEFT JOIN job_queue e
        ON e.id = x.id
       AND e.id = ANY (ARRAY(SELECT y.id FROM input y WHERE y.id NOT IN (SELECT u.id FROM upd u)))
    WHERE x.id NOT IN (SELECT u.id FROM upd u);
END
$$;

-- Renew the leases of a worker's running jobs (parallel arrays of ids and attempts).
-- Returns each job's state: 'ok' (lease extended), 'cancelled' (a cancel was requested: the
-- job is now cancelled and the worker must stop it) or 'lost' (no longer ours).
CREATE FUNCTION fs_jobs_renew(job_ids bigint[], job_attempts int[], worker text, lease_s int)
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

-- A worker shutting down hands back jobs it will not finish: they go back to pending at
-- once (or to cancelled, when a cancel was requested). The hand-back is recorded in
-- handed_back_at, whose change the update trigger reads to write a job.handed_back event, and
-- it does not use up an attempt: max_attempts grows by one, since attempts (the fencing
-- token) must not go back.
CREATE FUNCTION fs_jobs_hand_back(job_ids bigint[], job_attempts int[], worker text, reason text)
RETURNS int LANGUAGE sql AS $$
    WITH upd AS (
        UPDATE job_queue j SET
            status = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'pending' END,
            processed_at = CASE WHEN j.cancel_requested THEN now() END,
            max_attempts = j.max_attempts + 1, handed_back_at = now(),
            run_at = now(), last_error = reason,
            locked_by = NULL, locked_until = NULL
        FROM unnest(job_ids, job_attempts) AS i(id, attempt)
        WHERE j.id = ANY (job_ids)
          AND j.id = i.id AND j.attempts = i.attempt AND j.status = 'running'
          AND j.locked_by = worker
        RETURNING 1)
    SELECT count(*)::int FROM upd
$$;

-- Jobs whose worker is gone (its process died, or its lease ran out): each counts as a
-- failed attempt and is runnable again at once; out of attempts → 'failed'; a cancel
-- request → 'cancelled'. fs_jobs_requeue_lost is the next status; fs_jobs_release_worker is
-- the pool's release of a dead worker's jobs (by worker id), fs_sweep the sweeper's release
-- of expired leases.
CREATE FUNCTION fs_jobs_requeue_lost(j job_queue) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN j.cancel_requested THEN 'cancelled'
                WHEN j.attempts < j.max_attempts THEN 'pending'
                ELSE 'failed' END
$$;

CREATE FUNCTION fs_jobs_release_worker(worker text, reason text) RETURNS int
LANGUAGE sql AS $$
    WITH upd AS (
        UPDATE job_queue j SET status = fs_jobs_requeue_lost(j), last_error = reason,
            run_at = CASE WHEN fs_jobs_requeue_lost(j) = 'pending' THEN now() ELSE j.run_at END,
            processed_at = CASE WHEN fs_jobs_requeue_lost(j) = 'pending' THEN NULL ELSE now() END,
            locked_by = NULL, locked_until = NULL
        WHERE j.status = 'running' AND j.locked_by = worker
        RETURNING 1)
    SELECT count(*)::int FROM upd
$$;

-- One sweep, run by any gateway; concurrent sweeps skip (advisory lock). Expired leases are
-- released as lost; with prune, finished jobs and events older than retention_s are deleted
-- (at most prune_max of each per sweep); agents whose delayed or backed-off jobs came due
-- within the last due_window_ms are woken. Returns counts as JSON, or NULL when another
-- sweep held the lock.
CREATE FUNCTION fs_sweep(retention_s int, prune bool, prune_max int, due_window_ms int)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    expired int := 0;
    pruned int := 0;
    woken text[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('flowstate.sweeper')) THEN
        RETURN NULL;
    END IF;
    WITH upd AS (
        UPDATE job_queue j SET status = fs_jobs_requeue_lost(j),
            last_error = format('lease expired at %s: worker %s stopped renewing it',
                                to_char(j.locked_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                j.locked_by),
            run_at = CASE WHEN fs_jobs_requeue_lost(j) = 'pending' THEN now() ELSE j.run_at END,
            processed_at = CASE WHEN fs_jobs_requeue_lost(j) = 'pending' THEN NULL ELSE now() END,
            locked_by = NULL, locked_until = NULL
        WHERE j.status = 'running' AND j.locked_until < now()
        RETURNING 1)
    SELECT count(*) INTO expired FROM upd;
    IF prune THEN
        WITH del AS (
            DELETE FROM job_queue WHERE id IN (
                SELECT q.id FROM job_queue q
                WHERE q.status IN ('completed', 'failed', 'cancelled')
                  AND q.processed_at < now() - make_interval(secs => retention_s)
                ORDER BY q.processed_at LIMIT prune_max)
            RETURNING 1)
        SELECT count(*) INTO pruned FROM del;
        DELETE FROM events WHERE id IN (
            SELECT e.id FROM events e
            WHERE e.created_at < now() - make_interval(secs => retention_s)
            ORDER BY e.created_at LIMIT prune_max);
    END IF;
    SELECT array_agg(DISTINCT q.target_agent) INTO woken FROM job_queue q
    WHERE q.status = 'pending' AND q.run_at > q.created_at
      AND q.run_at <= now() AND q.run_at > now() - make_interval(secs => due_window_ms / 1000.0);
    PERFORM fs_announce(NULL, woken);
    RETURN json_build_object('expired', expired, 'pruned', pruned,
                             'woken', coalesce(array_length(woken, 1), 0));
END
$$;
