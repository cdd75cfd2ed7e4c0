/* documents — agent memories: storing them with validated metadata and their embedding,
 * reading them back (by id, or listed with filters and a sort), and searching them by
 * keyword, by meaning (semantic) or both (hybrid), or by likeness to one document.
 * Clustering is in cluster.c; the shared filters in memory.c. Semantic scoring asks the
 * vector cache (vectors.c) for the few candidates that can rank and lets SQL score those
 * exactly; without a ready cache it is pgvector's ordered search when the server has the
 * pgvector column (pgvector.c; HNSW, approximate), else the exact scan in SQL. The cache and
 * the exact scan give the same results; the X-Search-Path response header (cache, pgvector
 * or sql) says which ran. A scan of the cache over work-scan-min vectors or more runs on a
 * work thread (workpool.h) with copies of the query and the allowed ids and a hold on the
 * store (vectors.h), so the loop keeps answering meanwhile. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/embed.h"
#include "common/isotime.h"
#include "common/json_print.h"
#include "common/log.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/memory/embedder.h"
#include "gateway/memory/memory.h"
#include "gateway/memory/pgvector.h"
#include "gateway/memory/vecstore.h"
#include "gateway/memory/vectors.h"
#include "gateway/work/workpool.h"

#define TAGS_MAX 64
#define TAG_LEN_MAX 100

/* Sets meta[name] = item, replacing any earlier value. */
static void set_field(cJSON *meta, const char *name, cJSON *item)
{
    cJSON_DeleteItemFromObjectCaseSensitive(meta, name);
    cJSON_AddItemToObject(meta, name, item);
}

/* Validates the memory fields found in obj (the body, or its metadata when prefix is
 * "metadata.") and copies them into meta. Returns 0, or -1 with err filled. */
static int take_memory_fields(const cJSON *obj, cJSON *meta, const char *prefix,
                              struct field_error *err)
{
    const char *agent = NULL, *type = NULL;
    long importance = 0;
    cJSON *tags = NULL;
    int has_agent, has_type, has_importance, has_tags;
    if ((has_agent = json_get_string(obj, "agentName", false, 1, AGENT_NAME_MAX, &agent, err)) <
            0 ||
        (has_type = json_get_string(obj, "memoryType", false, 1, 32, &type, err)) < 0 ||
        (has_importance = json_get_int(obj, "importance", false, 1, 10, &importance, err)) < 0 ||
        (has_tags = json_get_string_array(obj, "tags", false, TAGS_MAX, TAG_LEN_MAX, &tags, err)) <
            0)
        goto fail;
    if (has_agent && !json_is_identifier(agent, AGENT_NAME_MAX)) {
        field_error_set(err, "agentName",
                        "agentName must be 1 to %d characters of letters, digits, '_', '.' or '-'",
                        AGENT_NAME_MAX);
        goto fail;
    }
    if (has_type && !memory_is_type(type)) {
        field_error_set(err, "memoryType",
                        "memoryType must be one of general, conversation, task_result, learning");
        goto fail;
    }
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(obj, "timestamp");
    double epoch;
    if (prefix[0] && ts &&
        (!cJSON_IsString(ts) || strlen(ts->valuestring) > 64 ||
         isotime_parse(ts->valuestring, &epoch) < 0)) {
        field_error_set(
            err, "timestamp",
            "timestamp must be an ISO 8601 timestamp with a zone, e.g. 2030-01-01T00:00:00Z");
        goto fail;
    }
    if (has_agent)
        set_field(meta, "agentName", cJSON_CreateString(agent));
    if (has_type)
        set_field(meta, "memoryType", cJSON_CreateString(type));
    if (has_importance)
        set_field(meta, "importance", cJSON_CreateNumber((double)importance));
    if (has_tags)
        set_field(meta, "tags", cJSON_Duplicate(tags, true));
    return 0;
fail:
    if (prefix[0]) {
        char field[sizeof(err->field)];
        snprintf(field, sizeof(field), "%s%s", prefix, err->field);
        memcpy(err->field, field, sizeof(field));
    }
    return -1;
}

