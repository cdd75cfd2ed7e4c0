-- 005_api: the rest of what the API reads from SQL — agents, API keys and inter-agent
-- messages as the routes show them, the agent summaries of GET /agents and of the system
-- health check, and the job statistics of GET /api/stats/jobs. (Jobs are in 002_jobs,
-- documents in 003_memory.)

-- An agent and an API key as the /api routes show them (see fs_job_json in 002_jobs for why
-- each body is one expression over a composite type named for the JSON keys).
CREATE TYPE fs_agent_doc AS (
    id integer, "agentName" text, state jsonb, "createdAt" timestamptz, "updatedAt" timestamptz);

CREATE FUNCTION fs_agent_json(a agent_states) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(ROW(a.id, a.agent_name, a.state, a.created_at, a.updated_at)::fs_agent_doc)
$$;

CREATE TYPE fs_key_doc AS (
    id integer, role text, name text, prefix text, "createdAt" timestamptz,
    "revokedAt" timestamptz);

CREATE FUNCTION fs_key_json(k api_keys) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(ROW(k.id, k.role, k.name, k.key_prefix, k.created_at,
                           k.revoked_at)::fs_key_doc)
$$;

-- A message's status: sent (queued), delivering (the target is running it), delivered,
-- responded, failed; 'unknown' once the delivery job has been pruned by retention.
CREATE FUNCTION fs_message_status(m agent_messages) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM agent_messages r WHERE r.reply_to = m.id) THEN 'responded'
        ELSE coalesce((SELECT CASE j.status WHEN 'pending' THEN 'sent'
                                            WHEN 'running' THEN 'delivering'
                                            WHEN 'completed' THEN 'delivered'
                                            ELSE 'failed' END
                       FROM job_queue j WHERE j.id = m.job_id), 'unknown')
    END
$$;

-- A message as the worker routes show it: they speak snake_case, as in the seed.
CREATE TYPE fs_message_doc AS (
    message_id bigint, from_agent text, to_agent text, message text, message_type text,
    requires_response boolean, reply_to bigint, job_id bigint, status text,
    created_at timestamptz);

