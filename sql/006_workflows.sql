-- 006_workflows: workflow templates, runs and steps, and the engine that advances a run.
-- docs/workflows.md describes the model; the gateway validates every definition before it
-- reaches these functions (gateway/workflows/wfdef.c), so they trust its shape.
--
-- A run's steps are ordinary jobs (job_queue.workflow_run_id and step_key link them), so
-- they inherit claims, leases, retries and fencing. A run advances inside the statement that
-- records its step's final outcome: the trigger below runs in the transaction of the UPDATE
-- of job_queue that completed, failed or cancelled the job, and that UPDATE happens only when
-- the report was fenced through (fs_jobs_complete, fs_jobs_fail). A stale report changes no
-- row, so it fires nothing; a crash before the commit loses both the outcome and the
-- advance, a crash after it keeps both.

-- Templates: one row per version of a name. A run copies the definition it starts from
-- (workflow_runs.definition), so a new version, or deleting the template, never changes a
-- run already started.
CREATE TABLE workflow_templates (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    description TEXT,
    definition  JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);

-- Runs. status: running (steps start as their dependencies settle), paused (no step starts;
-- those already queued or running finish), completed, failed, cancelled; pending is kept for
-- runs that wait to start (none do yet: a run starts in the statement that creates it).
CREATE TABLE workflow_runs (
    id               BIGSERIAL PRIMARY KEY,
    status           TEXT NOT NULL DEFAULT 'running'
                     CHECK (status IN ('pending', 'running', 'paused', 'completed', 'failed', 'cancelled')),
    template_name    TEXT,
    template_version INTEGER,
    definition       JSONB NOT NULL,
    input            JSONB NOT NULL DEFAULT '{}',
    output           JSONB,
    error            TEXT,
    idempotency_key  TEXT,
    conversation_id  TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One run per idempotency key (POST /api/workflows/runs answers a repeat with the first run).
CREATE UNIQUE INDEX workflow_runs_idempotency_key ON workflow_runs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The run list's filters, newest first (keyset by id).
CREATE INDEX workflow_runs_status_idx ON workflow_runs (status, id);
CREATE INDEX workflow_runs_template_idx ON workflow_runs (template_name, id)
    WHERE template_name IS NOT NULL;

-- Steps: one row per step of a run, made when the run starts. position is the step's index
-- in the run's definition, where its input, when, retries, timeoutSeconds and
-- continueOnFailure are read. status: pending (waiting for its parents), running (its job
-- exists and has not finished: queued, running or waiting out a retry), completed, failed,
-- skipped, cancelled. job_id is the job of its latest start; output, error and attempts are
-- copied from that job's final outcome, so they outlive the job's pruning.
CREATE TABLE workflow_steps (
    run_id      BIGINT NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    position    INTEGER NOT NULL,
    agent       TEXT NOT NULL,
    task        TEXT NOT NULL,
    depends_on  TEXT[] NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'completed', 'failed', 'skipped', 'cancelled')),
    job_id      BIGINT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    input       JSONB,
    output      JSONB,
    error       TEXT,
    queued_at   TIMESTAMPTZ,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    PRIMARY KEY (run_id, key)
);

-- A run's jobs, for its cancellation. Only step jobs are in it, so other jobs cost nothing.
CREATE INDEX job_queue_workflow_idx ON job_queue (workflow_run_id) WHERE workflow_run_id IS NOT NULL;

-- A reference path ("input.order.total", "steps.analyze.output.score") read from a run's
-- context {"input": …, "steps": {"<key>": {"output": …}}}; NULL when it leads nowhere.
-- Array elements are named by their index ("items.0").
CREATE FUNCTION fs_wf_lookup(ctx jsonb, path text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT ctx #> string_to_array(path, '.')
$$;

-- A step's input with every {"$ref": path} object replaced by what path leads to (JSON null
-- when nothing).
CREATE FUNCTION fs_wf_resolve(v jsonb, ctx jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    CASE jsonb_typeof(v)
    WHEN 'object' THEN
        IF v ? '$ref' AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(v) k WHERE k <> '$ref') THEN
            RETURN coalesce(fs_wf_lookup(ctx, v->>'$ref'), 'null');
        END IF;
        RETURN coalesce((SELECT jsonb_object_agg(e.key, fs_wf_resolve(e.value, ctx))
                         FROM jsonb_each(v) e), '{}');
    WHEN 'array' THEN
        RETURN coalesce((SELECT jsonb_agg(fs_wf_resolve(e.value, ctx) ORDER BY e.n)
                         FROM jsonb_array_elements(v) WITH ORDINALITY e(value, n)), '[]');
    ELSE
        RETURN v;
    END CASE;
