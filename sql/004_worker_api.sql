-- 004_worker_api: what the seed's worker API routes read and write — agent summaries for
-- GET /agents and the system health check, and inter-agent messages (seed 000,
-- "Inter-Agent Communication Flow"). A message
-- is stored here and delivered as a job of type inter_agent_message for the target agent;
-- the target stores it in its memory (a 'conversation' document) and, when a response is
-- required, answers with a message back (reply_to). A message's status is read from its
-- delivery job and its reply, so it is never stored twice.

CREATE TABLE agent_messages (
    id                BIGSERIAL PRIMARY KEY,
    from_agent        TEXT NOT NULL,
    to_agent          TEXT NOT NULL,
    message           TEXT NOT NULL,
    message_type      TEXT NOT NULL DEFAULT 'info',
    requires_response BOOLEAN NOT NULL DEFAULT false,
    reply_to          BIGINT REFERENCES agent_messages (id) ON DELETE SET NULL,
    job_id            BIGINT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX agent_messages_to_idx ON agent_messages (to_agent, id);
CREATE INDEX agent_messages_from_idx ON agent_messages (from_agent, id);
-- One answer per message: a retried delivery job cannot reply twice.
CREATE UNIQUE INDEX agent_messages_reply_key ON agent_messages (reply_to) WHERE reply_to IS NOT NULL;

-- sent (queued), delivering (the target is running it), delivered, responded, failed;
-- 'unknown' once the delivery job has been pruned by retention.
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

-- The worker routes speak snake_case, as in the seed.
CREATE FUNCTION fs_message_json(m agent_messages, status text) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(x) FROM (SELECT m.id AS message_id, m.from_agent, m.to_agent, m.message,
        m.message_type, m.requires_response, m.reply_to, m.job_id, status,
        m.created_at) x
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
    SELECT json_build_object(
        'agent_name', a.agent_name,
        'status', coalesce(a.state->>'status', 'unknown'),
        'capabilities', coalesce(a.state->'capabilities', '[]'::jsonb),
        'last_heartbeat', a.state->>'lastHeartbeat',
        'heartbeat_age_seconds',
            round(extract(epoch FROM now() - fs_try_timestamptz(a.state->>'lastHeartbeat')))::bigint,
        'jobs', (SELECT json_build_object('pending', count(*) FILTER (WHERE j.status = 'pending'),
                                          'running', count(*) FILTER (WHERE j.status = 'running'))
                 FROM job_queue j
                 WHERE j.target_agent = a.agent_name AND j.status IN ('pending', 'running')),
        'updated_at', a.updated_at)
$$;

-- POST /system/health-check: healthy unless leases expired unnoticed, agents that are not
-- offline stopped heartbeating for stale_s seconds, or jobs died in the last hour.
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
        SELECT coalesce(json_agg(a.agent_name ORDER BY a.agent_name), '[]') AS names, count(*) AS n
        FROM agent_states a
        WHERE coalesce(a.state->>'status', '') <> 'offline'
          AND coalesce(fs_try_timestamptz(a.state->>'lastHeartbeat'), '-infinity')
              < now() - make_interval(secs => stale_s))
    SELECT json_build_object(
        'status', CASE WHEN q.expired > 0 OR stale.n > 0 OR q.dead_last_hour > 0 THEN 'degraded'
                       ELSE 'healthy' END,
        'database', 'up',
        'checked_at', now(),
        'queue', json_build_object('pending', q.pending, 'running', q.running,
                                   'expired_leases', q.expired, 'dead_last_hour', q.dead_last_hour),
        'stale_agents', stale.names,
        'agents', (SELECT coalesce(json_agg(fs_agent_summary(a) ORDER BY a.agent_name), '[]')
                   FROM agent_states a))
    FROM q, stale
$$;