/* POST /api/documents while its content is embedded and the document inserted: the
 * validated metadata (JSON text) and then the embedding, which goes to the vector cache
 * once the insert returns the document's id. */
struct doc_create {
    char *meta;
    float *vec; /* the provider's dims floats, or NULL */
};

static void doc_create_free(void *ctx)
{
    struct doc_create *dc = ctx;
    free(dc->meta);
    free(dc->vec);
}

static const struct request_ctx_type doc_create_ctx = {"document create", doc_create_free};

/* The insert's reply: caches the stored vector under the new id, then answers. */
static void created(PGresult *res, void *arg)
{
    struct request *r = arg;
    const struct doc_create *dc = request_ctx(r, &doc_create_ctx);
    if (dc->vec && res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        const char *doc = PQgetvalue(res, 0, 0); /* fs_document_json: {"id":N,… */
        if (strncmp(doc, "{\"id\":", 6) == 0)
            vectors_put(r->gw->vectors, strtoll(doc + 6, NULL, 10), memory_provider(r)->model,
                        dc->vec);
    }
    request_reply_first_cell(res, arg);
}

/* The content's embedding is known (vec), or the provider failed (vec NULL: the document
 * is stored without one, so keyword search still finds it; the embedder has logged the
 * failure and written its embed.failed event). Inserts the document. */
static void create_embedded(const float *vec, const char *error, void *arg)
{
    struct request *r = arg;
    struct doc_create *dc = request_ctx(r, &doc_create_ctx);
    const struct embed_provider *p = memory_provider(r);
    const char *content = cJSON_GetObjectItemCaseSensitive(r->body, "content")->valuestring;
    char *vec_text = vec ? embed_to_pg_array(vec, p->dims) : NULL;
    if (!vec)
        log_warn("msg=\"embedding failed; stored without one\" req_id=%s provider=%s error=\"%s\"",
                 r->id, p->name, error);
    /* The vector goes to the cache once the insert returns the id (without memory for the
     * copy, the document is stored all the same and the cache reads it later). */
    if (vec_text && (dc->vec = malloc((size_t)p->dims * sizeof(float))))
        memcpy(dc->vec, vec, (size_t)p->dims * sizeof(float));
    const char *params[4] = {content, dc->meta, vec_text, vec_text ? p->model : NULL};
    if (vec && !vec_text)
        request_error(r, 500, "internal", NULL, "out of memory");
    else if (pgpool_query(r->gw->pool, Q_DOCUMENT_INSERT, 4, params, created, r) < 0)
        request_unavailable(r);
    free(vec_text);
}

