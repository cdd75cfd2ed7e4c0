-- 002_lifecycle: the job lifecycle after creation — claims, leases, outcomes with fencing,
-- retries with backoff, cancellation, hand-backs, crash release and the sweeper — plus the
-- triggers that announce every status change (one NOTIFY per statement) and write the
-- events an operator reads later (failures, retries, dead letters, cancellations).
--
-- Fencing: a worker reports with the attempt number it claimed; an outcome applies only
-- while the job is still 'running' at that attempt. attempts only ever grows, so a late
-- report from a lost lease can never match a newer attempt.

ALTER TABLE job_queue ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT false;

-- The sweeper's reads: expired leases (running jobs only) and pruning (finished jobs).
CREATE INDEX job_queue_lease_idx ON job_queue (locked_until) WHERE status = 'running';
CREATE INDEX job_queue_finished_idx ON job_queue (processed_at)
    WHERE status IN ('completed', 'failed', 'cancelled');
-- Pending jobs that were delayed or are waiting out a retry backoff: the sweeper wakes their
-- agents when they come due. Jobs runnable at insert time are not in this index.
CREATE INDEX job_queue_due_idx ON job_queue (run_at)
    WHERE status = 'pending' AND run_at > created_at;

CREATE OR REPLACE FUNCTION fs_job_json(j job_queue) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(x) FROM (SELECT
        j.id, j.target_agent AS "targetAgent", j.payload, j.status, j.priority, j.attempts,
        j.max_attempts AS "maxAttempts", j.timeout_seconds AS "timeoutSeconds",
        j.run_at AS "runAt", j.created_at AS "createdAt", j.started_at AS "startedAt",
        j.processed_at AS "processedAt", j.locked_by AS "lockedBy",
        j.locked_until AS "lockedUntil", j.idempotency_key AS "idempotencyKey", j.result,
        j.last_error AS "lastError", j.cancel_requested AS "cancelRequested") x
$$;

