/* queries — the gateway's SQL, one entry per statement (see queries.h). */
#include "gateway/db/queries.h"

#include "gateway/jobs/jobjson.h"
#include "gateway/memory/search_sql.h"

/* Job inserts, single (group commit) and batch: $1 is a JSON array of rows {i, agent,
 * payload, priority, run_at, max_attempts, timeout, key}. Ids are drawn up front so each
 * input row can be matched to its inserted row; ON CONFLICT skips rows whose idempotency
 * key exists. Rows without a key are inserted apart from the others: ON CONFLICT makes every
 * row of its INSERT a speculative insertion (an arbiter-index probe and an extra WAL record
 * each), which cost keyless rows about 15% of the batch route's throughput. Both INSERTs
 * share one statement, so the announce trigger still fires once, with every row. CTEs
 * `input` and `ins` (RETURNING the given columns). A group commit without keys has a plain
 * form that needs none of this (Q_JOBS_INSERT_PLAIN). The macros: a row's columns in $1, and
 * what an insert writes from them. */
/* clang-format off */
#define JOBS_ROW_COLUMNS                                                                         \
    "i int, agent text, payload jsonb, priority int, run_at float8, max_attempts int,"          \
    " timeout int"
/* clang-format on */
#define JOBS_INSERT_COLUMNS "target_agent, payload, priority, run_at, max_attempts, timeout_seconds"
/* clang-format off */
#define JOBS_INSERT_VALUES                                                                       \
    "agent, payload, coalesce(priority, 2), coalesce(to_timestamp(run_at), now()),"              \
    " coalesce(max_attempts, 3), timeout"
/* clang-format on */
/* clang-format off */
#define JOBS_INSERT_INTO                                                                         \
    "  INSERT INTO job_queue (id, " JOBS_INSERT_COLUMNS ", idempotency_key)"                      \
    "  SELECT id, " JOBS_INSERT_VALUES ", key FROM input"
/* clang-format on */
/* clang-format off */
#define JOBS_INSERT_CTES(returning)                                                              \
    "WITH input AS MATERIALIZED ("                                                               \
    "  SELECT t.*, nextval('job_queue_id_seq') AS id"                                            \
    "  FROM jsonb_to_recordset($1::jsonb) AS t(" JOBS_ROW_COLUMNS ", key text)),"                \
    " keyed AS (" JOBS_INSERT_INTO " WHERE key IS NOT NULL ORDER BY i"                          \
    "  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"               \
    "  RETURNING " returning "),"                                                                \
    " keyless AS (" JOBS_INSERT_INTO " WHERE key IS NULL ORDER BY i RETURNING " returning "),"  \
    " ins AS (SELECT * FROM keyed UNION ALL SELECT * FROM keyless)"
/* clang-format on */

/* A list page within the response budget, for lists whose rows can be large. ids is a query
 * of the page's candidates as (id, rn) with rn 1..limit+1 in the list's order (one more
 * than the limit when there is a next page); render, followed by an id, is a query of that
 * row's JSON. The rows are rendered one at a time (w), in order, and the walk stops at the
 * limit or at the first row that takes the page's text (each row and a comma) over budget,
 * so PostgreSQL renders at most one row more than it sends. p is each rendered row with
 * `kept`: the first always (so paging moves on, even past a row larger than the budget),
 * then those within budget; the kept rows are a prefix of the page. LIST_PAGE_ROWS is their
 * JSON array, LIST_PAGE_MORE whether any candidate was left for the next page,
 * LIST_PAGE_LAST_ID the last kept row's id (a keyset cursor). */
/* clang-format off */
#define LIST_PAGE_CTES(ids, render, limit, budget)                                               \
    "WITH RECURSIVE c AS (SELECT array_agg(x.id ORDER BY x.rn) AS ids FROM (" ids ") x),"        \
    " w AS (SELECT 1 AS rn, c.ids[1] AS id, d.doc, octet_length(d.doc::text) + 1 AS total"       \
    "       FROM c, LATERAL (" render "c.ids[1]) d(doc) WHERE cardinality(c.ids) > 0"            \
    "  UNION ALL"                                                                                \
    "  SELECT w.rn + 1, c.ids[w.rn + 1], d.doc, w.total + octet_length(d.doc::text) + 1"         \
    "  FROM w, c, LATERAL (" render "c.ids[w.rn + 1]) d(doc)"                                    \
    "  WHERE w.rn < " limit " AND w.rn < cardinality(c.ids) AND w.total <= " budget "),"         \
    " p AS (SELECT w.*, w.rn = 1 OR w.total <= " budget " AS kept FROM w) "
#define LIST_PAGE_ROWS                                                                           \
    "coalesce(array_to_json(array_agg(p.doc ORDER BY p.rn) FILTER (WHERE p.kept)), '[]')"
#define LIST_PAGE_MORE "(SELECT cardinality(c.ids) FROM c) > count(*) FILTER (WHERE p.kept)"
#define LIST_PAGE_LAST_ID "(array_agg(p.id ORDER BY p.rn DESC) FILTER (WHERE p.kept))[1]"
/* clang-format on */