END
$$;

-- A step's `when` ({field, operator, value}) against the run's context; true when it has
-- none. A field that leads nowhere, or to JSON null, is absent: eq holds only against a null
-- value, ne against anything else, exists is false, every other operator false. gt, gte, lt
-- and lte compare two numbers or two strings (byte order), and are false otherwise; in asks
-- whether the field equals an element of value; contains: a substring of a string, an
-- element of an array, a key of an object.
CREATE FUNCTION fs_wf_when(cond jsonb, ctx jsonb) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    x jsonb;
    v jsonb;
    op text;
BEGIN
    IF cond IS NULL OR jsonb_typeof(cond) <> 'object' THEN
        RETURN true;
    END IF;
    v := cond->'value';
    op := cond->>'operator';
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

-- Advances run rid as far as its steps allow. The caller holds the run's row lock (every
-- path that changes a run's steps takes it first), so two outcomes of one run never advance
-- it at once and each sees the other's committed steps.
--
-- 1. A step that failed, or whose job was cancelled, fails the run unless its definition
--    says continueOnFailure: the run's pending steps become cancelled (running ones finish;
--    their outcomes are recorded and start nothing), and a workflow.failed event names the
--    step (an operator reads failures later; completions are in the run's own row).
-- 2. While the run is running, pending steps whose parents have all settled (completed,
--    skipped, or failed/cancelled with continueOnFailure) are decided: a step is skipped
--    when it has parents and every one of them was skipped, or when its `when` is false;
--    skipping settles it, so this repeats until nothing changes. Skipping thus runs down a
--    branch and stops at a fan-in that still has a parent that did not skip.
-- 3. The pending steps left with settled parents start: one job each, its input resolved
--    from the run input and the outputs of the steps before it, retries + 1 attempts, the
--    step's timeoutSeconds as the job's.
-- 4. When no step is pending or running, the run is completed; its output maps each
--    completed step's key to its output.
CREATE FUNCTION fs_wf_advance(rid bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r workflow_runs;
    bad record;
    ctx jsonb;
    n int;
BEGIN
    SELECT * INTO r FROM workflow_runs w WHERE w.id = rid;
    IF NOT FOUND OR r.status NOT IN ('running', 'paused') THEN
        RETURN;
    END IF;
    SELECT s.key, s.status, s.error INTO bad FROM workflow_steps s
    WHERE s.run_id = rid AND s.status IN ('failed', 'cancelled')
      AND NOT coalesce((r.definition->'steps'->s.position->>'continueOnFailure')::boolean, false)
    ORDER BY s.finished_at, s.position LIMIT 1;
    IF FOUND THEN
        UPDATE workflow_steps s SET status = 'cancelled', finished_at = now()
        WHERE s.run_id = rid AND s.status = 'pending';
        UPDATE workflow_runs w SET status = 'failed', finished_at = now(), updated_at = now(),
            error = format('step %s %s: %s', bad.key, bad.status, coalesce(bad.error, 'no error given'))
        WHERE w.id = rid;
        INSERT INTO events (type, severity, job_id, agent_name, data)
        SELECT 'workflow.failed', 'error', s.job_id, s.agent,
               jsonb_build_object('runId', rid, 'step', s.key, 'error', s.error)
        FROM workflow_steps s WHERE s.run_id = rid AND s.key = bad.key;
        RETURN;
    END IF;
    IF r.status = 'running' THEN
        SELECT jsonb_build_object('input', r.input, 'steps',
                   coalesce(jsonb_object_agg(s.key, jsonb_build_object('output', s.output)), '{}'))
        INTO ctx
        FROM workflow_steps s WHERE s.run_id = rid AND s.status IN ('completed', 'failed', 'cancelled');
        LOOP
            WITH settled AS (
                SELECT s.key, s.position,
                       cardinality(s.depends_on) > 0 AND NOT EXISTS (
                           SELECT 1 FROM workflow_steps p
                           WHERE p.run_id = rid AND p.key = ANY (s.depends_on)
                             AND p.status <> 'skipped') AS parents_skipped
                FROM workflow_steps s
                WHERE s.run_id = rid AND s.status = 'pending'
                  AND NOT EXISTS (SELECT 1 FROM workflow_steps p
                                  WHERE p.run_id = rid AND p.key = ANY (s.depends_on)
                                    AND p.status IN ('pending', 'running')))
            UPDATE workflow_steps s SET status = 'skipped', finished_at = now()
            FROM settled x
            WHERE s.run_id = rid AND s.key = x.key
              AND (x.parents_skipped
                   OR NOT fs_wf_when(r.definition->'steps'->x.position->'when', ctx));
            GET DIAGNOSTICS n = ROW_COUNT;
            EXIT WHEN n = 0;
        END LOOP;
        WITH ready AS (
            SELECT s.key, s.agent, s.task, r.definition->'steps'->s.position AS def
            FROM workflow_steps s
            WHERE s.run_id = rid AND s.status = 'pending'
              AND NOT EXISTS (SELECT 1 FROM workflow_steps p
                              WHERE p.run_id = rid AND p.key = ANY (s.depends_on)
                                AND p.status IN ('pending', 'running'))),
        ins AS (
            INSERT INTO job_queue (target_agent, payload, max_attempts, timeout_seconds,
                                   workflow_run_id, step_key)
            SELECT x.agent,
                   jsonb_build_object('taskType', x.task,
                                      'data', fs_wf_resolve(coalesce(x.def->'input', '{}'), ctx),
                                      'workflowRunId', rid, 'stepKey', x.key),
                   coalesce((x.def->>'retries')::int, 0) + 1, (x.def->>'timeoutSeconds')::int,
                   rid, x.key
            FROM ready x
            RETURNING id, step_key, payload)
        UPDATE workflow_steps s SET status = 'running', job_id = i.id, input = i.payload->'data',
            attempts = 0, output = NULL, error = NULL, queued_at = now(), started_at = NULL,
            finished_at = NULL
        FROM ins i
        WHERE s.run_id = rid AND s.key = i.step_key;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM workflow_steps s
                   WHERE s.run_id = rid AND s.status IN ('pending', 'running')) THEN
        UPDATE workflow_runs w SET status = 'completed', finished_at = now(), updated_at = now(),
            output = (SELECT coalesce(jsonb_object_agg(s.key, s.output), '{}')
                      FROM workflow_steps s WHERE s.run_id = rid AND s.status = 'completed')
        WHERE w.id = rid;
    END IF;
END
$$;

-- The engine's trigger: after any UPDATE of job_queue that finished step jobs, record each
-- step's outcome and advance its run. Per statement rather than per row so that the runs
-- are locked in id order: per-row triggers fire in the order the statement updated its
-- rows, and two outcome batches finishing jobs of the same two runs in opposite orders would
-- deadlock. A statement that finished no step job (every ordinary claim, completion and
-- failure) costs one look at its new rows. Only a job's final status counts: a failed
-- attempt that will be retried goes back to pending and is no step outcome. A job that is
-- not its step's current job (one from before a run retry) changes nothing.
CREATE FUNCTION fs_wf_jobs_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.workflow_run_id IS NOT NULL
                   AND n.status IN ('completed', 'failed', 'cancelled')) THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM workflow_runs w
    WHERE w.id IN (SELECT n.workflow_run_id FROM new_rows n WHERE n.workflow_run_id IS NOT NULL
                   AND n.status IN ('completed', 'failed', 'cancelled'))
    ORDER BY w.id FOR UPDATE;
    UPDATE workflow_steps s SET status = n.status, job_id = n.id, attempts = n.attempts,
        output = CASE WHEN n.status = 'completed' THEN n.result END,
        error = CASE WHEN n.status <> 'completed' THEN n.last_error END,
        started_at = n.started_at, finished_at = coalesce(n.processed_at, now())
    FROM new_rows n
    WHERE n.workflow_run_id IS NOT NULL AND n.status IN ('completed', 'failed', 'cancelled')
      AND s.run_id = n.workflow_run_id AND s.key = n.step_key AND s.job_id = n.id
      AND s.status = 'running';
    FOR rid IN
        SELECT DISTINCT n.workflow_run_id FROM new_rows n
        WHERE n.workflow_run_id IS NOT NULL AND n.status IN ('completed', 'failed', 'cancelled')
        ORDER BY 1
    LOOP
        PERFORM fs_wf_advance(rid);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER job_queue_workflow_advance AFTER UPDATE ON job_queue
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fs_wf_jobs_after_update();

