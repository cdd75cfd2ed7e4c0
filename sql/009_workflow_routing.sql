-- 009_workflow_routing: compound `when` (all, any, not) and seed 003's symbolic operators,
-- which routing rules compile into (gateway/workflows/routing.c); messages within a run; and
-- the runs started through seed 003's /api/agents/workflows routes (gateway/workflows/
-- seedflows.c), which are ordinary runs with a row saying how they were asked for.
-- docs/workflows.md describes all three.

-- A step's `when` against the run's context; true when it has none. Beside 006's leaf
-- {field, operator, value}: {"all": [c, …]} holds when every c holds, {"any": [c, …]} when
-- one does, {"not": c} when c does not (the gateway refuses empty lists and bounds the
-- depth). Operators >, >=, <, <=, ==, != are gt, gte, lt, lte, eq, ne. A field that leads
-- nowhere, or to JSON null, is absent: eq holds only against a null value, ne against
-- anything else, exists is false, every other operator false. gt, gte, lt and lte compare
-- two numbers or two strings (byte order), and are false otherwise; in asks whether the
-- field equals an element of value; contains: a substring of a string, an element of an
-- array, a key of an object.
CREATE OR REPLACE FUNCTION fs_wf_when(cond jsonb, ctx jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    x jsonb;
    v jsonb;
    op text;
BEGIN
    IF cond IS NULL OR jsonb_typeof(cond) <> 'object' THEN
        RETURN true;
    ELSIF cond ? 'all' THEN
        RETURN NOT EXISTS (SELECT 1 FROM jsonb_array_elements(cond->'all') e
                           WHERE NOT fs_wf_when(e.value, ctx));
    ELSIF cond ? 'any' THEN
        RETURN EXISTS (SELECT 1 FROM jsonb_array_elements(cond->'any') e
                       WHERE fs_wf_when(e.value, ctx));
    ELSIF cond ? 'not' THEN
        RETURN NOT fs_wf_when(cond->'not', ctx);
    END IF;
    v := cond->'value';
    op := CASE cond->>'operator' WHEN '>' THEN 'gt' WHEN '>=' THEN 'gte' WHEN '<' THEN 'lt'
                                 WHEN '<=' THEN 'lte' WHEN '==' THEN 'eq' WHEN '!=' THEN 'ne'
                                 ELSE cond->>'operator' END;
    x := fs_wf_lookup(ctx, cond->>'field');
    IF x = 'null'::jsonb THEN
        x := NULL;
    END IF;
    IF op = 'exists' THEN
        RETURN (x IS NOT NULL) = coalesce((v #>> '{}')::boolean, true);
    ELSIF op = 'eq' THEN
        RETURN coalesce(x, 'null') = coalesce(v, 'null');
    ELSIF op = 'ne' THEN
        RETURN coalesce(x, 'null') <> coalesce(v, 'null');
    ELSIF x IS NULL THEN
        RETURN false;
    ELSIF op = 'in' THEN
        RETURN jsonb_typeof(v) = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements(v) e WHERE e = x);
    ELSIF op = 'contains' THEN
        RETURN CASE jsonb_typeof(x)
            WHEN 'string' THEN jsonb_typeof(v) = 'string' AND strpos(x #>> '{}', v #>> '{}') > 0
            WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(x) e WHERE e = v)
            WHEN 'object' THEN jsonb_typeof(v) = 'string' AND x ? (v #>> '{}')
            ELSE false END;
    ELSIF jsonb_typeof(x) = 'number' AND jsonb_typeof(v) = 'number' THEN
        RETURN CASE op
            WHEN 'gt' THEN (x #>> '{}')::numeric > (v #>> '{}')::numeric
            WHEN 'gte' THEN (x #>> '{}')::numeric >= (v #>> '{}')::numeric
            WHEN 'lt' THEN (x #>> '{}')::numeric < (v #>> '{}')::numeric
            WHEN 'lte' THEN (x #>> '{}')::numeric <= (v #>> '{}')::numeric
            ELSE false END;
    ELSIF jsonb_typeof(x) = 'string' AND jsonb_typeof(v) = 'string' THEN
        RETURN CASE op
            WHEN 'gt' THEN (x #>> '{}') COLLATE "C" > (v #>> '{}')
            WHEN 'gte' THEN (x #>> '{}') COLLATE "C" >= (v #>> '{}')
            WHEN 'lt' THEN (x #>> '{}') COLLATE "C" < (v #>> '{}')
            WHEN 'lte' THEN (x #>> '{}') COLLATE "C" <= (v #>> '{}')
            ELSE false END;
    END IF;
    RETURN false;
END
$$;

-- Messages within a run (POST|GET /api/workflows/runs/:id/messages and seed 003's
-- /api/agents/workflows/:id/messages). Their `message` holds the content's JSON text: seed
-- 003's content is any JSON, and the delivery job hands the text to the agent as any
-- message's. Deleting a run deletes its messages.
ALTER TABLE agent_messages ADD COLUMN workflow_run_id BIGINT
    REFERENCES workflow_runs (id) ON DELETE CASCADE;
-- A run's messages, oldest first (keyset by id).
CREATE INDEX agent_messages_run_idx ON agent_messages (workflow_run_id, id)
    WHERE workflow_run_id IS NOT NULL;

-- A run started by POST /api/agents/workflows/execute: the type and agents it was asked
-- for, which its definition only implies, so GET /api/agents/workflows/:id can show them.
CREATE TABLE agent_workflows (
    run_id               BIGINT PRIMARY KEY REFERENCES workflow_runs (id) ON DELETE CASCADE,
    workflow_type        TEXT NOT NULL
                         CHECK (workflow_type IN ('multi_agent', 'conditional', 'collaborative')),
    participating_agents TEXT[] NOT NULL
);

-- A run message as the routes show it (snake_case, as seed 003 writes its body), with its
-- delivery status (fs_message_status; the sending statement passes 'sent').
CREATE FUNCTION fs_wf_message_json(m agent_messages, status text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('message_id', m.id, 'workflow_id', m.workflow_run_id,
        'from_agent', m.from_agent, 'to_agent', m.to_agent, 'message_type', m.message_type,
        'content', m.message::json, 'status', status, 'job_id', m.job_id,
        'created_at', m.created_at)
$$;

-- A run as seed 003's routes show it, from the run as GET /api/workflows/runs/:id shows it
-- (fs_wf_run_json with steps, kept under "run") and how it was asked for (agent_workflows;
-- NULLs for a run started otherwise: no workflow_type, and its steps' agents as
-- participating_agents). current_agents: the agents of the steps running now.
CREATE FUNCTION fs_wf_seed_json(run json, wtype text, agents text[]) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object('workflow_id', run->'id', 'workflow_type', wtype,
        'status', run->'status', 'conversation_id', run->'conversationId',
        'participating_agents', coalesce(to_json(agents),
            (SELECT json_agg(DISTINCT s->>'agent') FROM json_array_elements(run->'steps') s)),
        'current_agents', (SELECT coalesce(json_agg(s->>'agent'), '[]')
                           FROM json_array_elements(run->'steps') s
                           WHERE s->>'status' = 'running'),
        'input_data', run->'input', 'results', run->'output', 'error', run->'error',
        'created_at', run->'createdAt', 'updated_at', run->'updatedAt',
        'finished_at', run->'finishedAt', 'run', run)
$$;