void documents_create(struct request *r)
{
    struct field_error err;
    const char *content = NULL;
    cJSON *given = NULL;
    if (json_get_string(r->body, "content", true, 1, (size_t)r->gw->body_limit, &content, &err) <
            0 ||
        json_get_object(r->body, "metadata", false, &given, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    cJSON *meta = given ? cJSON_Duplicate(given, true) : cJSON_CreateObject();
    if (!meta) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    /* Memory fields may sit inside metadata or at the top level (which wins). */
    if ((given && take_memory_fields(given, meta, "metadata.", &err) < 0) ||
        take_memory_fields(r->body, meta, "", &err) < 0) {
        cJSON_Delete(meta);
        request_field_error(r, &err);
        return;
    }
    struct doc_create *dc = request_ctx_new(r, &doc_create_ctx, sizeof(*dc));
    char *meta_text = dc ? json_print(meta) : NULL;
    cJSON_Delete(meta);
    if (!meta_text) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    /* The provider answers through the embedder (inline for local, on its threads for a
     * remote one); the metadata waits in the context until then. */
    dc->meta = meta_text;
    r->ok_status = 201;
    if (embedder_submit(r->gw->embedder, "store", content, strlen(content), create_embedded, r) < 0)
        request_error(r, 503, "unavailable", NULL,
                      "the embedding provider is overloaded (its queue is full); retry later");
}

void documents_get(struct request *r)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    const char *params[1] = {id};
    request_query_body(r, Q_DOCUMENT_GET, 1, params, 200);
}

void documents_list(struct request *r)
{
    struct memory_filter f;
    if (memory_filter_from_query(r, &f) < 0)
        return;
    const char *sort = request_query_param(r, "sort");
    long limit = 20, offset = 0;
    if (sort && strcmp(sort, "recent") != 0 && strcmp(sort, "importance") != 0) {
        request_error(r, 400, "invalid_field", "sort", "sort must be recent or importance");
        return;
    }
    if (request_query_int(r, "limit", 1, 100, &limit) < 0 ||
        request_query_int(r, "cursor", 0, 1000000, &offset) < 0)
        return;
    char offset_text[16], limit_text[16];
    snprintf(offset_text, sizeof(offset_text), "%ld", offset);
    snprintf(limit_text, sizeof(limit_text), "%ld", limit);
    const char *params[10] = {f.params[0],
                              f.params[1],
                              f.params[2],
                              f.params[3],
                              f.params[4],
                              f.params[5],
                              sort ? sort : "recent",
                              offset_text,
                              limit_text,
                              r->gw->response_budget};
    request_query_body(r, Q_DOCUMENTS_LIST, 10, params, 200);
}

/* Reads a hybrid weight (a decimal from 0 to 100) into out, the setting's value when absent.
 * Returns 0, or -1 having answered 400. */
static int query_weight(struct request *r, const char *name, enum config_id setting, double *out)
{
    const char *v = request_query_param(r, name);
    if (!v) {
        *out = (double)config_int(r->gw->cfg, setting);
        return 0;
    }
    char *end = NULL;
    double w = strtod(v, &end);
    if (end == v || *end || !(w >= 0 && w <= 100)) {
        request_error(r, 400, "invalid_field", name, "%s must be a number from 0 to 100", name);
        return -1;
    }
    *out = w;
    return 0;
}

/* Semantic candidates each side of a hybrid search contributes before fusion. */
#define HYBRID_DEPTH 100
/* Most candidates the cache may hand SQL to score; more (rare: many near-equal scores)
 * and the search scans in SQL instead. */
#define CANDIDATES_MAX 2000

enum sem_kind { SEM_SEMANTIC, SEM_HYBRID, SEM_SIMILAR };

/* A semantic, hybrid or similar search in progress: the request's context (on the heap: it
 * holds a query vector of up to EMBED_DIMS_MAX floats). */
struct sem {
    enum sem_kind kind;
    struct memory_filter f;
    const char *q; /* the query text (hybrid) */
    char id[24];   /* the source document (similar) */
    char limit[16], wk[32], ws[32];
    int k;                 /* candidates ranked: limit, or HYBRID_DEPTH for hybrid */
    float err;             /* the query's error when it is a cached (dequantised) vector */
    struct scan_job *scan; /* its scan while that runs on a work thread */
    float vec[EMBED_DIMS_MAX];
};

struct scan_job;
static void scan_cancel(struct scan_job *job);

/* The request is freed unanswered (the gateway drops it at exit): its scan's answer goes
 * nowhere. */
static void sem_free(void *ctx)
{
    struct sem *s = ctx;
    if (s->scan)
        scan_cancel(s->scan);
}

static const struct request_ctx_type sem_ctx = {"semantic search", sem_free};

static void set_path(struct request *r, const char *path)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    evhttp_remove_header(h, "X-Search-Path");
    evhttp_add_header(h, "X-Search-Path", path);
}

/* pgvector's ordered search (no usable cache, and the pgvector column exists): the same
 * parameters and response as the exact scan, ranked by cosine distance (HNSW: approximate
 * when the model's index exists). */