CREATE FUNCTION fs_message_json(m agent_messages, status text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT row_to_json(ROW(m.id, m.from_agent, m.to_agent, m.message, m.message_type,
        m.requires_response, m.reply_to, m.job_id, status, m.created_at)::fs_message_doc)
$$;

-- A timestamp an agent wrote into its own state, or NULL when it is not one.
CREATE FUNCTION fs_try_timestamptz(t text) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN t::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- An agent as the worker routes show it: status and capabilities from its state, its
-- heartbeat's age, and its queue.
CREATE FUNCTION fs_agent_summary(a agent_states) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(x) FROM (SELECT
        a.agent_name,
        coalesce(a.state->>'status', 'unknown') AS status,
        coalesce(a.state->'capabilities', '[]'::jsonb) AS capabilities,
        a.state->>'lastHeartbeat' AS last_heartbeat,
        round(extract(epoch FROM now() - fs_try_timestamptz(a.state->>'lastHeartbeat')))::bigint
            AS heartbeat_age_seconds,
        (SELECT row_to_json(c) FROM (
             SELECT count(*) FILTER (WHERE j.status = 'pending') AS pending,
                    count(*) FILTER (WHERE j.status = 'running') AS running
             FROM job_queue j
             WHERE j.target_agent = a.agent_name AND j.status IN ('pending', 'running')) c) AS jobs,
        a.updated_at) x
$$;

-- POST /system/health-check: healthy unless leases expired unnoticed, agents that are not
-- offline stopped heartbeating for stale_s seconds, or jobs died in the last hour. Only an
-- agent that has heartbeated can stop: a registration without a lastHeartbeat (by hand, or
-- a worker that has not sent its first beat yet) says nothing about a worker being alive,
-- and counting it would keep the system degraded for as long as the row exists.
CREATE FUNCTION fs_system_health(stale_s int) RETURNS json LANGUAGE sql STABLE AS $$
    WITH q AS (
        SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
               count(*) FILTER (WHERE status = 'running') AS running,
               count(*) FILTER (WHERE status = 'running' AND locked_until < now()) AS expired,
               count(*) FILTER (WHERE status = 'failed' AND processed_at > now() - interval '1 hour')
                   AS dead_last_hour
        FROM job_queue
        WHERE status IN ('pending', 'running')
           OR (status = 'failed' AND processed_at > now() - interval '1 hour')),
    stale AS (
        SELECT coalesce(array_to_json(array_agg(a.agent_name ORDER BY a.agent_name)), '[]') AS names,
               count(*) AS n
        FROM agent_states a
        WHERE coalesce(a.state->>'status', '') <> 'offline'
          AND fs_try_timestamptz(a.state->>'lastHeartbeat') < now() - make_interval(secs => stale_s))
    -- printed by row_to_json and array_to_json, which write no blanks, like every answer
    SELECT row_to_json(r) FROM (SELECT
        CASE WHEN q.expired > 0 OR stale.n > 0 OR q.dead_last_hour > 0 THEN 'degraded'
             ELSE 'healthy' END AS status,
        'up' AS database,
        now() AS checked_at,
        (SELECT row_to_json(c) FROM (SELECT q.pending, q.running, q.expired AS expired_leases,
                                            q.dead_last_hour) c) AS queue,
        stale.names AS stale_agents,
        (SELECT coalesce(array_to_json(array_agg(fs_agent_summary(a) ORDER BY a.agent_name)), '[]')
         FROM agent_states a) AS agents
    FROM q, stale) r
$$;

-- Job statistics for GET /api/stats/jobs (the monitoring and learning agents read them). One
-- statement over the jobs created or finished within a window: counts by status, failure
-- rate, retries, throughput, queue-wait and run-time percentiles of the completed jobs, and
-- the most common errors of the failed ones (digits normalised to N so "job 17 timed out"
-- and "job 42 timed out" count together). Queue wait starts when the job became runnable,
-- greatest(created_at, run_at): a job delayed by runAt (or a retry's backoff) was not waiting
-- for a worker before then. Rows are grouped three ways at once (GROUPING
-- SETS): per agent and taskType, per agent, and overall.
CREATE FUNCTION fs_job_stats(window_s int, agent_filter text) RETURNS json LANGUAGE sql STABLE AS $$
    WITH j AS (
        SELECT q.target_agent AS ag, coalesce(q.payload->>'taskType', '') AS task, q.status, q.attempts,
               CASE WHEN q.status = 'completed' AND q.started_at IS NOT NULL
                    THEN extract(epoch FROM q.started_at - greatest(q.created_at, q.run_at)) * 1000 END AS wait_ms,
               CASE WHEN q.status = 'completed' AND q.started_at IS NOT NULL AND q.processed_at IS NOT NULL
                    THEN extract(epoch FROM q.processed_at - q.started_at) * 1000 END AS run_ms,
               CASE WHEN q.status = 'failed' AND q.last_error IS NOT NULL
                    THEN left(regexp_replace(q.last_error, '[0-9]+', 'N', 'g'), 300) END AS err
        FROM job_queue q
        WHERE (q.created_at >= now() - make_interval(secs => $1)
               OR q.processed_at >= now() - make_interval(secs => $1))
          AND ($2 IS NULL OR q.target_agent = $2)),
    g AS (
        SELECT ag, task, grouping(ag, task) AS lvl, count(*) AS total,
               count(*) FILTER (WHERE status = 'pending') AS pending,
               count(*) FILTER (WHERE status = 'running') AS running,
               count(*) FILTER (WHERE status = 'completed') AS completed,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
               coalesce(sum(greatest(attempts - 1, 0)), 0) AS retries,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY wait_ms) AS w50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY wait_ms) AS w90,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY wait_ms) AS w99,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY run_ms) AS r50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY run_ms) AS r90,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY run_ms) AS r99
        FROM j GROUP BY GROUPING SETS ((ag, task), (ag), ())),
    e AS (
        SELECT ag, task, lvl, array_to_json(array_agg(row_to_json(t) ORDER BY t.count DESC, t.error)) AS errors
        FROM (SELECT ag, task, grouping(ag, task) AS lvl, err, count(*) AS n,
                     row_number() OVER (PARTITION BY grouping(ag, task), ag, task ORDER BY count(*) DESC, err) AS rn
              FROM j WHERE err IS NOT NULL
              GROUP BY GROUPING SETS ((ag, task, err), (ag, err), (err))) x,
             LATERAL (SELECT x.err AS error, x.n AS count) t
        WHERE rn <= 5
        GROUP BY ag, task, lvl),
    -- printed by row_to_json and array_to_json, which write no blanks, like every answer
    s AS (
        SELECT g.lvl, g.ag, g.task, row_to_json(d) AS doc
        FROM g LEFT JOIN e ON e.lvl = g.lvl AND e.ag IS NOT DISTINCT FROM g.ag
                          AND e.task IS NOT DISTINCT FROM g.task,
        LATERAL (SELECT
            g.ag AS agent,
            CASE WHEN g.lvl = 0 THEN g.task END AS "taskType",
            g.total,
            (SELECT row_to_json(c) FROM (SELECT g.pending, g.running, g.completed, g.failed,
                                                g.cancelled) c) AS counts,
            g.completed + g.failed AS finished,
            CASE WHEN g.completed + g.failed > 0
                 THEN round(g.failed::numeric / (g.completed + g.failed), 4) ELSE 0 END AS "failureRate",
            g.retries,
            round((g.completed + g.failed) * 60.0 / $1, 4) AS "throughputPerMin",
            (SELECT row_to_json(w) FROM (SELECT round(g.w50::numeric, 3) AS p50, round(g.w90::numeric, 3) AS p90,
                                                round(g.w99::numeric, 3) AS p99) w) AS "queueWaitMs",
            (SELECT row_to_json(w) FROM (SELECT round(g.r50::numeric, 3) AS p50, round(g.r90::numeric, 3) AS p90,
                                                round(g.r99::numeric, 3) AS p99) w) AS "runTimeMs",
            coalesce(e.errors, '[]') AS "topErrors") d)
    SELECT row_to_json(r) FROM (SELECT
        $1 AS "windowSeconds",
        $2 AS agent,
        now() - make_interval(secs => $1) AS since,
        now() AS "generatedAt",
        (SELECT doc FROM s WHERE lvl = 3) AS overall,
        (SELECT coalesce(array_to_json(array_agg(doc ORDER BY ag)), '[]') FROM s WHERE lvl = 1) AS "byAgent",
        (SELECT coalesce(array_to_json(array_agg(doc ORDER BY ag, task)), '[]') FROM s WHERE lvl = 0)
            AS "byTask") r
$$;