-- The LISTEN channel that wakes an agent's workers. Channel names are at most 63 bytes;
-- longer agent names use a digest.
CREATE FUNCTION fs_wake_channel(agent text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
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

-- Statement-level triggers: one NOTIFY per statement however many rows it touched.
-- Channel fs_jobs carries {"<status>":[ids…],…} for the rows whose status changed (or
-- {"truncated":true} when that would not fit a NOTIFY payload); each agent with newly
-- runnable jobs gets an empty NOTIFY on its wake channel.
CREATE FUNCTION fs_announce(changed jsonb, wake text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    payload text := changed::text;
    agent text;
BEGIN
    IF changed IS NOT NULL AND changed <> '{}'::jsonb THEN
        IF octet_length(payload) > 7900 THEN
            payload := '{"truncated":true}';
        END IF;
        PERFORM pg_notify('fs_jobs', payload);
    END IF;
    FOREACH agent IN ARRAY coalesce(wake, '{}') LOOP
        PERFORM pg_notify(fs_wake_channel(agent), '');
    END LOOP;
END
$$;

CREATE FUNCTION fs_jobs_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_announce(
        (SELECT jsonb_object_agg(status, ids) FROM
            (SELECT status, jsonb_agg(id ORDER BY id) AS ids FROM new_rows GROUP BY status) s),
        (SELECT array_agg(DISTINCT target_agent) FROM new_rows
         WHERE status = 'pending' AND run_at <= now()));
    RETURN NULL;
END
$$;

CREATE FUNCTION fs_jobs_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (type, severity, job_id, agent_name, data)
    SELECT CASE
             -- a hand-back (worker shutting down) raises max_attempts instead of using one
             WHEN n.status = 'pending' AND o.status = 'running' AND n.max_attempts > o.max_attempts
               THEN 'job.handed_back'
             WHEN n.status = 'pending' AND o.status = 'running' THEN 'job.retry'
             WHEN n.status = 'pending' THEN 'job.requeued'
             WHEN n.status = 'failed' THEN 'job.dead'
             ELSE 'job.cancelled' END,
           CASE
             WHEN n.status = 'pending' AND o.status = 'running' AND n.max_attempts > o.max_attempts
               THEN 'info'
             WHEN n.status = 'pending' AND o.status = 'running' THEN 'warning'
             WHEN n.status = 'failed' THEN 'error'
             ELSE 'info' END,
           n.id, n.target_agent,
           jsonb_strip_nulls(jsonb_build_object(
               'from', o.status, 'attempt', n.attempts, 'maxAttempts', n.max_attempts,
               'error', n.last_error, 'worker', o.locked_by,
               'runAt', CASE WHEN n.status = 'pending' THEN n.run_at END))
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status
      AND (n.status IN ('failed', 'cancelled')
           OR (n.status = 'pending' AND o.status IN ('running', 'failed', 'cancelled')));
    PERFORM fs_announce(
        (SELECT jsonb_object_agg(status, ids) FROM
            (SELECT n.status, jsonb_agg(n.id ORDER BY n.id) AS ids
             FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE n.status IS DISTINCT FROM o.status GROUP BY n.status) s),
        (SELECT array_agg(DISTINCT n.target_agent)
         FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE n.status = 'pending' AND o.status IS DISTINCT FROM 'pending'
           AND n.run_at <= now()));
    RETURN NULL;
END
$$;

CREATE TRIGGER job_queue_announce_insert AFTER INSERT ON job_queue
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fs_jobs_after_insert();
CREATE TRIGGER job_queue_announce_update AFTER UPDATE ON job_queue
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fs_jobs_after_update();

-- Claim up to max_jobs runnable jobs of one agent for worker (host:pid). The lease is the
-- job's timeout_seconds, or lease_s.
CREATE FUNCTION fs_jobs_claim(agent text, max_jobs int, worker text, lease_s int)
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
    FROM picked WHERE j.id = picked.id
    RETURNING j.id, j.attempts, coalesce(j.timeout_seconds, lease_s), j.payload
$$;

-- Outcome of an item in a batch report: 'ok' (applied), 'conflict' (the job exists but is
-- not running at that attempt: fenced), 'not_found'. status and attempts are the job's after
-- the statement (for a conflict: what it is instead, for the caller's message). Item ids must
-- be distinct within one call (the gateway checks): two reports for one job in the same
-- statement would both see the job running.
--
-- Complete: items [{id, attempt, result}]. A job with a cancel request still completes: the
-- work was done.
CREATE FUNCTION fs_jobs_complete(items jsonb, with_job bool)
RETURNS TABLE (id bigint, outcome text, status text, job json, attempts int)
LANGUAGE sql AS $$
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(items) AS t(id bigint, attempt int, result jsonb)),
    upd AS (
        UPDATE job_queue j SET status = 'completed', result = i.result, processed_at = now(),
            locked_by = NULL, locked_until = NULL, last_error = NULL
        FROM input i
        WHERE j.id = i.id AND j.attempts = i.attempt AND j.status = 'running'
        RETURNING j.id, j.status, j.attempts, CASE WHEN with_job THEN fs_job_json(j) END AS job)
    SELECT i.id,
           CASE WHEN u.id IS NOT NULL THEN 'ok'
                WHEN e.id IS NOT NULL THEN 'conflict'
                ELSE 'not_found' END,
           coalesce(u.status, e.status), u.job, coalesce(u.attempts, e.attempts)
    FROM input i LEFT JOIN upd u ON u.id = i.id LEFT JOIN job_queue e ON e.id = i.id
$$;

-- Fail: items [{id, attempt, error, retryable, result}]. Attempts left and retryable → back
-- to pending after a backoff; otherwise 'failed' (the dead letter). A job with a cancel
-- request becomes 'cancelled' instead of retrying.
CREATE FUNCTION fs_jobs_fail(items jsonb, with_job bool, base_ms int, cap_ms int)
RETURNS TABLE (id bigint, outcome text, status text, job json, attempts int)
LANGUAGE sql AS $$
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(items)
            AS t(id bigint, attempt int, error text, retryable bool, result jsonb)),
    decided AS (
        SELECT j.id, i.error, i.result,
               CASE WHEN j.cancel_requested THEN 'cancelled'
                    WHEN coalesce(i.retryable, true) AND j.attempts < j.max_attempts THEN 'pending'
                    ELSE 'failed' END AS next
        FROM input i JOIN job_queue j ON j.id = i.id AND j.attempts = i.attempt
        WHERE j.status = 'running'
        FOR UPDATE OF j),
    upd AS (
        UPDATE job_queue j SET status = d.next, last_error = d.error,
            result = coalesce(d.result, j.result),
            run_at = CASE WHEN d.next = 'pending'
                          THEN now() + fs_retry_delay(j.attempts, base_ms, cap_ms) ELSE j.run_at END,
            processed_at = CASE WHEN d.next = 'pending' THEN NULL ELSE now() END,
            locked_by = NULL, locked_until = NULL
        FROM decided d WHERE j.id = d.id
        RETURNING j.id, j.status, j.attempts, CASE WHEN with_job THEN fs_job_json(j) END AS job)
    SELECT i.id,
           CASE WHEN u.id IS NOT NULL THEN 'ok'
                WHEN e.id IS NOT NULL THEN 'conflict'
                ELSE 'not_found' END,
           coalesce(u.status, e.status), u.job, coalesce(u.attempts, e.attempts)
    FROM input i LEFT JOIN upd u ON u.id = i.id LEFT JOIN job_queue e ON e.id = i.id
$$;

-- Renew the leases of a worker's running jobs (parallel arrays of ids and attempts).
-- Returns each job's state: 'ok' (lease extended), 'cancelled' (a cancel was requested: the
-- job is now cancelled and the worker must stop it) or 'lost' (no longer ours).
CREATE FUNCTION fs_jobs_renew(job_ids bigint[], job_attempts int[], worker text, lease_s int)
RETURNS TABLE (id bigint, state text)
LANGUAGE sql AS $$
    WITH input AS (SELECT * FROM unnest(job_ids, job_attempts) AS t(id, attempt)),
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
        WHERE j.id = i.id AND j.attempts = i.attempt AND j.status = 'running'
          AND j.locked_by = worker
        RETURNING j.id, j.status)
    SELECT i.id, CASE WHEN u.id IS NULL THEN 'lost'
                      WHEN u.status = 'cancelled' THEN 'cancelled' ELSE 'ok' END
    FROM input i LEFT JOIN upd u ON u.id = i.id
