-- 001_tables: every table and index. The seed's three tables (agent_states, documents,
-- job_queue) keep the seed's column names, so the seed guide's queries run unchanged; the
-- columns the job lifecycle needs sit beside them. Functions, triggers and the optional
-- pgvector column come in the later files. docs/schema.md describes every column.

-- One row per agent: its self-reported state (status, capabilities, heartbeat, …).
CREATE TABLE agent_states (
    id          SERIAL PRIMARY KEY,
    agent_name  TEXT NOT NULL,
    state       JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Agents are looked up and registered (ON CONFLICT) by name.
CREATE UNIQUE INDEX agent_states_agent_name_key ON agent_states (agent_name);

-- The collective memory: one row per stored document. embedding is computed by the gateway
-- (common/embed.c) with the model named in embedding_model; search_vector serves keyword
-- search. 003_memory adds embedding_vec when the server has pgvector.
CREATE TABLE documents (
    id              BIGSERIAL PRIMARY KEY,
    content         TEXT NOT NULL,
    metadata        JSONB NOT NULL DEFAULT '{}',
    embedding       REAL[],
    embedding_model TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    search_vector   TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', content)) STORED
);
-- Keyword search (search_vector @@ query).
CREATE INDEX documents_search_idx ON documents USING gin (search_vector);
-- The seed's per-agent reads: an agent's memories in time order.
CREATE INDEX documents_agent_idx ON documents ((metadata->>'agentName'), (metadata->>'timestamp'));
-- The tag filter (metadata->'tags' ? tag).
CREATE INDEX documents_tags_idx ON documents USING gin ((metadata->'tags'));
-- Semantic reads compare only documents embedded by the query's model.
CREATE INDEX documents_embedding_model_idx ON documents (embedding_model)
    WHERE embedding IS NOT NULL;

-- The queue. A job is pending until a worker claims it (running, with a lease until
-- locked_until), then completed, failed (out of attempts: the dead letter) or cancelled.
-- attempts counts claims and is the fencing token of every report (it only ever grows);
-- handed_back_at is when a worker shutting down last gave the job back unfinished (NULL:
-- never; each hand-back also raised max_attempts by one so that it cost no attempt). It has
-- no default, so a new row costs only its null bit. workflow_run_id, step_key and
-- parent_job_id are reserved for workflows and not written yet.
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
    parent_job_id    BIGINT,
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    handed_back_at   TIMESTAMPTZ
);
-- One job per idempotency key (POST /api/jobs answers a repeat with the first job).
CREATE UNIQUE INDEX job_queue_idempotency_key ON job_queue (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Claims read pending jobs of one agent by priority, then run_at, then id.
CREATE INDEX job_queue_claim_idx ON job_queue (target_agent, priority DESC, run_at, id)
    WHERE status = 'pending';
-- The sweeper's expired-lease search. It covers rows with a lease (locked_until is set
-- exactly while a job runs) rather than status = 'running': as a partial index on status
-- it looked like the cheapest way to find "running jobs with these ids" whenever statistics
-- said few jobs run, and every report would scan all running jobs instead of using the
-- primary key.
CREATE INDEX job_queue_lease_idx ON job_queue (locked_until) WHERE locked_until IS NOT NULL;
-- The sweeper's pruning of finished jobs older than the retention.
CREATE INDEX job_queue_finished_idx ON job_queue (processed_at)
    WHERE status IN ('completed', 'failed', 'cancelled');
-- Pending jobs that were delayed or are waiting out a retry backoff: the sweeper wakes their
-- agents when they come due. Jobs runnable at insert time are not in this index.
CREATE INDEX job_queue_due_idx ON job_queue (run_at)
    WHERE status = 'pending' AND run_at > created_at;

-- What happened to jobs that an operator reads later: retries, hand-backs, requeues, dead
-- letters, cancellations (written by the job_queue update trigger, 004_notify).
CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    type        TEXT NOT NULL,
    severity    TEXT NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    job_id      BIGINT,
    agent_name  TEXT,
    data        JSONB NOT NULL DEFAULT '{}'
);
-- Listing in time order, and pruning past the retention.
CREATE INDEX events_created_idx ON events (created_at);
-- A job's history.
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

-- What each statement changed in api_keys (004_notify's triggers), for the gateways' key
-- caches: each reads the rows past the last revision it saw once a second and drops those
-- keys (gateway/http/auth.c). Polled rather than NOTIFYed: see gateway/db/channels.h. The
-- newest 1,000 revisions are kept; the first row is there so that the log is never empty.
CREATE TABLE api_key_changes (
    revision    BIGSERIAL PRIMARY KEY,
    hashes      TEXT[]                  -- key_hash of each key added, changed or removed; NULL: every key
);
INSERT INTO api_key_changes (hashes) VALUES ('{}');

-- Inter-agent messages (seed 000, "Inter-Agent Communication Flow"). A message is stored
-- here and delivered as a job of type inter_agent_message for the target agent (job_id);
-- the target stores it in its memory and, when a response is required, answers with a
-- message back (reply_to). A message's status is read from its delivery job and its reply
-- (fs_message_status), so it is never stored twice.
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
-- An agent's inbox and outbox, newest first (keyset by id).
CREATE INDEX agent_messages_to_idx ON agent_messages (to_agent, id);
CREATE INDEX agent_messages_from_idx ON agent_messages (from_agent, id);
-- One answer per message: a retried delivery job cannot reply twice.
CREATE UNIQUE INDEX agent_messages_reply_key ON agent_messages (reply_to) WHERE reply_to IS NOT NULL;
