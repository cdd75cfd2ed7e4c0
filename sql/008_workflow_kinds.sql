-- 008_workflow_kinds: the step kinds beyond agent tasks (sleep, wait, workflow), signals and
-- the run-level timeout. docs/workflows.md describes them; gateway/workflows/wfdef.c checks
-- their fields before a definition reaches these functions.
--
-- Timers (a sleep's wake time, a wait's timeout, a run's timeout) are rows, not processes:
-- the gateways' sweepers call fs_wf_tick, which fires what is due, so a timer survives any
-- restart of the gateway or the pool.
--
-- Lock order, everywhere: jobs first, then runs in id order, and a run's ancestors with it.
-- A child run finishing advances its parent in the same transaction, and a parent's id is
-- always below its children's (it exists first), so locking a run's ancestors with it in id
-- order keeps every path in one order.

-- kind: agent (a job), sleep (a timer), wait (a named signal), workflow (a child run).
-- due_at: when a running sleep wakes or a running wait times out; signal: the name a wait
-- step waits for; child_run_id: the run a workflow step started last.
ALTER TABLE workflow_steps
    ADD COLUMN kind TEXT NOT NULL DEFAULT 'agent'
        CHECK (kind IN ('agent', 'sleep', 'wait', 'workflow')),
    ADD COLUMN due_at TIMESTAMPTZ,
    ADD COLUMN signal TEXT,
    ADD COLUMN child_run_id BIGINT,
    ALTER COLUMN agent DROP NOT NULL,
    ALTER COLUMN task DROP NOT NULL;
-- The sweeper's look for due timers.
CREATE INDEX workflow_steps_due_idx ON workflow_steps (due_at)
    WHERE status = 'running' AND due_at IS NOT NULL;

-- parent_run_id, parent_step_key: the run and step that started this one as a child
-- (depth: how many parents it has); timeout_at: when the run fails for taking too long
-- (its definition's timeoutSeconds after it started).
ALTER TABLE workflow_runs
    ADD COLUMN parent_run_id BIGINT REFERENCES workflow_runs (id) ON DELETE CASCADE,
    ADD COLUMN parent_step_key TEXT,
    ADD COLUMN depth INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN timeout_at TIMESTAMPTZ;
CREATE INDEX workflow_runs_parent_idx ON workflow_runs (parent_run_id)
    WHERE parent_run_id IS NOT NULL;
CREATE INDEX workflow_runs_timeout_idx ON workflow_runs (timeout_at)
    WHERE timeout_at IS NOT NULL AND status IN ('pending', 'running', 'paused');

-- Signals sent to a run before the wait step that takes them started: each is kept for the
-- next wait on its name that starts (oldest first), and deleted when one takes it.
CREATE TABLE workflow_signals (
    id         BIGSERIAL PRIMARY KEY,
    run_id     BIGINT NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    payload    JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX workflow_signals_run_idx ON workflow_signals (run_id, name, id);

-- Deepest nesting of child runs: a run started by a workflow step has depth parent + 1, and
-- a step that would start one deeper than this fails instead (a template that includes
-- itself fails at this depth rather than looping).
CREATE FUNCTION fs_wf_depth_max() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 8';

-- Locks runs ids and all their ancestors, in id order (see the lock order above). A run's
-- parent never changes once it exists, so whether any of ids has one is read without a lock,
-- and runs without parents (most) are locked without the recursive walk, which costs several
-- times the lock itself on the path of every step outcome.
CREATE FUNCTION fs_wf_lock(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM workflow_runs w
                   WHERE w.id = ANY (ids) AND w.parent_run_id IS NOT NULL) THEN
        PERFORM 1 FROM workflow_runs w WHERE w.id = ANY (ids) ORDER BY w.id FOR UPDATE;
        RETURN;
    END IF;
    PERFORM 1 FROM workflow_runs w
    WHERE w.id IN (WITH RECURSIVE a(id) AS (
                       SELECT unnest(ids)
                       UNION
                       SELECT p.parent_run_id FROM workflow_runs p JOIN a ON p.id = a.id
                       WHERE p.parent_run_id IS NOT NULL)
                   SELECT id FROM a)
    ORDER BY w.id FOR UPDATE;
END
$$;

-- The unfinished runs of the trees rooted at ids (the roots included).
CREATE FUNCTION fs_wf_live_tree(ids bigint[]) RETURNS TABLE (id bigint) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE d(id) AS (
        SELECT unnest(ids)
        UNION
        SELECT w.id FROM workflow_runs w JOIN d ON w.parent_run_id = d.id
        WHERE w.status IN ('pending', 'running', 'paused'))
    SELECT id FROM d
$$;

-- Locks what stopping the runs ids takes: the queued and running jobs of their trees, then
-- the runs of their trees and their ancestors (jobs, then runs, as an outcome locks them),
-- together with the runs more and their ancestors (one pass, so all in id order).
CREATE FUNCTION fs_wf_lock_trees(ids bigint[], more bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tree bigint[];
BEGIN
    SELECT coalesce(array_agg(t.id), '{}') INTO tree FROM fs_wf_live_tree(ids) t;
    PERFORM 1 FROM job_queue j
    WHERE j.workflow_run_id = ANY (tree) AND j.status IN ('pending', 'running')
    ORDER BY j.id FOR UPDATE;
    PERFORM fs_wf_lock(tree || more);
END
$$;

-- Stops run rid, whose tree the caller locked (fs_wf_lock_trees), as final_status
-- (cancelled or failed) with error reason: its pending steps and running timers are
-- cancelled, its queued jobs cancelled, its running jobs asked to stop (their workers stop
-- at the next lease renewal), and its unfinished child runs cancelled. A workflow.cancelled
-- or workflow.failed event records it. False when the run had already finished. The one
-- path of a cancel (fs_wf_control) and a run timeout (fs_wf_tick).
CREATE FUNCTION fs_wf_stop(rid bigint, final_status text, reason text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    child bigint;
BEGIN
    UPDATE workflow_runs w SET status = final_status, error = reason, finished_at = now(),
        updated_at = now()
    WHERE w.id = rid AND w.status IN ('pending', 'running', 'paused');
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF final_status = 'cancelled' THEN
        INSERT INTO events (type, data) VALUES ('workflow.cancelled', jsonb_build_object('runId', rid));
    ELSE
        INSERT INTO events (type, severity, data)
        VALUES ('workflow.failed', 'error', jsonb_build_object('runId', rid, 'error', reason));
    END IF;
    UPDATE workflow_steps s SET status = 'cancelled', finished_at = now(),
        error = CASE WHEN s.status = 'running' THEN reason END
    WHERE s.run_id = rid
      AND (s.status = 'pending' OR (s.status = 'running' AND s.kind IN ('sleep', 'wait')));
    UPDATE job_queue j SET
        status = CASE WHEN j.status = 'pending' THEN 'cancelled' ELSE j.status END,
        processed_at = CASE WHEN j.status = 'pending' THEN now() ELSE j.processed_at END,
        last_error = CASE WHEN j.status = 'pending' THEN 'workflow run ' || final_status
                          ELSE j.last_error END,
        cancel_requested = (j.status = 'running')
    WHERE j.workflow_run_id = rid AND j.status IN ('pending', 'running');
    -- Each child's cancel records itself on this run's step (fs_wf_child_settled), which
    -- starts nothing: this run has finished.
    FOR child IN SELECT w.id FROM workflow_runs w
                 WHERE w.parent_run_id = rid AND w.status IN ('pending', 'running', 'paused')
                 ORDER BY w.id
    LOOP
        PERFORM fs_wf_stop(child, 'cancelled', format('parent run %s %s', rid, final_status));
    END LOOP;
    RETURN true;
END
$$;

-- Creates and starts a run (fs_wf_start's work): its steps are made from the definition and
-- the ones without parents start. parent and parent_key name the run and step that start it
-- as a child, depth its nesting. Returns the run's id.
CREATE FUNCTION fs_wf_create(def jsonb, run_input jsonb, tname text, tversion int, idem text,
                             conversation text, parent bigint, parent_key text, depth int)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
BEGIN
    INSERT INTO workflow_runs (status, template_name, template_version, definition, input,
                               idempotency_key, conversation_id, started_at, parent_run_id,
                               parent_step_key, depth, timeout_at)
    VALUES ('running', tname, tversion, def, coalesce(run_input, '{}'), idem, conversation, now(),
            parent, parent_key, depth,
            now() + make_interval(secs => (def->>'timeoutSeconds')::int))
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id INTO rid;
    IF rid IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO workflow_steps (run_id, key, position, kind, agent, task, signal, depends_on)
    SELECT rid, e.value->>'key', (e.n - 1)::int, coalesce(e.value->>'kind', 'agent'),
           e.value->>'agent', e.value->>'task', e.value->>'signal',
           ARRAY(SELECT jsonb_array_elements_text(coalesce(e.value->'dependsOn', '[]')))
    FROM jsonb_array_elements(def->'steps') WITH ORDINALITY e(value, n);
    PERFORM fs_wf_advance(rid);
    RETURN rid;
END
$$;

CREATE OR REPLACE FUNCTION fs_wf_start(def jsonb, run_input jsonb, tname text, tversion int,
                                       idem text, conversation text)
RETURNS TABLE (created boolean, run json) LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
BEGIN
    rid := fs_wf_create(def, run_input, tname, tversion, idem, conversation, NULL, NULL, 0);
    IF rid IS NULL THEN
        RETURN QUERY SELECT false, fs_wf_run_json(w, true) FROM workflow_runs w
                     WHERE w.idempotency_key = idem;
        RETURN;
    END IF;
    RETURN QUERY SELECT true, fs_wf_run_json(w, true) FROM workflow_runs w WHERE w.id = rid;
END
$$;

-- Starts the child run of workflow step skey of run r (locked, being advanced), whose
-- definition is def, with the step's input resolved from ctx. The step is running before
-- the child exists, so a child that finishes in its own start records itself on the step
-- at once. A step that cannot start its child (no such template, nesting too deep) fails.
CREATE FUNCTION fs_wf_start_child(r workflow_runs, skey text, def jsonb, ctx jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t workflow_templates;
    child_def jsonb := def->'definition';
    child_input jsonb := fs_wf_resolve(coalesce(def->'input', '{}'), ctx);
    why text;
    cid bigint;
BEGIN
    UPDATE workflow_steps s SET status = 'running', input = child_input, attempts = 1,
        output = NULL, error = NULL, queued_at = now(), started_at = now(), finished_at = NULL,
        child_run_id = NULL
    WHERE s.run_id = r.id AND s.key = skey;
    IF r.depth >= fs_wf_depth_max() THEN
        why := format('child runs nest at most %s levels deep', fs_wf_depth_max());
    ELSIF child_def IS NULL THEN
        SELECT * INTO t FROM workflow_templates x
        WHERE x.name = def->>'template' AND (NOT def ? 'version' OR x.version = (def->>'version')::int)
        ORDER BY x.version DESC LIMIT 1;
        IF NOT FOUND THEN
            why := format('no workflow template %s%s', def->>'template',
                          CASE WHEN def ? 'version' THEN ' version ' || (def->>'version') ELSE '' END);
        END IF;
        child_def := t.definition;
    END IF;
    IF why IS NOT NULL THEN
        UPDATE workflow_steps s SET status = 'failed', error = why, finished_at = now()
        WHERE s.run_id = r.id AND s.key = skey;
        RETURN;
    END IF;
    cid := fs_wf_create(child_def, child_input, t.name, t.version, NULL, r.conversation_id,
                        r.id, skey, r.depth + 1);
    UPDATE workflow_steps s SET child_run_id = cid WHERE s.run_id = r.id AND s.key = skey;
END
$$;

-- Advances run rid as far as its steps allow. The caller holds the run's row lock and its
-- ancestors' (every path that changes a run's steps takes them first), so two outcomes of
-- one run never advance it at once and each sees the other's committed steps.
--
-- 1. A step that failed, or was cancelled, fails the run unless its definition says
--    continueOnFailure: the run's pending steps and running timers (sleep, wait) become
--    cancelled (running jobs and child runs finish; their outcomes are recorded and start
--    nothing), and a workflow.failed event names the step.
-- 2. While the run is running, pending steps whose parents have all settled (completed,
--    skipped, or failed/cancelled with continueOnFailure) are decided: a step is skipped
--    when it has parents and every one of them was skipped, or when its `when` is false;
--    skipping settles it, so this repeats until nothing changes.
-- 3. The pending steps left with settled parents start: an agent step as one job (its
--    input resolved from the run input and the outputs of the steps before it, retries + 1
--    attempts, the step's timeoutSeconds as the job's); a sleep as a timer due `seconds`
--    from now; a wait as a timer due at its timeoutSeconds (none without), which takes the
--    oldest signal kept for its name at once; a workflow step as a child run, one at a time
--    (a child that finishes in its start advances this run from inside it, so each pass
--    reads the run afresh).
-- 4. When no step is pending or running, the run is completed; its output maps each
--    completed step's key to its output.
CREATE OR REPLACE FUNCTION fs_wf_advance(rid bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r workflow_runs;
    bad record;
    ctx jsonb;
    n int;
    child record;
BEGIN
    LOOP
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
            WHERE s.run_id = rid
              AND (s.status = 'pending' OR (s.status = 'running' AND s.kind IN ('sleep', 'wait')));
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
                SELECT s.key, s.kind, s.agent, s.task, r.definition->'steps'->s.position AS def
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
                FROM ready x WHERE x.kind = 'agent'
                RETURNING id, step_key, payload),
            jobs AS (
                UPDATE workflow_steps s SET status = 'running', job_id = i.id,
                    input = i.payload->'data', attempts = 0, output = NULL, error = NULL,
                    queued_at = now(), started_at = NULL, finished_at = NULL
                FROM ins i
                WHERE s.run_id = rid AND s.key = i.step_key),
            timers AS (
                UPDATE workflow_steps s SET status = 'running', attempts = 1, output = NULL,
                    error = NULL, queued_at = now(), started_at = now(), finished_at = NULL,
                    due_at = now() + make_interval(secs => coalesce(
                        (x.def->>'seconds')::int, (x.def->>'timeoutSeconds')::int))
                FROM ready x
                WHERE x.kind IN ('sleep', 'wait') AND s.run_id = rid AND s.key = x.key)
            SELECT 1 INTO n;
            -- Only runs whose definition has wait or workflow steps pay for their look-ups
            -- (a containment test of the definition the run holds).
            IF r.definition->'steps' @> '[{"kind": "wait"}]' THEN
                -- A wait that starts takes the oldest signal kept for its name (a running wait
                -- has none kept: a signal goes to a waiting step before it is kept).
                WITH w AS (
                    SELECT s.key, s.signal,
                           row_number() OVER (PARTITION BY s.signal ORDER BY s.position) AS n
                    FROM workflow_steps s
                    WHERE s.run_id = rid AND s.status = 'running' AND s.kind = 'wait'),
                g AS (
                    SELECT x.id, x.name, x.payload,
                           row_number() OVER (PARTITION BY x.name ORDER BY x.id) AS n
                    FROM workflow_signals x WHERE x.run_id = rid),
                m AS (SELECT w.key, g.id, g.payload FROM w JOIN g ON g.name = w.signal AND g.n = w.n),
                d AS (DELETE FROM workflow_signals x USING m WHERE x.id = m.id)
                UPDATE workflow_steps s SET status = 'completed', output = m.payload, finished_at = now(),
                    due_at = NULL
                FROM m WHERE s.run_id = rid AND s.key = m.key;
                GET DIAGNOSTICS n = ROW_COUNT;
                IF n > 0 THEN
                    CONTINUE;
                END IF;
            END IF;
            IF r.definition->'steps' @> '[{"kind": "workflow"}]' THEN
                SELECT s.key, r.definition->'steps'->s.position AS def INTO child
                FROM workflow_steps s
                WHERE s.run_id = rid AND s.status = 'pending' AND s.kind = 'workflow'
                  AND NOT EXISTS (SELECT 1 FROM workflow_steps p
                                  WHERE p.run_id = rid AND p.key = ANY (s.depends_on)
                                    AND p.status IN ('pending', 'running'))
                ORDER BY s.position LIMIT 1;
                IF FOUND THEN
                    PERFORM fs_wf_start_child(r, child.key, child.def, ctx);
                    CONTINUE;
                END IF;
            END IF;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM workflow_steps s
                       WHERE s.run_id = rid AND s.status IN ('pending', 'running')) THEN
            UPDATE workflow_runs w SET status = 'completed', finished_at = now(), updated_at = now(),
                output = (SELECT coalesce(jsonb_object_agg(s.key, s.output), '{}')
                          FROM workflow_steps s WHERE s.run_id = rid AND s.status = 'completed')
            WHERE w.id = rid;
        END IF;
        RETURN;
    END LOOP;
END
$$;

-- A child run's final transition, recorded on its parent's step in the same transaction:
-- completed gives the step the child's output; failed fails it, cancelled cancels it (each
-- fails the parent unless the step continues on failure). Then the parent advances. The
-- step matches while it is running with this child, or with none yet (a child that
-- finishes inside its own start, before fs_wf_start_child records it): a child from before
-- a retry of the parent, retried itself and finishing later, changes nothing.
CREATE FUNCTION fs_wf_child_settled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE workflow_steps s SET status = NEW.status, child_run_id = NEW.id,
        output = CASE WHEN NEW.status = 'completed' THEN NEW.output END,
        error = CASE WHEN NEW.status <> 'completed'
                     THEN format('child run %s %s: %s', NEW.id, NEW.status, NEW.error) END,
        finished_at = now()
    WHERE s.run_id = NEW.parent_run_id AND s.key = NEW.parent_step_key AND s.status = 'running'
      AND s.kind = 'workflow' AND (s.child_run_id = NEW.id OR s.child_run_id IS NULL);
    PERFORM fs_wf_advance(NEW.parent_run_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER workflow_runs_child_settled AFTER UPDATE OF status ON workflow_runs
    FOR EACH ROW
    WHEN (NEW.parent_run_id IS NOT NULL AND NEW.status IN ('completed', 'failed', 'cancelled')
          AND OLD.status NOT IN ('completed', 'failed', 'cancelled'))
    EXECUTE FUNCTION fs_wf_child_settled();

-- The engine's trigger (006), now locking each run's ancestors with it: a step's outcome
-- can finish a child run, which advances its parent.
CREATE OR REPLACE FUNCTION fs_wf_jobs_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.workflow_run_id IS NOT NULL
                   AND n.status IN ('completed', 'failed', 'cancelled')) THEN
        RETURN NULL;
    END IF;
    PERFORM fs_wf_lock(ARRAY(SELECT DISTINCT n.workflow_run_id FROM new_rows n
                             WHERE n.workflow_run_id IS NOT NULL
                               AND n.status IN ('completed', 'failed', 'cancelled')));
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

-- Cancel, pause, resume or retry run rid (006), now through fs_wf_stop for a cancel (which
-- cancels the run's child runs too) and with the run's ancestors locked (a child that
-- finishes advances its parent). A retry gives the run a fresh timeoutSeconds.
CREATE OR REPLACE FUNCTION fs_wf_control(rid bigint, action text)
RETURNS TABLE (applied boolean, before text, run json) LANGUAGE plpgsql AS $$
DECLARE
    cur text;
    ok boolean := false;
BEGIN
    IF action = 'cancel' THEN
        PERFORM fs_wf_lock_trees(ARRAY[rid], '{}');
    ELSE
        PERFORM fs_wf_lock(ARRAY[rid]);
    END IF;
    SELECT w.status INTO cur FROM workflow_runs w WHERE w.id = rid;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF action = 'cancel' AND cur IN ('pending', 'running', 'paused') THEN
        ok := fs_wf_stop(rid, 'cancelled', 'cancelled');
    ELSIF action = 'pause' AND cur IN ('pending', 'running') THEN
        UPDATE workflow_runs w SET status = 'paused', updated_at = now() WHERE w.id = rid;
        ok := true;
    ELSIF action = 'resume' AND cur = 'paused' THEN
        UPDATE workflow_runs w SET status = 'running', updated_at = now() WHERE w.id = rid;
        PERFORM fs_wf_advance(rid);
        ok := true;
    ELSIF action = 'retry' AND cur = 'failed' THEN
        UPDATE workflow_steps s SET status = 'pending', job_id = NULL, attempts = 0, input = NULL,
            output = NULL, error = NULL, queued_at = NULL, started_at = NULL, finished_at = NULL,
            due_at = NULL, child_run_id = NULL
        WHERE s.run_id = rid AND s.status IN ('failed', 'cancelled');
        UPDATE workflow_runs w SET status = 'running', error = NULL, output = NULL,
            finished_at = NULL, updated_at = now(),
            timeout_at = now() + make_interval(secs => (w.definition->>'timeoutSeconds')::int)
        WHERE w.id = rid;
        PERFORM fs_wf_advance(rid);
        ok := true;
    END IF;
    RETURN QUERY SELECT ok, cur, fs_wf_run_json(w, true) FROM workflow_runs w WHERE w.id = rid;
END
$$;

-- Signal sname with payload to run rid. outcome: delivered (step names the waiting step it
-- completed: the first in the definition running a wait on sname), kept (no step waits on
-- it yet, but a pending wait step will: the signal is kept for it), not_waiting (no step
-- waits on it, or every pending one already has a kept signal), finished (the run has
-- finished). No row when there is no run rid.
CREATE FUNCTION fs_wf_signal(rid bigint, sname text, payload jsonb)
RETURNS TABLE (outcome text, step text, run json) LANGUAGE plpgsql AS $$
DECLARE
    cur text;
    k text;
    result text;
BEGIN
    PERFORM fs_wf_lock(ARRAY[rid]);
    SELECT w.status INTO cur FROM workflow_runs w WHERE w.id = rid;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF cur NOT IN ('pending', 'running', 'paused') THEN
        result := 'finished';
    ELSE
        UPDATE workflow_steps s SET status = 'completed', output = payload, finished_at = now(),
            due_at = NULL
        WHERE s.run_id = rid AND s.key = (
            SELECT x.key FROM workflow_steps x
            WHERE x.run_id = rid AND x.status = 'running' AND x.kind = 'wait' AND x.signal = sname
            ORDER BY x.position LIMIT 1)
        RETURNING s.key INTO k;
        IF k IS NOT NULL THEN
            result := 'delivered';
            PERFORM fs_wf_advance(rid);
        ELSIF (SELECT count(*) FROM workflow_steps x
               WHERE x.run_id = rid AND x.status = 'pending' AND x.kind = 'wait' AND x.signal = sname)
              > (SELECT count(*) FROM workflow_signals g WHERE g.run_id = rid AND g.name = sname) THEN
            INSERT INTO workflow_signals (run_id, name, payload) VALUES (rid, sname, payload);
            result := 'kept';
        ELSE
            result := 'not_waiting';
        END IF;
    END IF;
    RETURN QUERY SELECT result, k, fs_wf_run_json(w, true) FROM workflow_runs w WHERE w.id = rid;
END
$$;

-- The workflow timers that are due, fired by any gateway's sweeper (one at a time: an
-- advisory lock; NULL when another holds it), at most batch of each kind per call: runs
-- past their timeout fail (fs_wf_stop: pending steps cancelled, running jobs asked to stop,
-- child runs cancelled); sleeps past their wake time complete with {"sleptUntil": …};
-- waits past their timeout fail. Their runs then advance. Returns counts as JSON.
CREATE FUNCTION fs_wf_tick(batch int) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    timed bigint[];
    due bigint[];
    rid bigint;
    runs_failed int := 0;
    slept int := 0;
    waits_failed int := 0;
    past boolean;
    secs text;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('flowstate.wf_tick')) THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(array_agg(x.id ORDER BY x.id), '{}') INTO timed FROM (
        SELECT w.id FROM workflow_runs w
        WHERE w.timeout_at <= now() AND w.status IN ('pending', 'running', 'paused')
        ORDER BY w.timeout_at LIMIT batch) x;
    SELECT coalesce(array_agg(DISTINCT x.run_id ORDER BY x.run_id), '{}') INTO due FROM (
        SELECT s.run_id FROM workflow_steps s
        WHERE s.status = 'running' AND s.due_at <= now()
        ORDER BY s.due_at LIMIT batch) x;
    IF cardinality(timed) = 0 AND cardinality(due) = 0 THEN
        RETURN json_build_object('runsTimedOut', 0, 'slept', 0, 'waitsTimedOut', 0);
    END IF;
    PERFORM fs_wf_lock_trees(timed, due);
    FOREACH rid IN ARRAY timed LOOP
        -- Read again under the lock: a retry gives a run a new timeout.
        SELECT w.timeout_at <= now(), w.definition->>'timeoutSeconds' INTO past, secs
        FROM workflow_runs w WHERE w.id = rid;
        IF past THEN
            IF fs_wf_stop(rid, 'failed',
                          format('run timed out: it ran longer than its timeoutSeconds (%s)', secs)) THEN
                runs_failed := runs_failed + 1;
            END IF;
        END IF;
    END LOOP;
    UPDATE workflow_steps s SET status = 'completed', finished_at = now(),
        output = jsonb_build_object('sleptUntil', s.due_at)
    WHERE s.run_id = ANY (due) AND s.status = 'running' AND s.kind = 'sleep' AND s.due_at <= now();
    GET DIAGNOSTICS slept = ROW_COUNT;
    UPDATE workflow_steps s SET status = 'failed', finished_at = now(),
        error = format('timed out after %s seconds waiting for signal %s',
                       extract(epoch FROM s.due_at - s.started_at)::bigint, s.signal)
    WHERE s.run_id = ANY (due) AND s.status = 'running' AND s.kind = 'wait' AND s.due_at <= now();
    GET DIAGNOSTICS waits_failed = ROW_COUNT;
    FOREACH rid IN ARRAY due LOOP
        PERFORM fs_wf_advance(rid);
    END LOOP;
    RETURN json_build_object('runsTimedOut', runs_failed, 'slept', slept,
                             'waitsTimedOut', waits_failed);
END
$$;

-- A step and a run as the API shows them (006), with the fields of the kinds and of child
-- runs and timeouts.
CREATE OR REPLACE FUNCTION fs_wf_step_json(s workflow_steps) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(x) FROM (SELECT s.key, s.kind, s.agent, s.task, s.depends_on AS "dependsOn",
        s.status, j.status AS "jobStatus", s.job_id AS "jobId",
        greatest(s.attempts, j.attempts) AS attempts, s.input, s.output, s.error,
        s.signal, s.due_at AS "dueAt", s.child_run_id AS "childRunId",
        s.queued_at AS "queuedAt", coalesce(s.started_at, j.started_at) AS "startedAt",
        s.finished_at AS "finishedAt"
        FROM (SELECT 1) one LEFT JOIN job_queue j ON s.status = 'running' AND j.id = s.job_id) x
$$;

CREATE OR REPLACE FUNCTION fs_wf_run_json(w workflow_runs, with_steps boolean) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN with_steps THEN
        (SELECT row_to_json(x) FROM (SELECT w.id, w.status, w.template_name AS template,
            w.template_version AS "templateVersion", w.input, w.output, w.error,
            w.idempotency_key AS "idempotencyKey", w.conversation_id AS "conversationId",
            w.parent_run_id AS "parentRunId", w.parent_step_key AS "parentStepKey",
            w.created_at AS "createdAt", w.started_at AS "startedAt",
            w.finished_at AS "finishedAt", w.updated_at AS "updatedAt",
            w.timeout_at AS "timeoutAt", w.definition,
            (SELECT coalesce(array_to_json(array_agg(fs_wf_step_json(s) ORDER BY s.position)), '[]')
             FROM workflow_steps s WHERE s.run_id = w.id) AS steps,
            (SELECT coalesce(array_to_json(array_agg(json_build_object('name', g.name,
                        'payload', g.payload, 'createdAt', g.created_at) ORDER BY g.id)), '[]')
             FROM workflow_signals g WHERE g.run_id = w.id) AS "keptSignals") x)
    ELSE
        (SELECT row_to_json(x) FROM (SELECT w.id, w.status, w.template_name AS template,
            w.template_version AS "templateVersion", w.input, w.output, w.error,
            w.idempotency_key AS "idempotencyKey", w.conversation_id AS "conversationId",
            w.parent_run_id AS "parentRunId", w.parent_step_key AS "parentStepKey",
            w.created_at AS "createdAt", w.started_at AS "startedAt",
            w.finished_at AS "finishedAt", w.updated_at AS "updatedAt",
            w.timeout_at AS "timeoutAt") x)
    END
$$;