static void sem_pgvector(struct request *r, struct sem *s, const char *sql)
{
    const struct embed_provider *p = memory_provider(r);
    const char *const *f = s->f.params;
    set_path(r, "pgvector");
    r->ok_status = 200;
    int rc;
    if (s->kind == SEM_SIMILAR) {
        const char *params[8] = {f[0], f[1], f[2], f[3], f[4], f[5], s->id, s->limit};
        rc = pgpool_query_sql(r->gw->pool, sql, 8, params, request_reply_first_cell, r);
    } else {
        char *arr = embed_to_pg_array(s->vec, p->dims);
        char *vec_text = arr ? pgvector_literal(arr) : NULL;
        free(arr);
        if (!vec_text) {
            request_error(r, 500, "internal", NULL, "out of memory");
            return;
        }
        if (s->kind == SEM_SEMANTIC) {
            const char *params[9] = {f[0], f[1],     f[2],     f[3],    f[4],
                                     f[5], vec_text, p->model, s->limit};
            rc = pgpool_query_sql(r->gw->pool, sql, 9, params, request_reply_first_cell, r);
        } else {
            char depth[16];
            snprintf(depth, sizeof(depth), "%d", HYBRID_DEPTH);
            const char *params[13] = {f[0],     f[1],     f[2],     f[3],  f[4],  f[5], s->q,
                                      vec_text, p->model, s->limit, depth, s->wk, s->ws};
            rc = pgpool_query_sql(r->gw->pool, sql, 13, params, request_reply_first_cell, r);
        }
        free(vec_text);
    }
    if (rc < 0)
        request_unavailable(r);
}

/* No usable cache: pgvector's ordered search when the column exists, else the exact scan
 * in SQL. */
static void sem_sql(struct request *r, struct sem *s)
{
    const struct embed_provider *p = memory_provider(r);
    const char *const *f = s->f.params;
    const char *pgv = pgvector_sql(r->gw->pgvector, s->kind == SEM_SIMILAR  ? PGV_SIMILAR
                                                    : s->kind == SEM_HYBRID ? PGV_HYBRID
                                                                            : PGV_SEMANTIC);
    if (pgv) {
        sem_pgvector(r, s, pgv);
        return;
    }
    set_path(r, "sql");
    if (s->kind == SEM_SIMILAR) {
        const char *params[8] = {f[0], f[1], f[2], f[3], f[4], f[5], s->id, s->limit};
        request_query_body(r, Q_DOCUMENT_SIMILAR, 8, params, 200);
        return;
    }
    char *vec_text = embed_to_pg_array(s->vec, p->dims);
    if (!vec_text) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    if (s->kind == SEM_SEMANTIC) {
        const char *params[9] = {f[0], f[1], f[2], f[3], f[4], f[5], vec_text, p->model, s->limit};
        request_query_body(r, Q_DOCUMENTS_SEMANTIC, 9, params, 200);
    } else {
        char depth[16];
        snprintf(depth, sizeof(depth), "%d", HYBRID_DEPTH);
        const char *params[13] = {f[0],     f[1],     f[2],     f[3],  f[4],  f[5], s->q,
                                  vec_text, p->model, s->limit, depth, s->wk, s->ws};
        request_query_body(r, Q_DOCUMENTS_HYBRID, 13, params, 200);
    }
    free(vec_text);
}

/* The cache's candidates for a search: every id of store that can rank (only ids in allow
 * when it is not NULL), then the ids allowed that store does not hold yet. Writes them to ids
 * (room for CANDIDATES_MAX) and returns how many, or -1 (too many, out of memory). Reads
 * only its arguments, so it runs inline or on a work thread alike. */
static long find_candidates(const struct vecstore *store, const float *vec, float err,
                            const long long *allow, long nallow, long long exclude, int k,
                            long long *ids)
{
    long n = vecstore_candidates(store, vec, err, allow, allow ? (size_t)nallow : 0, exclude, k,
                                 ids, CANDIDATES_MAX);
    for (long i = 0; n >= 0 && allow && i < nallow; i++)
        if (!vecstore_has(store, allow[i]))
            n = n < CANDIDATES_MAX ? (ids[n] = allow[i], n + 1) : -1;
    return n;
}