$$;

-- A worker shutting down hands back jobs it will not finish: they go back to pending at
-- once, and the hand-back does not use up an attempt (max_attempts grows by one).
CREATE FUNCTION fs_jobs_hand_back(job_ids bigint[], job_attempts int[], worker text, reason text)
RETURNS int LANGUAGE sql AS $$
    WITH upd AS (
        UPDATE job_queue j SET
            status = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'pending' END,
            processed_at = CASE WHEN j.cancel_requested THEN now() END,
            max_attempts = j.max_attempts + 1, run_at = now(), last_error = reason,
            locked_by = NULL, locked_until = NULL
        FROM unnest(job_ids, job_attempts) AS i(id, attempt)
        WHERE j.id = i.id AND j.attempts = i.attempt AND j.status = 'running'
          AND j.locked_by = worker
        RETURNING 1)
    SELECT count(*)::int FROM upd
$$;

-- Jobs whose worker is gone (its process died, or its lease ran out): each counts as a
-- failed attempt and is runnable again at once; out of attempts → 'failed'; a cancel
-- request → 'cancelled'. Used by the supervisor (by worker id) and the sweeper (expired).
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
-- (at most prune_max of each per sweep); agents whose delayed or backed-off jobs came due within the last
-- due_window_ms are woken. Returns counts as JSON, or NULL when another sweep held the lock.
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