-- A template, a step and a run as the API shows them.
CREATE FUNCTION fs_wf_template_json(t workflow_templates) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(x) FROM (SELECT t.name, t.version, t.description, t.definition,
                                       t.created_at AS "createdAt") x
$$;

-- A running step shows its job's status (pending: queued or waiting out a retry backoff;
-- running) and its attempts so far; afterwards the copies made at its outcome.
CREATE FUNCTION fs_wf_step_json(s workflow_steps) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(x) FROM (SELECT s.key, s.agent, s.task, s.depends_on AS "dependsOn",
        s.status, j.status AS "jobStatus", s.job_id AS "jobId",
        greatest(s.attempts, j.attempts) AS attempts, s.input, s.output, s.error,
        s.queued_at AS "queuedAt", coalesce(s.started_at, j.started_at) AS "startedAt",
        s.finished_at AS "finishedAt"
        FROM (SELECT 1) one LEFT JOIN job_queue j ON s.status = 'running' AND j.id = s.job_id) x
$$;

CREATE FUNCTION fs_wf_run_json(w workflow_runs, with_steps boolean) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN with_steps THEN
        (SELECT row_to_json(x) FROM (SELECT w.id, w.status, w.template_name AS template,
            w.template_version AS "templateVersion", w.input, w.output, w.error,
            w.idempotency_key AS "idempotencyKey", w.conversation_id AS "conversationId",
            w.created_at AS "createdAt", w.started_at AS "startedAt",
            w.finished_at AS "finishedAt", w.updated_at AS "updatedAt", w.definition,
            (SELECT coalesce(array_to_json(array_agg(fs_wf_step_json(s) ORDER BY s.position)), '[]')
             FROM workflow_steps s WHERE s.run_id = w.id) AS steps) x)
    ELSE
        (SELECT row_to_json(x) FROM (SELECT w.id, w.status, w.template_name AS template,
            w.template_version AS "templateVersion", w.input, w.output, w.error,
            w.idempotency_key AS "idempotencyKey", w.conversation_id AS "conversationId",
            w.created_at AS "createdAt", w.started_at AS "startedAt",
            w.finished_at AS "finishedAt", w.updated_at AS "updatedAt") x)
    END
