-- 005_stats: job statistics for GET /api/stats/jobs (the monitoring and learning agents
-- read them). One statement over the jobs created or finished within a window: counts by
-- status, failure rate, retries, throughput, queue-wait and run-time percentiles of the
-- completed jobs, and the most common errors of the failed ones (digits normalised to N so
-- "job 17 timed out" and "job 42 timed out" count together). Rows are grouped three ways
-- at once (GROUPING SETS): per agent and taskType, per agent, and overall.

CREATE FUNCTION fs_job_stats(window_s int, agent_filter text) RETURNS json LANGUAGE sql STABLE AS $$
    WITH j AS (
        SELECT q.target_agent AS ag, coalesce(q.payload->>'taskType', '') AS task, q.status, q.attempts,
               CASE WHEN q.status = 'completed' AND q.started_at IS NOT NULL
                    THEN extract(epoch FROM q.started_at - q.created_at) * 1000 END AS wait_ms,
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
        SELECT ag, task, lvl, json_agg(json_build_object('error', err, 'count', n) ORDER BY n DESC, err) AS errors
        FROM (SELECT ag, task, grouping(ag, task) AS lvl, err, count(*) AS n,
                     row_number() OVER (PARTITION BY grouping(ag, task), ag, task ORDER BY count(*) DESC, err) AS rn
              FROM j WHERE err IS NOT NULL
              GROUP BY GROUPING SETS ((ag, task, err), (ag, err), (err))) x
        WHERE rn <= 5
        GROUP BY ag, task, lvl),
    s AS (
        SELECT g.lvl, g.ag, g.task, json_build_object(
            'agent', g.ag,
            'taskType', CASE WHEN g.lvl = 0 THEN g.task END,
            'total', g.total,
            'counts', json_build_object('pending', g.pending, 'running', g.running, 'completed', g.completed,
                                        'failed', g.failed, 'cancelled', g.cancelled),
            'finished', g.completed + g.failed,
            'failureRate', CASE WHEN g.completed + g.failed > 0
                                THEN round(g.failed::numeric / (g.completed + g.failed), 4) ELSE 0 END,
            'retries', g.retries,
            'throughputPerMin', round((g.completed + g.failed) * 60.0 / $1, 4),
            'queueWaitMs', json_build_object('p50', round(g.w50::numeric, 3), 'p90', round(g.w90::numeric, 3),
                                             'p99', round(g.w99::numeric, 3)),
            'runTimeMs', json_build_object('p50', round(g.r50::numeric, 3), 'p90', round(g.r90::numeric, 3),
                                           'p99', round(g.r99::numeric, 3)),
            'topErrors', coalesce(e.errors, '[]')) AS doc
        FROM g LEFT JOIN e ON e.lvl = g.lvl AND e.ag IS NOT DISTINCT FROM g.ag
                          AND e.task IS NOT DISTINCT FROM g.task)
    SELECT json_build_object(
        'windowSeconds', $1,
        'agent', $2,
        'since', now() - make_interval(secs => $1),
        'generatedAt', now(),
        'overall', (SELECT doc FROM s WHERE lvl = 3),
        'byAgent', (SELECT coalesce(json_agg(doc ORDER BY ag), '[]') FROM s WHERE lvl = 1),
        'byTask', (SELECT coalesce(json_agg(doc ORDER BY ag, task), '[]') FROM s WHERE lvl = 0))
$$;
