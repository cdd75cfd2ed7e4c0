-- 011_cheaper_announce: the job_queue triggers build their NOTIFY payload as json text.
--
-- Every statement that changes job statuses announces {"<status>":[ids…]} on fs_jobs (002).
-- The triggers built it with jsonb_agg and jsonb_object_agg, which make a jsonb value id by
-- id only for it to be printed as text at once; array_agg and json_object_agg make the same
-- document directly (json's own spacing, e.g. { "running" : [1,2] }; listeners parse it).
-- The sending is one function, fs_notify_changes, which fs_announce (the sweeper's) now uses
-- too; agents are woken in one statement instead of a loop. What is announced is unchanged.

CREATE FUNCTION fs_notify_changes(payload text, wake text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF payload IS NOT NULL THEN
        PERFORM pg_notify('fs_jobs', CASE WHEN octet_length(payload) > 7900
                                          THEN '{"truncated":true}' ELSE payload END);
    END IF;
    IF wake IS NOT NULL THEN
        PERFORM pg_notify(fs_wake_channel(a), '') FROM unnest(wake) a;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION fs_announce(changed jsonb, wake text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_notify_changes(CASE WHEN changed <> '{}'::jsonb THEN changed::text END, wake);
END
$$;

CREATE OR REPLACE FUNCTION fs_jobs_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_notify_changes(
        (SELECT json_object_agg(status, ids)::text FROM
            (SELECT status, array_to_json(array_agg(id ORDER BY id)) AS ids
             FROM new_rows GROUP BY status) s),
        (SELECT array_agg(DISTINCT target_agent) FROM new_rows
         WHERE status = 'pending' AND run_at <= now()));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION fs_jobs_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wake text[];
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE status IN ('pending', 'failed', 'cancelled')) THEN
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
        SELECT array_agg(DISTINCT n.target_agent) INTO wake
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.status = 'pending' AND o.status IS DISTINCT FROM 'pending'
          AND n.run_at <= now();
    END IF;
    PERFORM fs_notify_changes(
        (SELECT json_object_agg(status, ids)::text FROM
            (SELECT n.status, array_to_json(array_agg(n.id ORDER BY n.id)) AS ids
             FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE n.status IS DISTINCT FROM o.status GROUP BY n.status) s),
        wake);
    RETURN NULL;
END
$$;
