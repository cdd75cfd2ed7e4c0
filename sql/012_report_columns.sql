-- 012_report_columns: outcome batches arrive as columns, and a completion batch is answered
-- only for the reports that were not applied.
--
-- A worker's batch of reports was one jsonb document, [{"i":0,"id":…,"attempt":…,
-- "result":…},…]: PostgreSQL parsed every key of every item and jsonb_to_recordset took the
-- document apart again. Here the ids and attempts come as arrays and the results (and a
-- fail's errors) as one jsonb array each, zipped back together by position (ROWS FROM …
-- WITH ORDINALITY; i is the position, from 0). And a completion that applied returned a row
-- anyway, which the caller already knew the content of (outcome ok, status completed, the
-- attempt it reported): fs_jobs_complete now returns the rows that were not applied
-- (not_found, conflict), plus the applied ones only when with_job asks for each job's JSON.
-- Single-user postgres under callgrind, claim 100 then report them, ping results: 231k
-- instructions per job before, 210k after.
--
-- A JSON null in results means "no result", as a missing key did. fs_jobs_fail still
-- answers every report: the status it applied depends on the job (pending, failed,
-- cancelled). The item-document forms stay for the gateway's group-committed single reports
-- and for batches the gateway parsed the slow way; they now only unpack their items (in
-- order of i from 0, as the gateway writes them) into the column forms.

CREATE FUNCTION fs_jobs_complete(ids bigint[], attempts_in int[], results jsonb, with_job bool)
RETURNS TABLE (i int, id bigint, outcome text, status text, job json, attempts int, reported int)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH input AS MATERIALIZED (
        SELECT (t.n - 1)::int AS i, t.id, t.attempt, nullif(t.result, 'null') AS result
        FROM ROWS FROM (unnest(ids), unnest(attempts_in), jsonb_array_elements(results))
             WITH ORDINALITY AS t(id, attempt, result, n)),
    upd AS (
        UPDATE job_queue j SET status = 'completed', result = x.result, processed_at = now(),
            locked_by = NULL, locked_until = NULL, last_error = NULL
        FROM input x
        WHERE j.id = ANY (ids)
          AND j.id = x.id AND j.attempts = x.attempt AND j.status = 'running'
        RETURNING x.i, j.id, j.status, j.attempts, x.attempt AS reported,
                  CASE WHEN with_job THEN fs_job_json(j) END AS job)
    SELECT u.i, u.id, 'ok'::text, u.status, u.job, u.attempts, u.reported FROM upd u
    WHERE with_job
    UNION ALL
    SELECT x.i, x.id, CASE WHEN e.id IS NULL THEN 'not_found' ELSE 'conflict' END, e.status,
           NULL::json, e.attempts, x.attempt
    FROM input x LEFT JOIN job_queue e
        ON e.id = x.id
       AND e.id = ANY (ARRAY(SELECT y.id FROM input y WHERE y.id NOT IN (SELECT u.id FROM upd u)))
    WHERE x.id NOT IN (SELECT u.id FROM upd u);
END
$$;

CREATE FUNCTION fs_jobs_fail(ids bigint[], attempts_in int[], results jsonb, errors jsonb,
                             retryable bool[], with_job bool, base_ms int, cap_ms int)
RETURNS TABLE (i int, id bigint, outcome text, status text, job json, attempts int, reported int)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH input AS MATERIALIZED (
        SELECT (t.n - 1)::int AS i, t.id, t.attempt, nullif(t.result, 'null') AS result,
               t.error, t.retryable
        FROM ROWS FROM (unnest(ids), unnest(attempts_in), jsonb_array_elements(results),
                        jsonb_array_elements_text(errors), unnest(retryable))
             WITH ORDINALITY AS t(id, attempt, result, error, retryable, n)),
    decided AS (
        SELECT x.i, j.id, x.attempt, x.error, x.result,
               CASE WHEN j.cancel_requested THEN 'cancelled'
                    WHEN coalesce(x.retryable, true) AND j.attempts < j.max_attempts THEN 'pending'
                    ELSE 'failed' END AS next
        FROM input x JOIN job_queue j ON j.id = x.id AND j.attempts = x.attempt
        WHERE j.id = ANY (ids) AND j.status = 'running'
        FOR UPDATE OF j),
    upd AS (
        UPDATE job_queue j SET status = d.next, last_error = d.error,
            result = coalesce(d.result, j.result),
            run_at = CASE WHEN d.next = 'pending'
                          THEN now() + fs_retry_delay(j.attempts, base_ms, cap_ms) ELSE j.run_at END,
            processed_at = CASE WHEN d.next = 'pending' THEN NULL ELSE now() END,
            locked_by = NULL, locked_until = NULL
        FROM decided d
        WHERE j.id = ANY (ARRAY(SELECT y.id FROM decided y)) AND j.id = d.id
        RETURNING d.i, j.id, j.status, j.attempts, d.attempt AS reported,
                  CASE WHEN with_job THEN fs_job_json(j) END AS job)
    SELECT u.i, u.id, 'ok'::text, u.status, u.job, u.attempts, u.reported FROM upd u
    UNION ALL
    SELECT x.i, x.id, CASE WHEN e.id IS NULL THEN 'not_found' ELSE 'conflict' END, e.status,
           NULL::json, e.attempts, x.attempt
    FROM input x LEFT JOIN job_queue e
        ON e.id = x.id
       AND e.id = ANY (ARRAY(SELECT y.id FROM input y WHERE y.id NOT IN (SELECT u.id FROM upd u)))
    WHERE x.id NOT IN (SELECT u.id FROM upd u);
END
$$;

CREATE OR REPLACE FUNCTION fs_jobs_complete(items jsonb, with_job bool)
RETURNS TABLE (i int, id bigint, outcome text, status text, job json, attempts int, reported int)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    SELECT c.* FROM (
        SELECT array_agg((t.e->>'id')::bigint ORDER BY t.n) AS ids,
               array_agg((t.e->>'attempt')::int ORDER BY t.n) AS tries,
               jsonb_agg(t.e->'result' ORDER BY t.n) AS results
        FROM jsonb_array_elements(items) WITH ORDINALITY AS t(e, n)) x,
        fs_jobs_complete(x.ids, x.tries, x.results, with_job) c;
END
$$;

CREATE OR REPLACE FUNCTION fs_jobs_fail(items jsonb, with_job bool, base_ms int, cap_ms int)
RETURNS TABLE (i int, id bigint, outcome text, status text, job json, attempts int, reported int)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    SELECT c.* FROM (
        SELECT array_agg((t.e->>'id')::bigint ORDER BY t.n) AS ids,
               array_agg((t.e->>'attempt')::int ORDER BY t.n) AS tries,
               jsonb_agg(t.e->'result' ORDER BY t.n) AS results,
               jsonb_agg(t.e->'error' ORDER BY t.n) AS errors,
               array_agg((t.e->>'retryable')::bool ORDER BY t.n) AS retryable
        FROM jsonb_array_elements(items) WITH ORDINALITY AS t(e, n)) x,
        fs_jobs_fail(x.ids, x.tries, x.results, x.errors, x.retryable, with_job, base_ms, cap_ms) c;
END
$$;
