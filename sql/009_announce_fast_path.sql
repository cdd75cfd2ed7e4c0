-- 009_announce_fast_path: the job_queue update trigger (002) does less on the hot paths.
--
-- Claims (pending → running) and completions (running → completed) write no events and wake
-- no agent, yet every such statement joined old and new rows three times: for the events,
-- for the status lists and for the agents to wake. Now one cheap look at the new rows decides
-- whether events or wake-ups are possible at all (only rows that are now pending, failed or
-- cancelled can cause them), and the status lists come from one join. What is announced and
-- recorded is unchanged.

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
    PERFORM fs_announce(
        (SELECT jsonb_object_agg(status, ids) FROM
            (SELECT n.status, jsonb_agg(n.id ORDER BY n.id) AS ids
             FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE n.status IS DISTINCT FROM o.status GROUP BY n.status) s),
        wake);
    RETURN NULL;
END
$$;