/* Lets SQL score the n candidates in ids (n < 0: the cache could not narrow the search, so
 * SQL scans). */
static void sem_score(struct request *r, struct sem *s, const long long *ids, long n)
{
    const struct embed_provider *p = memory_provider(r);
    char *ids_text = n >= 0 ? vectors_ids_text(ids, n) : NULL;
    if (!ids_text) {
        sem_sql(r, s);
        return;
    }
    set_path(r, "cache");
    const char *const *f = s->f.params;
    char *vec_text = NULL;
    if (s->kind == SEM_SIMILAR) {
        const char *params[9] = {f[0], f[1], f[2], f[3], f[4], f[5], s->id, s->limit, ids_text};
        request_query_body(r, Q_DOCUMENT_SIMILAR_IDS, 9, params, 200);
    } else if (!(vec_text = embed_to_pg_array(s->vec, p->dims))) {
        request_error(r, 500, "internal", NULL, "out of memory");
    } else if (s->kind == SEM_SEMANTIC) {
        const char *params[10] = {f[0], f[1],     f[2],     f[3],     f[4],
                                  f[5], vec_text, p->model, s->limit, ids_text};
        request_query_body(r, Q_DOCUMENTS_SEMANTIC_IDS, 10, params, 200);
    } else {
        char depth[16];
        snprintf(depth, sizeof(depth), "%d", HYBRID_DEPTH);
        const char *params[14] = {f[0],     f[1],     f[2],     f[3],  f[4],  f[5],  s->q,
                                  vec_text, p->model, s->limit, depth, s->wk, s->ws, ids_text};
        request_query_body(r, Q_DOCUMENTS_HYBRID_IDS, 14, params, 200);
    }
    free(vec_text);
    free(ids_text);
}

/* A scan of the cache on a work thread, owned by its work (workpool.h): copies of the query
 * and of the allowed ids, and a hold on the store (vectors_hold), so the thread reads nothing
 * the loop changes; it writes the candidates into ids. */
struct scan_job {
    struct request *r; /* NULL once the request went away without an answer */
    struct workpool *pool;
    struct work *work;
    struct vectors *vectors;
    const struct vecstore *store;
    long long *allow, *ids;
    long nallow, n;
    long long exclude;
    int k;
    float err;
    float vec[]; /* the provider's dims floats */
};

static void scan_job_free(struct scan_job *job)
{
    vectors_release(job->vectors, job->store);
    free(job->allow);
    free(job->ids);
    free(job);
}

static void scan_run(void *arg)
{
    struct scan_job *job = arg;
    job->n = find_candidates(job->store, job->vec, job->err, job->allow, job->nallow, job->exclude,
                             job->k, job->ids);
}

static void scan_done(void *arg)
{
    struct scan_job *job = arg;
    struct request *r = job->r;
    struct sem *s = request_ctx(r, &sem_ctx);
    s->scan = NULL;
    sem_score(r, s, job->ids, job->n);
    scan_job_free(job);
}

static void scan_drop(void *arg) { scan_job_free(arg); }

static void scan_cancel(struct scan_job *job)
{
    job->r = NULL;
    workpool_cancel(job->pool, job->work);
}

static const struct work_type scan_work = {"vector scan", scan_run, scan_done, scan_drop};

/* Scans store for search s on a work thread, taking allow (freed with the job). Returns 0,
 * or -1 having answered (503 when the work threads are full). */
