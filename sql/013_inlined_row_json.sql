-- 013_inlined_row_json: the row-to-JSON functions and fs_wake_channel become expressions the
-- planner inlines, instead of SQL functions run on their own.
--
-- fs_job_json and its siblings were `SELECT row_to_json(x) FROM (SELECT … AS "camelCase") x`.
-- A SQL function whose body has a FROM is never inlined: each statement that calls it starts
-- a function executor, which parses and plans that body again, then runs it once per row. In
-- POST /api/jobs's group-commit insert of 16 rows, that was 42% of the statement's
-- instructions (single-user postgres under callgrind: 3.84M per statement, 2.77M with the
-- forms below). Here each body is one expression: row_to_json of a ROW cast to a composite
-- type whose field names are the JSON keys. The output is byte for byte the same (same keys,
-- same order, same value formatting).
--
-- fs_wake_channel was declared STRICT around a CASE, which is not strict, so the planner
-- refused to inline it and the insert trigger parsed its body on every statement. The CASE
-- already gives NULL for a NULL agent, so dropping STRICT changes no result.
--
-- A column added to one of these tables and meant for its JSON needs the type and the
-- function changed together.

CREATE TYPE fs_job_doc AS (
    id bigint, "targetAgent" text, payload jsonb, status text, priority smallint,
    attempts integer, "maxAttempts" integer, "timeoutSeconds" integer, "runAt" timestamptz,
    "createdAt" timestamptz, "startedAt" timestamptz, "processedAt" timestamptz,
    "lockedBy" text, "lockedUntil" timestamptz, "idempotencyKey" text, result jsonb,
    "lastError" text, "cancelRequested" boolean);

CREATE OR REPLACE FUNCTION fs_job_json(j job_queue) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(ROW(j.id, j.target_agent, j.payload, j.status, j.priority, j.attempts,
        j.max_attempts, j.timeout_seconds, j.run_at, j.created_at, j.started_at,
        j.processed_at, j.locked_by, j.locked_until, j.idempotency_key, j.result,
        j.last_error, j.cancel_requested)::fs_job_doc)
$$;

CREATE TYPE fs_agent_doc AS (
    id integer, "agentName" text, state jsonb, "createdAt" timestamptz, "updatedAt" timestamptz);

CREATE OR REPLACE FUNCTION fs_agent_json(a agent_states) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(ROW(a.id, a.agent_name, a.state, a.created_at, a.updated_at)::fs_agent_doc)
$$;

CREATE TYPE fs_document_doc AS (id bigint, content text, metadata jsonb, "createdAt" timestamptz);

CREATE OR REPLACE FUNCTION fs_document_json(d documents) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(ROW(d.id, d.content, d.metadata, d.created_at)::fs_document_doc)
$$;

CREATE TYPE fs_key_doc AS (
    id integer, role text, name text, prefix text, "createdAt" timestamptz,
    "revokedAt" timestamptz);

CREATE OR REPLACE FUNCTION fs_key_json(k api_keys) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(ROW(k.id, k.role, k.name, k.key_prefix, k.created_at,
                           k.revoked_at)::fs_key_doc)
$$;

-- The worker routes speak snake_case, as in the seed.
CREATE TYPE fs_message_doc AS (
    message_id bigint, from_agent text, to_agent text, message text, message_type text,
    requires_response boolean, reply_to bigint, job_id bigint, status text,
    created_at timestamptz);

CREATE OR REPLACE FUNCTION fs_message_json(m agent_messages, status text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT row_to_json(ROW(m.id, m.from_agent, m.to_agent, m.message, m.message_type,
        m.requires_response, m.reply_to, m.job_id, status, m.created_at)::fs_message_doc)
$$;

CREATE OR REPLACE FUNCTION fs_wake_channel(agent text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN octet_length(agent) <= 55 THEN 'fs_wake_' || agent
                ELSE 'fs_wake_' || md5(agent) END
$$;
