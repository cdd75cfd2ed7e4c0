-- 001_core: the seed's three tables (agent_states, documents, job_queue) with their column
-- names kept so the seed guide's queries run unchanged, the lifecycle columns beside them,
-- events and api_keys, and the functions that render rows as API JSON.

CREATE TABLE agent_states (
    id          SERIAL PRIMARY KEY,
    agent_name  TEXT NOT NULL,
    state       JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX agent_states_agent_name_key ON agent_states (agent_name);

CREATE TABLE documents (
    id              BIGSERIAL PRIMARY KEY,
    content         TEXT NOT NULL,
    metadata        JSONB NOT NULL DEFAULT '{}',
    embedding       REAL[],
    embedding_model TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    search_vector   TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', content)) STORED
);
CREATE INDEX documents_search_idx ON documents USING gin (search_vector);
CREATE INDEX documents_agent_idx ON documents ((metadata->>'agentName'), (metadata->>'timestamp'));
CREATE INDEX documents_tags_idx ON documents USING gin ((metadata->'tags'));

CREATE TABLE job_queue (
    id               BIGSERIAL PRIMARY KEY,
    payload          JSONB NOT NULL,
    target_agent     TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at     TIMESTAMPTZ,
    priority         SMALLINT NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 4),
    run_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    max_attempts     INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    timeout_seconds  INTEGER CHECK (timeout_seconds > 0),
    locked_by        TEXT,
    locked_until     TIMESTAMPTZ,
    idempotency_key  TEXT,
    result           JSONB,
    last_error       TEXT,
    started_at       TIMESTAMPTZ,
    workflow_run_id  BIGINT,
    step_key         TEXT,
    parent_job_id    BIGINT
);
CREATE UNIQUE INDEX job_queue_idempotency_key ON job_queue (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Claims read pending jobs of one agent by priority, then run_at, then id.
CREATE INDEX job_queue_claim_idx ON job_queue (target_agent, priority DESC, run_at, id)
    WHERE status = 'pending';

CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    type        TEXT NOT NULL,
    severity    TEXT NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    job_id      BIGINT,
    agent_name  TEXT,
    data        JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX events_created_idx ON events (created_at);
CREATE INDEX events_job_idx ON events (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE api_keys (
    id          SERIAL PRIMARY KEY,
    name        TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'agent', 'viewer')),
    key_hash    TEXT NOT NULL UNIQUE,   -- lowercase hex SHA-256 of the key; never the key
    key_prefix  TEXT NOT NULL,          -- first characters, to tell keys apart in listings
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);

-- Rows as the API shows them (camelCase, compact, keys in this order).
CREATE FUNCTION fs_job_json(j job_queue) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(x) FROM (SELECT
        j.id, j.target_agent AS "targetAgent", j.payload, j.status, j.priority, j.attempts,
        j.max_attempts AS "maxAttempts", j.timeout_seconds AS "timeoutSeconds",
        j.run_at AS "runAt", j.created_at AS "createdAt", j.started_at AS "startedAt",
        j.processed_at AS "processedAt", j.locked_by AS "lockedBy",
        j.locked_until AS "lockedUntil", j.idempotency_key AS "idempotencyKey", j.result,
        j.last_error AS "lastError") x
$$;

CREATE FUNCTION fs_agent_json(a agent_states) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(x) FROM (SELECT a.id, a.agent_name AS "agentName", a.state,
        a.created_at AS "createdAt", a.updated_at AS "updatedAt") x
$$;

CREATE FUNCTION fs_document_json(d documents) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(x) FROM (SELECT d.id, d.content, d.metadata,
        d.created_at AS "createdAt") x
$$;

CREATE FUNCTION fs_key_json(k api_keys) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(x) FROM (SELECT k.id, k.role, k.name, k.key_prefix AS "prefix",
        k.created_at AS "createdAt", k.revoked_at AS "revokedAt") x
$$;