static int sem_scan_off_loop(struct request *r, struct sem *s, const struct vecstore *store,
                             long long *allow, long nallow)
{
    int dims = memory_provider(r)->dims;
    struct scan_job *job = calloc(1, sizeof(*job) + (size_t)dims * sizeof(float));
    long long *ids = malloc(CANDIDATES_MAX * sizeof(*ids));
    if (!job || !ids) {
        free(job);
        free(ids);
        free(allow);
        request_error(r, 500, "internal", NULL, "out of memory");
        return -1;
    }
    *job = (struct scan_job){.r = r,
                             .pool = r->gw->work,
                             .vectors = r->gw->vectors,
                             .store = store,
                             .allow = allow,
                             .ids = ids,
                             .nallow = nallow,
                             .exclude = s->kind == SEM_SIMILAR ? atoll(s->id) : 0,
                             .k = s->k,
                             .err = s->err};
    memcpy(job->vec, s->vec, (size_t)dims * sizeof(float));
    vectors_hold(job->vectors, store);
    if (!(job->work = workpool_submit(r->gw->work, &scan_work, job))) {
        scan_job_free(job);
        memory_work_busy(r);
        return -1;
    }
    s->scan = job;
    return 0;
}

/* Ranks the cache (only ids in allow when it is not NULL; allow is taken and freed) and lets
 * SQL score the candidates; ids allowed but not cached yet are candidates too. A scan of
 * work-scan-min vectors or more runs on a work thread; a smaller one costs less than the hop. */
static void sem_cached(struct request *r, struct sem *s, long long *allow, long nallow)
{
    const struct embed_provider *p = memory_provider(r);
    const struct vecstore *store = vectors_store(r->gw->vectors, p->model);
    if (!store) {
        free(allow);
        sem_sql(r, s);
        return;
    }
    long size = allow ? nallow : (long)vecstore_count(store);
    if (size >= config_int(r->gw->cfg, CFG_WORK_SCAN_MIN)) {
        sem_scan_off_loop(r, s, store, allow, nallow);
        return;
    }
    long long *ids = malloc(CANDIDATES_MAX * sizeof(*ids));
    long n = ids ? find_candidates(store, s->vec, s->err, allow, nallow,
                                   s->kind == SEM_SIMILAR ? atoll(s->id) : 0, s->k, ids)
                 : -1;
    free(allow);
    sem_score(r, s, ids, n);
    free(ids);
}

/* The ids passing the filters, from SQL (the filters' exact semantics stay there). */
static void sem_filtered(PGresult *res, void *arg)
{
    struct request *r = arg;
    struct sem *s = request_ctx(r, &sem_ctx);
    long long *allow = NULL;
    long n = -1;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        n = vectors_parse_ids(PQgetvalue(res, 0, 0), &allow);
    else if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    if (n < 0)
        sem_sql(r, s);
    else
        sem_cached(r, s, allow, n);
}

static bool has_filter(const struct memory_filter *f)
{
    for (int i = 0; i < MEMORY_FILTER_PARAMS; i++)
        if (f->params[i])
            return true;
    return false;
}

/* Runs search s (r's context) through the cache when it can answer, else in SQL. */
static void sem_run(struct request *r, struct sem *s)
{
    const struct embed_provider *p = memory_provider(r);
    const struct vecstore *store = vectors_use(r->gw->vectors, p->model);
    if (s->kind == SEM_SIMILAR && store && vecstore_get(store, atoll(s->id), s->vec, &s->err) < 0)
        store = NULL; /* not cached (absent, another model): SQL answers, 404 included */
    if (!store) {
        sem_sql(r, s);
        return;
    }
    if (!has_filter(&s->f)) {
        sem_cached(r, s, NULL, 0);
        return;
    }
    const char *const *f = s->f.params;
    const char *params[7] = {f[0], f[1], f[2], f[3], f[4], f[5], p->model};
    if (pgpool_query(r->gw->pool, Q_DOCUMENTS_FILTER_IDS, 7, params, sem_filtered, r) < 0)
        request_unavailable(r);
}

/* The query's embedding is known (vec), or the provider failed: 503, since a semantic
 * ranking cannot be made without it (keyword mode still works). */