$$;

-- Starts a run of definition def (validated by the gateway) with input; its steps are made
-- and the ones without parents start in the same transaction. A run with idempotency key
-- idem that exists is answered instead (created false), whatever its definition.
CREATE FUNCTION fs_wf_start(def jsonb, run_input jsonb, tname text, tversion int, idem text,
                            conversation text)
RETURNS TABLE (created boolean, run json) LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
BEGIN
    INSERT INTO workflow_runs (status, template_name, template_version, definition, input,
                               idempotency_key, conversation_id, started_at)
    VALUES ('running', tname, tversion, def, coalesce(run_input, '{}'), idem, conversation, now())
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id INTO rid;
    IF rid IS NULL THEN
        RETURN QUERY SELECT false, fs_wf_run_json(w, true) FROM workflow_runs w
                     WHERE w.idempotency_key = idem;
        RETURN;
    END IF;
    INSERT INTO workflow_steps (run_id, key, position, agent, task, depends_on)
    SELECT rid, e.value->>'key', (e.n - 1)::int, e.value->>'agent', e.value->>'task',
           ARRAY(SELECT jsonb_array_elements_text(coalesce(e.value->'dependsOn', '[]')))
    FROM jsonb_array_elements(def->'steps') WITH ORDINALITY e(value, n);
    PERFORM fs_wf_advance(rid);
    RETURN QUERY SELECT true, fs_wf_run_json(w, true) FROM workflow_runs w WHERE w.id = rid;
END
$$;

