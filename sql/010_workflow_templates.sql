-- 010_workflow_templates: three stored templates that do real work with the agents, and run
-- retention.
--
-- Templates (docs/workflows.md#stored-templates): version 1 of code-review, data-pipeline and
-- incident-check, each inserted only when no template of that name exists, so an install
-- that already made its own keeps it. A migration runs once per database, so a later edit
-- (PUT adds version 2) or a DELETE is never undone by an upgrade. The gateway checks every
-- definition it is given (gateway/workflows/wfdef.c); these bypass it, so
-- tests/integration/test_workflow_templates.py checks each one through the API as well.
INSERT INTO workflow_templates (name, version, description, definition)
SELECT t.name, 1, t.definition->>'description', t.definition
FROM (VALUES
('code-review', $json$
{"description": "analyze the code, then detect bugs and suggest optimizations in parallel, then sum up the findings (input: code, language)",
 "steps": [
  {"key": "analyze", "agent": "code_analyzer", "task": "analyze_code",
   "input": {"code": {"$ref": "input.code"}, "language": {"$ref": "input.language"}}},
  {"key": "bugs", "agent": "code_analyzer", "task": "detect_bugs", "dependsOn": ["analyze"],
   "input": {"code": {"$ref": "input.code"}, "language": {"$ref": "steps.analyze.output.language"}},
   "retries": 1},
  {"key": "optimize", "agent": "code_analyzer", "task": "suggest_optimizations", "dependsOn": ["analyze"],
   "input": {"code": {"$ref": "input.code"}, "language": {"$ref": "steps.analyze.output.language"}},
   "retries": 1},
  {"key": "summary", "agent": "data_processor", "task": "process_data", "dependsOn": ["bugs", "optimize"],
   "input": {"fields": ["count"], "groupBy": "kind",
             "records": [
               {"kind": "bug", "count": {"$ref": "steps.bugs.output.total"},
                "summary": {"$ref": "steps.bugs.output.summary"}},
               {"kind": "optimization", "count": {"$ref": "steps.optimize.output.total"},
                "summary": {"$ref": "steps.optimize.output.summary"}}]}}]}
$json$::jsonb),
('data-pipeline', $json$
{"description": "validate records against a schema; only when they are valid, transform them and aggregate the result (input: records, schema, steps, fields?, groupBy?)",
 "steps": [
  {"key": "validate", "agent": "data_processor", "task": "validate_data",
   "input": {"records": {"$ref": "input.records"}, "schema": {"$ref": "input.schema"}}},
  {"key": "transform", "agent": "data_processor", "task": "transform_data", "dependsOn": ["validate"],
   "when": {"field": "steps.validate.output.valid", "operator": "eq", "value": true},
   "input": {"records": {"$ref": "input.records"}, "steps": {"$ref": "input.steps"}}},
  {"key": "aggregate", "agent": "data_processor", "task": "process_data", "dependsOn": ["transform"],
   "input": {"records": {"$ref": "steps.transform.output.records"}, "fields": {"$ref": "input.fields"},
             "groupBy": {"$ref": "input.groupBy"}}}]}
$json$::jsonb),
('incident-check', $json$
{"description": "check health, job metrics and failure patterns at once; send an alert only when the system is degraded (input: maxQueueDepth?, window?, maxErrorRate?, maxP99Ms?)",
 "steps": [
  {"key": "health", "agent": "monitoring", "task": "health_check",
   "input": {"maxQueueDepth": {"$ref": "input.maxQueueDepth"}}},
  {"key": "metrics", "agent": "monitoring", "task": "check_metrics",
   "input": {"window": {"$ref": "input.window"}, "maxErrorRate": {"$ref": "input.maxErrorRate"},
             "maxP99Ms": {"$ref": "input.maxP99Ms"}}},
  {"key": "patterns", "agent": "learning", "task": "identify_patterns",
   "input": {"window": {"$ref": "input.window"}}},
  {"key": "alert", "agent": "monitoring", "task": "send_alert", "dependsOn": ["health", "metrics", "patterns"],
   "when": {"field": "steps.health.output.healthy", "operator": "eq", "value": false},
   "input": {"title": "Incident check: the system is degraded", "severity": "error",
             "message": {"$ref": "steps.health.output.summary"},
             "details": {"problems": {"$ref": "steps.health.output.problems"},
                         "metrics": {"$ref": "steps.metrics.output.summary"},
                         "metricAlerts": {"$ref": "steps.metrics.output.alerts"},
                         "patterns": {"$ref": "steps.patterns.output.summary"}}}}]}
$json$::jsonb)
) AS t (name, definition)
WHERE NOT EXISTS (SELECT 1 FROM workflow_templates w WHERE w.name = t.name);

-- Run retention: finished runs (completed, failed, cancelled) whose finish is older than
-- retention_s are deleted, at most prune_max per call, with their steps (ON DELETE CASCADE)
-- and their run-scoped shared memory (the trigger below). The same retention as finished
-- jobs (FLOWSTATE_RETENTION): a run's step jobs are pruned by then anyway, and its steps keep
-- their outcomes until the run goes. Runs with the sweeper's pruning, under its advisory lock
-- (taken again here: it is re-entrant in the sweep's transaction, and keeps a call outside a
-- sweep from racing one). Returns how many runs it deleted (0 when another sweep holds the
-- lock or prune is false).
CREATE INDEX workflow_runs_finished_idx ON workflow_runs (finished_at)
    WHERE status IN ('completed', 'failed', 'cancelled');

CREATE FUNCTION fs_wf_prune(retention_s int, prune bool, prune_max int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    pruned int := 0;
BEGIN
    IF NOT prune OR retention_s <= 0 OR NOT pg_try_advisory_xact_lock(hashtext('flowstate.sweeper')) THEN
        RETURN 0;
    END IF;
    WITH del AS (
        DELETE FROM workflow_runs WHERE id IN (
            SELECT r.id FROM workflow_runs r
            WHERE r.status IN ('completed', 'failed', 'cancelled')
              AND r.finished_at < now() - make_interval(secs => retention_s)
            ORDER BY r.finished_at LIMIT prune_max)
        RETURNING 1)
    SELECT count(*) INTO pruned FROM del;
    RETURN pruned;
END
$$;

-- A run's shared memory (scope 'run', scope_id its id) goes with the run, however the run is
-- deleted. shared_memory has no foreign key (007: scope_id is text and may name a run not yet
-- visible), so this trigger is the cascade; per statement, so a prune of many runs deletes
-- their memory in one statement.
CREATE FUNCTION fs_wf_runs_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM shared_memory m USING gone
    WHERE m.scope = 'run' AND m.scope_id = gone.id::text;
    RETURN NULL;
END
$$;

CREATE TRIGGER workflow_runs_shared_memory AFTER DELETE ON workflow_runs
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION fs_wf_runs_after_delete();