static void search_embedded(const float *vec, const char *error, void *arg)
{
    struct request *r = arg;
    struct sem *s = request_ctx(r, &sem_ctx);
    const struct embed_provider *p = memory_provider(r);
    if (!vec) {
        request_error(r, 503, "embedding_unavailable", NULL,
                      "the embedding provider %s failed (%s); retry later or use mode=keyword",
                      p->name, error);
        return;
    }
    memcpy(s->vec, vec, (size_t)p->dims * sizeof(float));
    sem_run(r, s);
}

void documents_search(struct request *r)
{
    const char *q = request_query_param(r, "q");
    const char *mode = request_query_param(r, "mode");
    long limit = 10;
    double wk = 0, ws = 0;
    struct memory_filter f;
    if (!q || !q[0] || strlen(q) > 1000) {
        request_error(r, 400, "invalid_field", "q",
                      "q (the search text, 1 to 1000 characters) is required");
        return;
    }
    if (!mode)
        mode = "keyword";
    if (strcmp(mode, "keyword") != 0 && strcmp(mode, "semantic") != 0 &&
        strcmp(mode, "hybrid") != 0) {
        request_error(r, 400, "invalid_field", "mode", "mode must be keyword, semantic or hybrid");
        return;
    }
    if (memory_filter_from_query(r, &f) < 0 || request_query_int(r, "limit", 1, 100, &limit) < 0 ||
        query_weight(r, "wKeyword", CFG_HYBRID_KEYWORD_WEIGHT, &wk) < 0 ||
        query_weight(r, "wSemantic", CFG_HYBRID_SEMANTIC_WEIGHT, &ws) < 0)
        return;
    if (wk == 0 && ws == 0) {
        request_error(r, 400, "invalid_field", "wSemantic",
                      "wKeyword and wSemantic cannot both be 0");
        return;
    }
    char limit_text[16];
    snprintf(limit_text, sizeof(limit_text), "%ld", limit);
    if (strcmp(mode, "keyword") == 0) {
        const char *params[8] = {f.params[0], f.params[1], f.params[2], f.params[3],
                                 f.params[4], f.params[5], q,           limit_text};
        request_query_body(r, Q_DOCUMENTS_SEARCH, 8, params, 200);
        return;
    }
    struct sem *s = request_ctx_new(r, &sem_ctx, sizeof(*s));
    if (!s) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    s->kind = strcmp(mode, "semantic") == 0 ? SEM_SEMANTIC : SEM_HYBRID;
    s->f = f;
    if (f.params[3] == f.min_text)
        s->f.params[3] = s->f.min_text;
    s->q = q;
    s->k = s->kind == SEM_SEMANTIC ? (int)limit : HYBRID_DEPTH;
    memcpy(s->limit, limit_text, sizeof(limit_text));
    snprintf(s->wk, sizeof(s->wk), "%.6g", wk);
    snprintf(s->ws, sizeof(s->ws), "%.6g", ws);
    if (embedder_submit(r->gw->embedder, "search", q, strlen(q), search_embedded, r) < 0)
        request_error(r, 503, "unavailable", NULL,
                      "the embedding provider is overloaded (its queue is full); retry later");
}

void documents_similar(struct request *r)
{
    char id[24];
    long limit = 10;
    struct memory_filter f;
    if (request_path_id(r, "id", id, sizeof(id)) < 0 || memory_filter_from_query(r, &f) < 0 ||
        request_query_int(r, "limit", 1, 100, &limit) < 0)
        return;
    struct sem *s = request_ctx_new(r, &sem_ctx, sizeof(*s));
    if (!s) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    s->kind = SEM_SIMILAR;
    s->f = f;
    if (f.params[3] == f.min_text)
        s->f.params[3] = s->f.min_text;
    s->k = (int)limit;
    memcpy(s->id, id, sizeof(id));
    snprintf(s->limit, sizeof(s->limit), "%ld", limit);
    sem_run(r, s);
}