-- The same from template tname at version tversion (NULL: its latest). No row when there is
-- no such template, unless idem names a run already started (a repeat is answered with its
-- run even after the template was deleted).
CREATE FUNCTION fs_wf_start_template(tname text, tversion int, run_input jsonb, idem text,
                                     conversation text)
RETURNS TABLE (created boolean, run json) LANGUAGE plpgsql AS $$
DECLARE
    t workflow_templates;
BEGIN
    RETURN QUERY SELECT false, fs_wf_run_json(w, true) FROM workflow_runs w
                 WHERE idem IS NOT NULL AND w.idempotency_key = idem;
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO t FROM workflow_templates x
    WHERE x.name = tname AND (tversion IS NULL OR x.version = tversion)
    ORDER BY x.version DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM fs_wf_start(t.definition, run_input, t.name, t.version, idem,
                                           conversation);
END
$$;

-- Cancel, pause, resume or retry run rid. Answers whether the action applied (false: not
-- from the run's status), the status before, and the run; no row when there is no run rid.
--   cancel (pending, running, paused): the run and its pending steps are cancelled, queued
--          jobs cancelled, running jobs asked to stop (their workers stop at the next lease
--          renewal); a workflow.cancelled event records it.
--   pause (running): no step starts until resume; queued and running jobs finish.
--   resume (paused): running again, and advanced at once.
--   retry (failed): its failed and cancelled steps go back to pending and the run advances
--          from there; completed and skipped steps keep their outcomes.
-- A cancel locks the run's live jobs before the run, in id order, as an outcome does (it
-- locks its jobs, then their runs): the opposite order could deadlock with one.
CREATE FUNCTION fs_wf_control(rid bigint, action text)
RETURNS TABLE (applied boolean, before text, run json) LANGUAGE plpgsql AS $$
DECLARE
    cur text;
    ok boolean := false;
BEGIN
    IF action = 'cancel' THEN
        PERFORM 1 FROM job_queue j
        WHERE j.workflow_run_id = rid AND j.status IN ('pending', 'running')
        ORDER BY j.id FOR UPDATE;
    END IF;
    SELECT w.status INTO cur FROM workflow_runs w WHERE w.id = rid FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF action = 'cancel' AND cur IN ('pending', 'running', 'paused') THEN
        UPDATE workflow_runs w SET status = 'cancelled', error = 'cancelled',
            finished_at = now(), updated_at = now()
        WHERE w.id = rid;
        INSERT INTO events (type, data) VALUES ('workflow.cancelled', jsonb_build_object('runId', rid));
        UPDATE workflow_steps s SET status = 'cancelled', finished_at = now()
        WHERE s.run_id = rid AND s.status = 'pending';
        UPDATE job_queue j SET
            status = CASE WHEN j.status = 'pending' THEN 'cancelled' ELSE j.status END,
            processed_at = CASE WHEN j.status = 'pending' THEN now() ELSE j.processed_at END,
            last_error = CASE WHEN j.status = 'pending' THEN 'workflow run cancelled'
                              ELSE j.last_error END,
            cancel_requested = (j.status = 'running')
        WHERE j.workflow_run_id = rid AND j.status IN ('pending', 'running');
        ok := true;
    ELSIF action = 'pause' AND cur IN ('pending', 'running') THEN
        UPDATE workflow_runs w SET status = 'paused', updated_at = now() WHERE w.id = rid;
        ok := true;
    ELSIF action = 'resume' AND cur = 'paused' THEN
        UPDATE workflow_runs w SET status = 'running', updated_at = now() WHERE w.id = rid;
        PERFORM fs_wf_advance(rid);
        ok := true;
    ELSIF action = 'retry' AND cur = 'failed' THEN
        UPDATE workflow_steps s SET status = 'pending', job_id = NULL, attempts = 0, input = NULL,
            output = NULL, error = NULL, queued_at = NULL, started_at = NULL, finished_at = NULL
        WHERE s.run_id = rid AND s.status IN ('failed', 'cancelled');
        UPDATE workflow_runs w SET status = 'running', error = NULL, output = NULL,
            finished_at = NULL, updated_at = now()
        WHERE w.id = rid;
        PERFORM fs_wf_advance(rid);
        ok := true;
    END IF;
    RETURN QUERY SELECT ok, cur, fs_wf_run_json(w, true) FROM workflow_runs w WHERE w.id = rid;
END
$$;