/* clang-format off */
const struct pgpool_stmt queries[Q__COUNT] = {
    [Q_PING] = {"fs_ping", "SELECT 1"},

    [Q_AUTH_LOOKUP] = {"fs_auth_lookup",
        "SELECT role FROM api_keys WHERE key_hash = $1::text AND revoked_at IS NULL"},

    /* The key cache's poll (auth.c), past revision $1: the oldest and newest revisions kept,
     * and the hashes of the keys changed since, separated by spaces ('*': drop every key,
     * also when more than 100 statements changed keys; NULL: nothing changed). Three probes
     * of the log's primary key. */
    [Q_AUTH_CHANGES] = {"fs_auth_changes",
        "WITH c AS (SELECT hashes FROM api_key_changes WHERE revision > $1::bigint"
        "           ORDER BY revision LIMIT 101)"
        " SELECT (SELECT min(revision) FROM api_key_changes),"
        "        (SELECT max(revision) FROM api_key_changes),"
        "        CASE WHEN count(*) > 100 OR bool_or(hashes IS NULL) THEN '*'"
        "             ELSE nullif(string_agg(array_to_string(hashes, ' '), ' '), '') END"
        " FROM c"},

    /* Group commit (rows as in JOBS_INSERT_CTES), answered as (i, job, created): a row
     * skipped by ON CONFLICT is answered with the job that holds its idempotency key (NULL
     * when that job is not yet visible: the caller retries it). That job is looked up per
     * skipped row, through the key's index: a join with job_queue here was planned (once,
     * generically, while the table was small) as a hash join over the whole table. */
    [Q_JOBS_INSERT] = {"fs_jobs_insert",
        JOBS_INSERT_CTES("id, fs_job_json(job_queue) AS job")
        " SELECT input.i,"
        "        coalesce(ins.job, (SELECT fs_job_json(e) FROM job_queue e"
        "                           WHERE e.idempotency_key = input.key)),"
        "        ins.id IS NOT NULL"
        " FROM input LEFT JOIN ins ON ins.id = input.id"},

    /* The group commit's plain form (batcher_kind.plain_stmt), for a batch in which no row
     * has an idempotency key: one INSERT of $1's rows (as above) answered with each new
     * job's columns (gateway/jobs/jobjson.h prints its JSON), id first, in any order. The ids
     * come from the column default as jsonb_to_recordset returns the array's elements, in
     * order, and the batcher writes the items in order, so they rise in item order;
     * gateway/jobs/idrank.c matches rows to items by that. (An ORDER BY i would only add a
     * sort.) Without the CTE, the join, the key arm and row_to_json, PostgreSQL runs about
     * a third fewer instructions a statement (make bench-instructions). */
    [Q_JOBS_INSERT_PLAIN] = {"fs_jobs_insert_plain",
        "INSERT INTO job_queue (" JOBS_INSERT_COLUMNS ")"
        " SELECT " JOBS_INSERT_VALUES
        " FROM jsonb_to_recordset($1::jsonb) AS t(" JOBS_ROW_COLUMNS ")"
        " RETURNING " JOBJSON_COLUMNS},

    /* POST /api/jobs/batch: the same rows in one statement, answered in item order as
     * (i, id, created) without the jobs' JSON. An item whose idempotency key already exists
     * gets that job's id; NULL when its winner is still being inserted by another
     * statement. The hashed IN keeps the answer linear in the number of items. */
    [Q_JOBS_INSERT_BATCH] = {"fs_jobs_insert_batch",
        JOBS_INSERT_CTES("id")
        " SELECT x.i, CASE WHEN x.created THEN x.id"
        "                  ELSE (SELECT e.id FROM job_queue e WHERE e.idempotency_key = x.key) END,"
        "        x.created"
        " FROM (SELECT input.i, input.id, input.key, input.id IN (SELECT id FROM ins) AS created"
        "       FROM input) x"
        " ORDER BY x.i"},

    [Q_JOB_GET] = {"fs_job_get",
        "SELECT fs_job_json(j) FROM job_queue j WHERE j.id = $1::bigint"},

    /* List answers are printed by row_to_json over a one-row page and array_to_json over
     * array_agg, which write JSON without spaces as fs_job_json does; json_build_object and
     * json_agg would write {"jobs" : [{…}, {…}]}. Pages of rows that can be large are cut
     * to the response budget here (LIST_PAGE_CTES), so neither libpq nor the reply ever holds
     * more. */

    /* Keyset pagination, newest first: one row more than asked tells whether a next page
     * exists. $1 status, $2 agent, $3 cursor (exclusive upper id), $4 limit, $5 budget. */
    [Q_JOBS_LIST] = {"fs_jobs_list",
        LIST_PAGE_CTES(
        "SELECT j.id, row_number() OVER (ORDER BY j.id DESC) AS rn FROM job_queue j"
        " WHERE ($1::text IS NULL OR j.status = $1::text)"
        "   AND ($2::text IS NULL OR j.target_agent = $2::text)"
        "   AND ($3::bigint IS NULL OR j.id < $3::bigint)"
        " ORDER BY j.id DESC LIMIT $4::int + 1",
        "SELECT fs_job_json(j) FROM job_queue j WHERE j.id = ", "$4::int", "$5::bigint")
        "SELECT row_to_json(page) FROM (SELECT " LIST_PAGE_ROWS " AS jobs,"
        "  CASE WHEN " LIST_PAGE_MORE " THEN " LIST_PAGE_LAST_ID "::text END AS \"nextCursor\""
        " FROM p) page"},

    /* Pending jobs in claim order; $1 agent (NULL: all), $2 cursor (the id of the last job
     * of the previous page: the page goes on after that job's place in the order, where it
     * is now) or NULL, $3 limit, $4 budget. NULL when the cursor names no job. */
    [Q_JOBS_PENDING] = {"fs_jobs_pending",
        LIST_PAGE_CTES(
        "SELECT j.id, row_number() OVER (ORDER BY j.priority DESC, j.run_at, j.id) AS rn"
        " FROM job_queue j LEFT JOIN job_queue c ON c.id = $2::bigint"
        " WHERE j.status = 'pending' AND ($1::text IS NULL OR j.target_agent = $1::text)"
        "   AND ($2::bigint IS NULL OR j.priority < c.priority"
        "        OR (j.priority = c.priority AND (j.run_at, j.id) > (c.run_at, c.id)))"
        " ORDER BY j.priority DESC, j.run_at, j.id LIMIT $3::int + 1",
        "SELECT fs_job_json(j) FROM job_queue j WHERE j.id = ", "$3::int", "$4::bigint")
        "SELECT row_to_json(page) FROM (SELECT " LIST_PAGE_ROWS " AS jobs,"
        "  CASE WHEN " LIST_PAGE_MORE " THEN " LIST_PAGE_LAST_ID "::text END AS \"nextCursor\""
        " FROM p) page"
        " WHERE $2::bigint IS NULL OR EXISTS (SELECT 1 FROM job_queue c WHERE c.id = $2::bigint)"},

    /* Returns the status before the change and the job after it (unchanged when the
     * transition is not allowed or is a no-op; the caller tells which). $1 id, $2 status,
     * $3 result (jsonb text or NULL), $4 error text or NULL. */
    [Q_JOB_SET_STATUS] = {"fs_job_set_status",
        "WITH cur AS (SELECT j.status, fs_job_json(j) AS job FROM job_queue j"
        "             WHERE j.id = $1::bigint FOR UPDATE),"
        " upd AS ("
        "  UPDATE job_queue j SET status = $2::text,"
        "    attempts = CASE WHEN $2::text = 'running' THEN j.attempts + 1 ELSE j.attempts END,"
        "    started_at = CASE WHEN $2::text = 'running' THEN now() ELSE j.started_at END,"
        "    processed_at = CASE WHEN $2::text IN ('completed', 'failed', 'cancelled') THEN now()"
        "                   ELSE NULL END,"
        "    locked_by = CASE WHEN $2::text = 'running' THEN j.locked_by END,"
        "    locked_until = CASE WHEN $2::text = 'running' THEN j.locked_until END,"
        "    result = coalesce($3::jsonb, j.result),"
        "    last_error = coalesce($4::text, j.last_error)"
        "  FROM cur WHERE j.id = $1::bigint AND cur.status <> $2::text"
        "    AND cur.status IN ('pending', 'running')"
        "  RETURNING fs_job_json(j) AS job)"
        " SELECT cur.status, coalesce((SELECT job FROM upd), cur.job) FROM cur"},

    /* Outcomes with fencing (fs_jobs_complete and fs_jobs_fail in sql/002_jobs.sql), as columns that
     * gateway/jobs/reportcols.h renders, one element per report with distinct ids: $1 ids,
     * $2 attempts, $3 results as a JSON array (null where there is none), $4 whether to
     * return each applied job's JSON (single reports answer with it, batches do not). Rows
     * come back in report order as (i, outcome, status, job, attempts, id, reported attempt),
     * i the report's position from 0: one for each report a completion did not apply
     * (not_found, conflict), and for the applied ones too when $4. */
    [Q_JOBS_COMPLETE] = {"fs_jobs_complete",
        "SELECT i, outcome, status, job, attempts, id, reported"
        " FROM fs_jobs_complete($1::bigint[], $2::int[], $3::jsonb, $4::bool) ORDER BY i"},

    /* As above, one row for every report; $4 the errors as a JSON array of strings, $5
     * retryable, $6 whether to return each applied job's JSON, $7 and $8 the retry
     * backoff's base and cap in milliseconds. */
    [Q_JOBS_FAIL] = {"fs_jobs_fail",
        "SELECT i, outcome, status, job, attempts, id, reported"
        " FROM fs_jobs_fail($1::bigint[], $2::int[], $3::jsonb, $4::jsonb, $5::bool[], $6::bool,"
        " $7::int, $8::int) ORDER BY i"},

    /* Cancel: pending -> cancelled now; running -> cancel_requested (the worker stops at its
     * next lease renewal). Returns the status before and the job after (unchanged when it
     * was already finished); no row when there is no such job. $1 id. */
    [Q_JOB_CANCEL] = {"fs_job_cancel",
        "WITH cur AS (SELECT j.id, j.status, fs_job_json(j) AS job FROM job_queue j"
        "             WHERE j.id = $1::bigint FOR UPDATE),"
        " upd AS ("
        "  UPDATE job_queue j SET"
        "    status = CASE WHEN cur.status = 'pending' THEN 'cancelled' ELSE j.status END,"
        "    processed_at = CASE WHEN cur.status = 'pending' THEN now() ELSE j.processed_at END,"
        "    last_error = CASE WHEN cur.status = 'pending' THEN 'cancelled' ELSE j.last_error END,"
        "    cancel_requested = (cur.status = 'running')"
        "  FROM cur WHERE j.id = cur.id AND cur.status IN ('pending', 'running')"
        "  RETURNING fs_job_json(j) AS job)"
        " SELECT cur.status, coalesce((SELECT job FROM upd), cur.job) FROM cur"},

    /* Retry: failed or cancelled -> pending now, with a fresh budget of the old max_attempts
     * on top of the attempts made (attempts never decreases: it is the fencing token). The
     * last error is kept for the record; the result is cleared. Same shape as cancel. */
    [Q_JOB_RETRY] = {"fs_job_retry",
        "WITH cur AS (SELECT j.id, j.status, fs_job_json(j) AS job FROM job_queue j"
        "             WHERE j.id = $1::bigint FOR UPDATE),"
        " upd AS ("
        "  UPDATE job_queue j SET status = 'pending', run_at = now(), processed_at = NULL,"
        "    max_attempts = least(j.attempts::bigint + j.max_attempts, 2147483647)::int,"
        "    cancel_requested = false, result = NULL, locked_by = NULL, locked_until = NULL"
        "  FROM cur WHERE j.id = cur.id AND cur.status IN ('failed', 'cancelled')"
        "  RETURNING fs_job_json(j) AS job)"
        " SELECT cur.status, coalesce((SELECT job FROM upd), cur.job) FROM cur"},

    /* Long-poll re-reads: $1 an array of ids. Rows (id, finished, job) ordered by id; a job
     * that no longer exists has no row. */
    [Q_JOBS_GET_MANY] = {"fs_jobs_get_many",
        "SELECT j.id, j.status IN ('completed', 'failed', 'cancelled'), fs_job_json(j)"
        " FROM job_queue j WHERE j.id = ANY($1::bigint[]) ORDER BY j.id"},

    /* $1 retention seconds, $2 prune or not, $3 most rows pruned, $4 due window in ms. Finished
     * workflow runs are pruned in the same transaction (fs_wf_prune, 010), as "runsPruned";
     * a sweep that another gateway's holds off answers NULL as before. */
    [Q_SWEEP] = {"fs_sweep",
        "SELECT (fs_sweep($1::int, $2::bool, $3::int, $4::int)::jsonb"
        " || jsonb_build_object('runsPruned', fs_wf_prune($1::int, $2::bool, $3::int)))::json"},

    [Q_AGENT_REGISTER] = {"fs_agent_register",
        "INSERT INTO agent_states AS a (agent_name, state) VALUES ($1::text, $2::jsonb)"
        " ON CONFLICT (agent_name) DO UPDATE SET state = EXCLUDED.state, updated_at = now()"
        " RETURNING (a.xmax = 0) AS created, fs_agent_json(a)"},

    /* By name, after the name $1 (the previous page's nextCursor) or from the start; $2
     * limit, $3 budget (an agent's state can be large). */
    [Q_AGENTS_LIST] = {"fs_agents_list",
        LIST_PAGE_CTES(
        "SELECT a.id, row_number() OVER (ORDER BY a.agent_name) AS rn FROM agent_states a"
        " WHERE $1::text IS NULL OR a.agent_name > $1::text"
        " ORDER BY a.agent_name LIMIT $2::int + 1",
        "SELECT fs_agent_json(a) FROM agent_states a WHERE a.id = ", "$2::int", "$3::bigint")
        "SELECT row_to_json(page) FROM (SELECT " LIST_PAGE_ROWS " AS agents,"
        "  CASE WHEN " LIST_PAGE_MORE " THEN (SELECT a.agent_name FROM agent_states a"
        "    WHERE a.id = " LIST_PAGE_LAST_ID ") END AS \"nextCursor\""
        " FROM p) page"},

    [Q_AGENT_GET] = {"fs_agent_get",
        "SELECT fs_agent_json(a) FROM agent_states a WHERE a.agent_name = $1::text"},

    /* $3: true merges the given keys into the state, false replaces it. */
    [Q_AGENT_UPDATE] = {"fs_agent_update",
        "UPDATE agent_states a SET"
        "  state = CASE WHEN $3::bool THEN a.state || $2::jsonb ELSE $2::jsonb END,"
        "  updated_at = now()"
        " WHERE a.agent_name = $1::text RETURNING fs_agent_json(a)"},

    /* metadata.timestamp defaults to the time of storage (the seed orders memories by it).
     * $3 embedding (real[] text) and $4 its model, both NULL when none was computed. */
    [Q_DOCUMENT_INSERT] = {"fs_document_insert",
        "INSERT INTO documents AS d (content, metadata, embedding, embedding_model)"
        " VALUES ($1::text, CASE WHEN $2::jsonb ? 'timestamp' THEN $2::jsonb"
        "         ELSE $2::jsonb || jsonb_build_object('timestamp', now()) END,"
        "         $3::real[], $4::text)"
        " RETURNING fs_document_json(d)"},

    [Q_DOCUMENT_GET] = {"fs_document_get",
        "SELECT fs_document_json(d) FROM documents d WHERE d.id = $1::bigint"},

    /* Every memory query starts with the six filter parameters MEMORY_MATCH reads
     * (search_sql.h). */

    /* Listing: $7 sort ('recent' or 'importance'), $8 offset (the cursor), $9 limit, $10
     * budget. One row more than asked says whether there is a next page. */
    [Q_DOCUMENTS_LIST] = {"fs_documents_list",
        LIST_PAGE_CTES(
        "SELECT q.id, row_number() OVER (ORDER BY q.imp DESC NULLS LAST, q.t DESC, q.id DESC) AS rn"
        " FROM (SELECT d.id, fs_memory_time(d.metadata, d.created_at) AS t,"
        "              CASE WHEN $7::text = 'importance'"
        "                   THEN fs_memory_importance(d.metadata) END AS imp"
        "       FROM documents d WHERE " MEMORY_MATCH("d")
        "       ORDER BY imp DESC NULLS LAST, t DESC, d.id DESC"
        "       LIMIT $9::int + 1 OFFSET $8::int) q",
        "SELECT fs_document_json(d) FROM documents d WHERE d.id = ", "$9::int", "$10::bigint")
        "SELECT row_to_json(page) FROM (SELECT " LIST_PAGE_ROWS " AS documents,"
        "  CASE WHEN " LIST_PAGE_MORE
        "  THEN ($8::int + count(*) FILTER (WHERE p.kept))::text END AS \"nextCursor\""
        " FROM p) page"},

    /* Keyword search: $7 query (websearch syntax), $8 limit. */
    [Q_DOCUMENTS_SEARCH] = {"fs_documents_search",
        "SELECT row_to_json(page) FROM (SELECT 'keyword' AS mode,"
        "  coalesce(array_to_json(array_agg(r.doc ORDER BY r.rank DESC, r.id DESC)), '[]')"
        "    AS documents"
        " FROM (SELECT d.id, s.rank, fs_document_json_with(d, ',\"rank\":' || s.rank) AS doc"
        "       FROM documents d, websearch_to_tsquery('english', $7::text) q,"
        "            LATERAL (SELECT ts_rank(d.search_vector, q) AS rank) s"
        "       WHERE d.search_vector @@ q AND " MEMORY_MATCH("d")
        "       ORDER BY s.rank DESC, d.id DESC LIMIT $8::int) r) page"},

    /* Semantic search, an exact scan: $7 the query's embedding, $8 its model, $9 limit.
     * Only documents embedded by the same model are compared. */
    [Q_DOCUMENTS_SEMANTIC] = {"fs_documents_semantic",
        "SELECT row_to_json(page) FROM (SELECT 'semantic' AS mode, $8::text AS model,"
        "  " SCORED_DOCUMENTS_JSON " AS documents"
        " FROM (SELECT x.id, x.score FROM"
        "        (SELECT d.id, fs_embedding_dot(d.embedding, $7::real[]) AS score"
        "         FROM documents d WHERE d.embedding_model = $8::text AND " MEMORY_MATCH("d") " OFFSET 0) x"
        "       WHERE x.score > 0 ORDER BY x.score DESC, x.id DESC LIMIT $9::int) s"
        " JOIN documents d ON d.id = s.id) page"},

    /* Hybrid search, reciprocal rank fusion: the best $11 keyword matches and the best $11
     * semantic matches, fused as wk/(60 + keyword rank) + ws/(60 + semantic rank). $7 query
     * text, $8 its embedding, $9 model, $10 limit, $12 wk, $13 ws. */
    [Q_DOCUMENTS_HYBRID] = {"fs_documents_hybrid",
        HYBRID_KEYWORD_CTE
        " sem AS ("
        "  SELECT x.id, row_number() OVER (ORDER BY x.score DESC, x.id DESC) AS r"
        "  FROM (SELECT d.id, fs_embedding_dot(d.embedding, $8::real[]) AS score"
        "        FROM documents d WHERE d.embedding_model = $9::text AND " MEMORY_MATCH("d") " OFFSET 0) x"
        "  WHERE x.score > 0 ORDER BY x.score DESC, x.id DESC LIMIT $11::int),"
        HYBRID_FUSION},

    /* Documents like document $7 (same model, itself excluded): $8 limit. NULL (404) when
     * there is no document $7. */
    [Q_DOCUMENT_SIMILAR] = {"fs_document_similar",
        "SELECT CASE WHEN src.id IS NOT NULL THEN (SELECT row_to_json(page) FROM (SELECT"
        "  src.id, src.embedding_model AS model,"
        "  (SELECT " SCORED_DOCUMENTS_JSON
        "   FROM (SELECT x.id, x.score FROM"
        "          (SELECT d.id, fs_embedding_dot(d.embedding, src.embedding) AS score"
        "           FROM documents d WHERE d.embedding_model = src.embedding_model"
        "             AND d.id <> src.id AND " MEMORY_MATCH("d") " OFFSET 0) x"
        "         WHERE x.score > 0 ORDER BY x.score DESC, x.id DESC LIMIT $8::int) s"
        "   JOIN documents d ON d.id = s.id) AS documents) page) END"
        " FROM (SELECT 1) one LEFT JOIN documents src ON src.id = $7::bigint"},

    /* Clustering input: id, embedding, the first 2000 characters of content and metadata
     * of the memories matching the filters that model $7 embedded, at most $8 rows (the
     * caller asks one more than it accepts). */
    [Q_DOCUMENTS_EMBEDDINGS] = {"fs_documents_embeddings",
        "SELECT d.id, d.embedding, left(d.content, 2000), d.metadata FROM documents d"
        " WHERE d.embedding_model = $7::text AND cardinality(d.embedding) > 0"
        "   AND " MEMORY_MATCH("d") " ORDER BY d.id LIMIT $8::int"},

    /* The vector cache (vectors.c, documents.c). The ids of the memories of model $7 that
     * pass the filters, for a filtered search over the cache. */
    [Q_DOCUMENTS_FILTER_IDS] = {"fs_documents_filter_ids",
        "SELECT coalesce(array_agg(d.id), '{}') FROM documents d"
        " WHERE d.embedding_model = $7::text AND " MEMORY_MATCH("d")},

    /* Q_DOCUMENTS_SEMANTIC over the candidate ids $10 the cache found: the same scores,
     * order and filters, computed for a few rows only. */
    [Q_DOCUMENTS_SEMANTIC_IDS] = {"fs_documents_semantic_ids",
        "SELECT row_to_json(page) FROM (SELECT 'semantic' AS mode, $8::text AS model,"
        "  " SCORED_DOCUMENTS_JSON " AS documents"
        " FROM (SELECT x.id, x.score FROM"
        "        (SELECT d.id, fs_embedding_dot(d.embedding, $7::real[]) AS score"
        "         FROM documents d WHERE d.id = ANY($10::bigint[]) AND d.embedding_model = $8::text"
        "           AND " MEMORY_MATCH("d") " OFFSET 0) x"
        "       WHERE x.score > 0 ORDER BY x.score DESC, x.id DESC LIMIT $9::int) s"
        " JOIN documents d ON d.id = s.id) page"},

    /* Q_DOCUMENTS_HYBRID with its semantic side over the candidate ids $14. */
    [Q_DOCUMENTS_HYBRID_IDS] = {"fs_documents_hybrid_ids",
        HYBRID_KEYWORD_CTE
        " sem AS ("
        "  SELECT x.id, row_number() OVER (ORDER BY x.score DESC, x.id DESC) AS r"
        "  FROM (SELECT d.id, fs_embedding_dot(d.embedding, $8::real[]) AS score"
        "        FROM documents d WHERE d.id = ANY($14::bigint[]) AND d.embedding_model = $9::text"
        "          AND " MEMORY_MATCH("d") " OFFSET 0) x"
        "  WHERE x.score > 0 ORDER BY x.score DESC, x.id DESC LIMIT $11::int),"
        HYBRID_FUSION},

    /* Q_DOCUMENT_SIMILAR over the candidate ids $9. */
    [Q_DOCUMENT_SIMILAR_IDS] = {"fs_document_similar_ids",
        "SELECT CASE WHEN src.id IS NOT NULL THEN (SELECT row_to_json(page) FROM (SELECT"
        "  src.id, src.embedding_model AS model,"
        "  (SELECT " SCORED_DOCUMENTS_JSON
        "   FROM (SELECT x.id, x.score FROM"
        "          (SELECT d.id, fs_embedding_dot(d.embedding, src.embedding) AS score"
        "           FROM documents d WHERE d.id = ANY($9::bigint[])"
        "             AND d.embedding_model = src.embedding_model"
        "             AND d.id <> src.id AND " MEMORY_MATCH("d") " OFFSET 0) x"
        "         WHERE x.score > 0 ORDER BY x.score DESC, x.id DESC LIMIT $8::int) s"
        "   JOIN documents d ON d.id = s.id) AS documents) page) END"
        " FROM (SELECT 1) one LEFT JOIN documents src ON src.id = $7::bigint"},

    /* Loading the cache: the next keyset page after id $2 of model $1's embeddings of $3
     * dimensions, $4 rows. */
    [Q_VECTORS_PAGE] = {"fs_vectors_page",
        "SELECT d.id, d.embedding FROM documents d"
        " WHERE d.embedding_model = $1::text AND d.id > $2::bigint"
        "   AND cardinality(d.embedding) = $3::int ORDER BY d.id LIMIT $4::int"},

    /* Re-reading notified documents $1: a row per id still there, its embedding NULL unless
     * model $2 made it with $3 dimensions. */
    [Q_VECTORS_FETCH] = {"fs_vectors_fetch",
        "SELECT d.id, CASE WHEN d.embedding_model = $2::text AND cardinality(d.embedding) = $3::int"
        "                  THEN d.embedding END"
        " FROM documents d WHERE d.id = ANY($1::bigint[])"},

    /* Whether sql/003_memory.sql made the untyped vector column (pgvector.c). Names
     * no pgvector type, so it prepares on any server. */
    [Q_PGVECTOR_PROBE] = {"fs_pgvector_probe",
        "SELECT coalesce((SELECT format_type(a.atttypid, a.atttypmod) = 'vector'"
        "                 FROM pg_attribute a WHERE a.attrelid = 'documents'::regclass"
        "                   AND a.attname = 'embedding_vec' AND NOT a.attisdropped), false)"},

    /* $1 name, $2 role, $3 key hash, $4 shown prefix. */
    [Q_KEY_INSERT] = {"fs_key_insert",
        "INSERT INTO api_keys AS k (name, role, key_hash, key_prefix)"
        " VALUES ($1::text, $2::text, $3::text, $4::text) RETURNING fs_key_json(k)"},

    [Q_KEYS_LIST] = {"fs_keys_list",
        "SELECT row_to_json(page) FROM (SELECT"
        "  coalesce(array_to_json(array_agg(fs_key_json(k) ORDER BY k.id)), '[]') AS keys"
        " FROM api_keys k) page"},

    /* Returns the key's JSON and its hash (to evict it from the gateway's cache). */
    [Q_KEY_REVOKE] = {"fs_key_revoke",
        "UPDATE api_keys k SET revoked_at = coalesce(k.revoked_at, now())"
        " WHERE k.id = $1::bigint RETURNING fs_key_json(k), k.key_hash"},

    /* Inter-agent messages (sql/005_api.sql): the message and its delivery job in one
     * statement. $1 from, $2 to, $3 text, $4 type, $5 requires_response, $6 reply_to (NULL,
     * or an existing message: no row otherwise). A second reply to one message is a unique
     * violation (409). */
    [Q_MESSAGE_SEND] = {"fs_message_send",
        "WITH m AS ("
        "  INSERT INTO agent_messages AS am (from_agent, to_agent, message, message_type,"
        "                                    requires_response, reply_to, job_id)"
        "  SELECT $1::text, $2::text, $3::text, $4::text, $5::bool, $6::bigint,"
        "         nextval('job_queue_id_seq')"
        "  WHERE $6::bigint IS NULL OR EXISTS (SELECT 1 FROM agent_messages r WHERE r.id = $6::bigint)"
        "  RETURNING am.*),"
        " j AS ("
        "  INSERT INTO job_queue (id, target_agent, payload, priority)"
        "  SELECT m.job_id, m.to_agent, jsonb_build_object('type', 'inter_agent_message',"
        "         'taskType', 'inter_agent_message', 'messageId', m.id, 'fromAgent', m.from_agent,"
        "         'message', m.message, 'messageType', m.message_type,"
        "         'requiresResponse', m.requires_response, 'replyTo', m.reply_to), 3"
        "  FROM m RETURNING id)"
        " SELECT fs_message_json(m::agent_messages, 'sent') FROM m, j"},

    [Q_MESSAGE_GET] = {"fs_message_get",
        "SELECT fs_message_json(m, fs_message_status(m)) FROM agent_messages m WHERE m.id = $1::bigint"},

    /* Newest first with a keyset cursor. $1 agent, $2 direction (in, out, all), $3 cursor
     * (exclusive upper id) or NULL, $4 limit, $5 budget. */
    [Q_MESSAGES_LIST] = {"fs_messages_list",
        LIST_PAGE_CTES(
        "SELECT m.id, row_number() OVER (ORDER BY m.id DESC) AS rn FROM agent_messages m"
        " WHERE (($2::text IN ('in', 'all') AND m.to_agent = $1::text)"
        "     OR ($2::text IN ('out', 'all') AND m.from_agent = $1::text))"
        "   AND ($3::bigint IS NULL OR m.id < $3::bigint)"
        " ORDER BY m.id DESC LIMIT $4::int + 1",
        "SELECT fs_message_json(m, fs_message_status(m)) FROM agent_messages m WHERE m.id = ",
        "$4::int", "$5::bigint")
        "SELECT row_to_json(page) FROM (SELECT " LIST_PAGE_ROWS " AS messages,"
        "  CASE WHEN " LIST_PAGE_MORE " THEN " LIST_PAGE_LAST_ID "::text END AS \"nextCursor\""
        " FROM p) page"},

    /* Shared memory (sql/007_shared_memory.sql). $1 scope, $2 scope id, $3 key. One entry
     * and its version (the ETag). */
    [Q_SHARED_GET] = {"fs_shared_get",
        "SELECT fs_shared_json(s), s.version FROM shared_memory s"
        " WHERE s.scope = $1::text AND s.scope_id = $2::text AND s.key = $3::text"},

    /* $4 value, $5 expected version (NULL: none), $6 updated by; (outcome, version, entry). */
    [Q_SHARED_PUT] = {"fs_shared_put",
        "SELECT outcome, version, entry"
        " FROM fs_shared_put($1::text, $2::text, $3::text, $4::jsonb, $5::bigint, $6::text)"},

    /* $4 expected version (NULL: none); (outcome, version, entry). */
    [Q_SHARED_DELETE] = {"fs_shared_delete",
        "SELECT outcome, version, entry FROM fs_shared_delete($1::text, $2::text, $3::text, $4::bigint)"},

    /* A scope's entries in key order (the primary key's), with a keyset cursor: $3 the last
     * key of the previous page or NULL, $4 limit, $5 budget. */
    [Q_SHARED_LIST] = {"fs_shared_list",
        LIST_PAGE_CTES(
        "SELECT s.key AS id, row_number() OVER (ORDER BY s.key) AS rn FROM shared_memory s"
        " WHERE s.scope = $1::text AND s.scope_id = $2::text AND ($3::text IS NULL OR s.key > $3::text)"
        " ORDER BY s.key LIMIT $4::int + 1",
        "SELECT fs_shared_json(s) FROM shared_memory s"
        " WHERE s.scope = $1::text AND s.scope_id = $2::text AND s.key = ",
        "$4::int", "$5::bigint")
        "SELECT row_to_json(page) FROM (SELECT " LIST_PAGE_ROWS " AS entries,"
        "  CASE WHEN " LIST_PAGE_MORE " THEN " LIST_PAGE_LAST_ID " END AS \"nextCursor\""
        " FROM p) page"},

    [Q_WORKER_AGENTS] = {"fs_worker_agents",
        "SELECT row_to_json(page) FROM (SELECT"
        "  coalesce(array_to_json(array_agg(fs_agent_summary(a) ORDER BY a.agent_name)), '[]')"
        "    AS agents"
        " FROM agent_states a) page"},

    [Q_WORKER_AGENT_STATUS] = {"fs_worker_agent_status",
        "SELECT fs_agent_summary(a)::jsonb || jsonb_build_object('state', a.state)"
        " FROM agent_states a WHERE a.agent_name = $1::text"},

    /* $1: seconds without a heartbeat after which an agent that is not offline is stale. */
    [Q_SYSTEM_HEALTH] = {"fs_system_health", "SELECT fs_system_health($1::int)"},

    /* GET /api/stats/jobs: $1 window in seconds, $2 agent or NULL (sql/005_api.sql). */
    [Q_JOB_STATS] = {"fs_job_stats", "SELECT fs_job_stats($1::int, $2::text)"},

    /* POST /api/events: $1 type, $2 severity, $3 agent or NULL, $4 job id or NULL, $5 data. */
    [Q_EVENT_INSERT] = {"fs_event_insert",
        "INSERT INTO events (type, severity, agent_name, job_id, data)"
        " VALUES ($1::text, $2::text, $3::text, $4::bigint, $5::jsonb)"
        " RETURNING fs_event_json(events)"},

    /* The event log (sql/012_event_stream.sql) past position ($1 xid, $2 id), in log order:
     * at most $3 rows, and no more than fit in $4 bytes of JSON (the first always), taking
     * only rows whose transaction is below this statement's snapshot xmin (no row can appear
     * before them later). Every row carries that xmin, whether committed rows wait above it
     * (a long transaction holds them back: read again soon; the newest visible xid, one
     * index probe, says) and whether rows were left for
     * another read; with no rows, one row of only those three. Then id, xid, type, agent,
     * job id, run id, conversation id and the event's JSON. */
    [Q_EVENTS_READ] = {"fs_events_read",
        "WITH x AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),"
        " s AS (SELECT x.xmin, coalesce((SELECT h.xid FROM events h ORDER BY h.xid DESC LIMIT 1)"
        "                               >= x.xmin, false) AS held FROM x),"
        " r AS (SELECT e.*, fs_event_json(e)::text AS doc FROM events e, s"
        "       WHERE (e.xid, e.id) > ($1::xid8, $2::bigint) AND e.xid < s.xmin"
        "       ORDER BY e.xid, e.id LIMIT $3::int),"
        " k AS (SELECT r.*, row_number() OVER w AS rn, sum(octet_length(r.doc)) OVER w AS total"
        "       FROM r WINDOW w AS (ORDER BY r.xid, r.id)),"
        " kept AS (SELECT * FROM k WHERE k.rn = 1 OR k.total <= $4::bigint)"
        " SELECT s.xmin::text, s.held,"
        "        (SELECT count(*) FROM k) > (SELECT count(*) FROM kept)"
        "          OR (SELECT count(*) FROM k) = $3::int,"
        "        kept.id, kept.xid::text, kept.type, kept.agent_name, kept.job_id,"
        "        kept.data->>'runId', kept.data->>'conversationId', kept.doc"
        " FROM s LEFT JOIN kept ON true ORDER BY kept.xid, kept.id"},

    /* The log's end as a position (xid, id): the last event below the snapshot's xmin, or
     * ('0', 0) when there is none. */
    [Q_EVENTS_TAIL] = {"fs_events_tail",
        "SELECT coalesce((SELECT e.xid::text || ' ' || e.id FROM events e"
        "                 WHERE e.xid < pg_snapshot_xmin(pg_current_snapshot())"
        "                 ORDER BY e.xid DESC, e.id DESC LIMIT 1), '0 0')"},

    /* A Last-Event-ID's position: (xid, whether it is within $2 seconds of now); no row when
     * the event is not stored. */
    [Q_EVENT_POSITION] = {"fs_event_position",
        "SELECT e.xid::text, e.created_at >= now() - make_interval(secs => $2::int)"
        " FROM events e WHERE e.id = $1::bigint"},

    /* GET /api/events, newest first with a keyset cursor. $1 channel patterns, $2 type
     * patterns (text[] or NULL: fs_event_type_matches), $3 agent, $4 job id, $5 run id,
     * $6 conversation id (NULL: any), $7 cursor (exclusive upper id) or NULL, $8 limit,
     * $9 budget. */
    [Q_EVENTS_LIST] = {"fs_events_list",
        LIST_PAGE_CTES(
        "SELECT e.id, row_number() OVER (ORDER BY e.id DESC) AS rn FROM events e"
        " WHERE fs_event_type_matches(e.type, $1::text[])"
        "   AND fs_event_type_matches(e.type, $2::text[])"
        "   AND ($3::text IS NULL OR e.agent_name = $3::text)"
        "   AND ($4::bigint IS NULL OR e.job_id = $4::bigint)"
        "   AND ($5::text IS NULL OR (e.data ? 'runId' AND e.data->>'runId' = $5::text))"
        "   AND ($6::text IS NULL OR (e.data ? 'conversationId'"
        "                            AND e.data->>'conversationId' = $6::text))"
        "   AND ($7::bigint IS NULL OR e.id < $7::bigint)"
        " ORDER BY e.id DESC LIMIT $8::int + 1",
        "SELECT fs_event_json(e) FROM events e WHERE e.id = ",
        "$8::int", "$9::bigint")
        "SELECT row_to_json(page) FROM (SELECT " LIST_PAGE_ROWS " AS events,"
        "  CASE WHEN " LIST_PAGE_MORE " THEN " LIST_PAGE_LAST_ID "::text END AS \"nextCursor\""
        " FROM p) page"},

    /* Workflows (sql/006_workflows.sql; gateway/workflows/). Templates: $1 name, $2
     * definition, $3 description. A create answers no row when the name exists (409); a
     * put adds the next version, answered as (created: the first version, template). */
    [Q_WF_TEMPLATE_CREATE] = {"fs_wf_template_create",
        "INSERT INTO workflow_templates AS t (name, version, definition, description)"
        " SELECT $1::text, 1, $2::jsonb, $3::text"
        " WHERE NOT EXISTS (SELECT 1 FROM workflow_templates x WHERE x.name = $1::text)"
        " RETURNING fs_wf_template_json(t)"},

    [Q_WF_TEMPLATE_PUT] = {"fs_wf_template_put",
        "INSERT INTO workflow_templates AS t (name, version, definition, description)"
        " SELECT $1::text, coalesce(max(x.version), 0) + 1, $2::jsonb, $3::text"
        " FROM workflow_templates x WHERE x.name = $1::text"
        " RETURNING t.version = 1, fs_wf_template_json(t)"},

    /* $1 name, $2 version (NULL: the latest). */
    [Q_WF_TEMPLATE_GET] = {"fs_wf_template_get",
        "SELECT fs_wf_template_json(t) FROM workflow_templates t"
        " WHERE t.name = $1::text AND ($2::int IS NULL OR t.version = $2::int)"
        " ORDER BY t.version DESC LIMIT 1"},

    /* Every version of template $1; no row when there was none. Runs keep their copies. */
    [Q_WF_TEMPLATE_DELETE] = {"fs_wf_template_delete",
        "WITH d AS (DELETE FROM workflow_templates t WHERE t.name = $1::text RETURNING t.version)"
        " SELECT row_to_json(x) FROM (SELECT $1::text AS name, count(*) AS \"versionsDeleted\""
        "                             FROM d) x WHERE x.\"versionsDeleted\" > 0"},

    /* The latest version of each template, newest first. $1 cursor (exclusive upper id) or
     * NULL, $2 limit, $3 budget. */
    [Q_WF_TEMPLATES_LIST] = {"fs_wf_templates_list",
        LIST_PAGE_CTES(
        "SELECT t.id, row_number() OVER (ORDER BY t.id DESC) AS rn FROM workflow_templates t"
        " WHERE NOT EXISTS (SELECT 1 FROM workflow_templates n"
        "                   WHERE n.name = t.name AND n.version > t.version)"
        "   AND ($1::bigint IS NULL OR t.id < $1::bigint)"
        " ORDER BY t.id DESC LIMIT $2::int + 1",
        "SELECT fs_wf_template_json(t) FROM workflow_templates t WHERE t.id = ", "$2::int",
        "$3::bigint")
        "SELECT row_to_json(page) FROM (SELECT " LIST_PAGE_ROWS " AS templates,"
        "  CASE WHEN " LIST_PAGE_MORE " THEN " LIST_PAGE_LAST_ID "::text END AS \"nextCursor\""
        " FROM p) page"},

    /* Runs, answered as (created, run). $1 definition, $2 input, $3 idempotency key, $4
     * conversation id. */
    [Q_WF_RUN_START] = {"fs_wf_run_start",
        "SELECT created, run FROM fs_wf_start($1::jsonb, $2::jsonb, NULL, NULL, $3::text, $4::text)"},

    /* $1 template, $2 version (NULL: the latest), $3 input, $4 key, $5 conversation id; no
     * row when there is no such template. */
    [Q_WF_RUN_START_TEMPLATE] = {"fs_wf_run_start_template",
        "SELECT created, run FROM fs_wf_start_template($1::text, $2::int, $3::jsonb, $4::text,"
        " $5::text)"},

    [Q_WF_RUN_GET] = {"fs_wf_run_get",
        "SELECT fs_wf_run_json(w, true) FROM workflow_runs w WHERE w.id = $1::bigint"},

    /* Newest first. $1 status, $2 template, $3 cursor (exclusive upper id), $4 limit, $5
     * budget. */
    [Q_WF_RUNS_LIST] = {"fs_wf_runs_list",
        LIST_PAGE_CTES(
        "SELECT w.id, row_number() OVER (ORDER BY w.id DESC) AS rn FROM workflow_runs w"
        " WHERE ($1::text IS NULL OR w.status = $1::text)"
        "   AND ($2::text IS NULL OR w.template_name = $2::text)"
        "   AND ($3::bigint IS NULL OR w.id < $3::bigint)"
        " ORDER BY w.id DESC LIMIT $4::int + 1",
        "SELECT fs_wf_run_json(x, false) FROM workflow_runs x WHERE x.id = ", "$4::int",
        "$5::bigint")
        "SELECT row_to_json(page) FROM (SELECT " LIST_PAGE_ROWS " AS runs,"
        "  CASE WHEN " LIST_PAGE_MORE " THEN " LIST_PAGE_LAST_ID "::text END AS \"nextCursor\""
        " FROM p) page"},

    /* $1 run, $2 cancel, pause, resume or retry: (applied, status before, run); no row when
     * there is no run $1. */
    [Q_WF_RUN_CONTROL] = {"fs_wf_run_control",
        "SELECT applied, before, run FROM fs_wf_control($1::bigint, $2::text)"},

    /* $1 run, $2 signal name, $3 payload: (outcome, the run's status, the answer); no row
     * when there is no run $1 (sql/008_workflow_kinds.sql). */
    [Q_WF_RUN_SIGNAL] = {"fs_wf_run_signal",
        "SELECT outcome, run->>'status', json_build_object('signal', $2::text, 'outcome', outcome,"
        "  'step', step, 'run', run)"
        " FROM fs_wf_signal($1::bigint, $2::text, $3::jsonb)"},

    /* The sweeper's workflow timers: $1 most of each kind per call; NULL when another
     * gateway is firing them. */
    [Q_WF_TICK] = {"fs_wf_tick", "SELECT fs_wf_tick($1::int)"},

    /* Seed 003's routes (sql/009_workflow_routing.sql). A run started by POST
     * /api/agents/workflows/execute: $1 definition, $2 input, $3 conversation id, $4
     * workflow_type, $5 participating agents (both NULL: POST /workflow/coordinate); the run
     * as those routes show it. */
    [Q_WF_SEED_START] = {"fs_wf_seed_start",
        "WITH s AS (SELECT run FROM fs_wf_start($1::jsonb, $2::jsonb, NULL, NULL, NULL, $3::text)),"
        " a AS (INSERT INTO agent_workflows (run_id, workflow_type, participating_agents)"
        "       SELECT (s.run->>'id')::bigint, $4::text, $5::text[] FROM s WHERE $4 IS NOT NULL)"
        " SELECT fs_wf_seed_json(s.run, $4::text, $5::text[]) FROM s"},

    [Q_WF_SEED_GET] = {"fs_wf_seed_get",
        "SELECT fs_wf_seed_json(fs_wf_run_json(w, true), a.workflow_type, a.participating_agents)"
        " FROM workflow_runs w LEFT JOIN agent_workflows a ON a.run_id = w.id"
        " WHERE w.id = $1::bigint"},

    /* As Q_WF_RUN_CONTROL, the run shown as seed 003's routes show it. */
    [Q_WF_SEED_CONTROL] = {"fs_wf_seed_control",
        "SELECT c.applied, c.before,"
        "       fs_wf_seed_json(c.run, a.workflow_type, a.participating_agents)"
        " FROM fs_wf_control($1::bigint, $2::text) c"
        " LEFT JOIN agent_workflows a ON a.run_id = $1::bigint"},

    /* A message within run $1 from $2 to $3, content $4 (JSON text), type $5, and its
     * delivery job, as Q_MESSAGE_SEND's; no row when there is no run $1. */
    [Q_WF_MESSAGE_SEND] = {"fs_wf_message_send",
        "WITH m AS ("
        "  INSERT INTO agent_messages AS am (from_agent, to_agent, message, message_type,"
        "                                    workflow_run_id, job_id)"
        "  SELECT $2::text, $3::text, $4::text, $5::text, w.id, nextval('job_queue_id_seq')"
        "  FROM workflow_runs w WHERE w.id = $1::bigint"
        "  RETURNING am.*),"
        " j AS ("
        "  INSERT INTO job_queue (id, target_agent, payload, priority)"
        "  SELECT m.job_id, m.to_agent, jsonb_build_object('type', 'inter_agent_message',"
        "         'taskType', 'inter_agent_message', 'messageId', m.id, 'fromAgent', m.from_agent,"
        "         'message', m.message, 'messageType', m.message_type, 'requiresResponse', false,"
        "         'workflowRunId', m.workflow_run_id), 3"
        "  FROM m RETURNING id)"
        " SELECT fs_wf_message_json(m::agent_messages, 'sent') FROM m, j"},

    /* Run $1's messages, oldest first: $2 cursor (exclusive lower id) or NULL, $3 limit, $4
     * budget; no row when there is no run $1. */
    [Q_WF_MESSAGES_LIST] = {"fs_wf_messages_list",
        LIST_PAGE_CTES(
        "SELECT m.id, row_number() OVER (ORDER BY m.id) AS rn FROM agent_messages m"
        " WHERE m.workflow_run_id = $1::bigint AND ($2::bigint IS NULL OR m.id > $2::bigint)"
        " ORDER BY m.id LIMIT $3::int + 1",
        "SELECT fs_wf_message_json(m, fs_message_status(m)) FROM agent_messages m WHERE m.id = ",
        "$3::int", "$4::bigint")
        "SELECT row_to_json(page) FROM (SELECT " LIST_PAGE_ROWS " AS messages,"
        "  CASE WHEN " LIST_PAGE_MORE " THEN " LIST_PAGE_LAST_ID "::text END AS \"nextCursor\""
        " FROM p) page WHERE EXISTS (SELECT 1 FROM workflow_runs w WHERE w.id = $1::bigint)"},
};
/* clang-format on */
