/* cluster — POST /api/documents/cluster: spherical k-means over the embeddings of the
 * memories matching the filters (one model), seeded by k-means++ with a fixed seed so the
 * same memories always give the same clusters (greedy k-means++: see kmeans_seed). Each cluster
 * reports its size, the members closest to its centroid and the terms that set it apart. The
 * loop only reads the memories (one query) and answers; parsing, k-means and printing run on a
 * work thread (workpool.h), which reads only the query result and copies of the parameters,
 * both owned by the job. The input is bounded by the cluster-max-docs setting. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/embed.h"
#include "common/json_print.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/memory/memory.h"
#include "gateway/work/workpool.h"

#define K_MIN 2
#define K_MAX 20
#define ITERATIONS_MAX 30
#define REPRESENTATIVES 3
#define TOP_TERMS 5
#define SEED 0x5eedf10u

struct kmeans {
    int n, k, dims;
    const float *x;  /* n * dims, L2-normalised rows */
    float *centroid; /* k * dims */
    int *assign;     /* n */
    int *size;       /* k */
};

static uint32_t rng_next(uint32_t *s)
{
    /* xorshift32: enough for seeding, and the same everywhere */
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Squared Euclidean distance of two unit vectors: 2 - 2 cosine. */
static double unit_dist2(const float *a, const float *b, int dims)
{
    double d = 2.0 - 2.0 * embed_dot(a, b, dims);
    return d > 0 ? d : 0;
}

/* Draws a row with probability proportional to dist[i] (uniformly when all are 0). */
static int draw_row(const double *dist, int n, uint32_t *rng)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += dist[i];
    if (!(total > 0))
        return (int)(rng_next(rng) % (uint32_t)n);
    double target = (double)(rng_next(rng) % 1000000u) / 1e6 * total, acc = 0;
    int pick;
    for (pick = 0; pick < n - 1; pick++) {
        acc += dist[pick];
        if (acc > target)
            break;
    }
    return pick;
}

/* Greedy k-means++ with a fixed seed: each next centre is the best (lowest total squared
 * distance afterwards) of a few rows drawn with probability proportional to their squared
 * distance from the nearest centre so far. Plain k-means++ too often puts two of the first
 * centres in one topic when every distance is close to the same; a few candidates fix it. */
#define SEED_CANDIDATES 4
static void kmeans_seed(struct kmeans *km, double *dist)
{
    uint32_t rng = SEED;
    size_t row = (size_t)km->dims;
    int first = (int)(rng_next(&rng) % (uint32_t)km->n);
    memcpy(km->centroid, km->x + (size_t)first * row, row * sizeof(float));
    for (int i = 0; i < km->n; i++)
        dist[i] = unit_dist2(km->x + (size_t)i * row, km->centroid, km->dims);
    for (int c = 1; c < km->k; c++) {
        int best = -1;
        double best_total = 0;
        for (int t = 0; t < SEED_CANDIDATES; t++) {
            int cand = draw_row(dist, km->n, &rng);
            double total = 0;
            for (int i = 0; i < km->n; i++) {
                double d =
                    unit_dist2(km->x + (size_t)i * row, km->x + (size_t)cand * row, km->dims);
                total += d < dist[i] ? d : dist[i];
            }
            if (best < 0 || total < best_total) {
                best = cand;
                best_total = total;
            }
        }
        float *cen = km->centroid + (size_t)c * row;
        memcpy(cen, km->x + (size_t)best * row, row * sizeof(float));
        for (int i = 0; i < km->n; i++) {
            double d = unit_dist2(km->x + (size_t)i * row, cen, km->dims);
            if (d < dist[i])
                dist[i] = d;
        }
    }
}

/* Lloyd iterations on the unit sphere until no assignment changes. */
static void kmeans_run(struct kmeans *km)
{
    size_t row = (size_t)km->dims;
    for (int i = 0; i < km->n; i++)
        km->assign[i] = -1;
    for (int it = 0; it < ITERATIONS_MAX; it++) {
        int changed = 0;
        for (int i = 0; i < km->n; i++) {
            int best = 0;
            double best_dot = -2;
            for (int c = 0; c < km->k; c++) {
                double d =
                    embed_dot(km->x + (size_t)i * row, km->centroid + (size_t)c * row, km->dims);
                if (d > best_dot) {
                    best_dot = d;
                    best = c;
                }
            }
            if (km->assign[i] != best) {
                km->assign[i] = best;
                changed++;
            }
        }
        if (!changed)
            break;
        memset(km->size, 0, sizeof(int) * (size_t)km->k);
        for (int c = 0; c < km->k; c++) {
            /* keep an emptied centre where it was */
            int members = 0;
            for (int i = 0; i < km->n; i++)
                members += km->assign[i] == c;
            if (members)
                memset(km->centroid + (size_t)c * row, 0, row * sizeof(float));
        }
        for (int i = 0; i < km->n; i++) {
            float *cen = km->centroid + (size_t)km->assign[i] * row;
            const float *v = km->x + (size_t)i * row;
            for (size_t d = 0; d < row; d++)
                cen[d] += v[d];
            km->size[km->assign[i]]++;
        }
        for (int c = 0; c < km->k; c++) {
            float *cen = km->centroid + (size_t)c * row;
            double norm = sqrt(embed_dot(cen, cen, km->dims));
            if (norm > 0)
                for (size_t d = 0; d < row; d++)
                    cen[d] = (float)(cen[d] / norm);
        }
    }
    memset(km->size, 0, sizeof(int) * (size_t)km->k);
    for (int i = 0; i < km->n; i++)
        km->size[km->assign[i]]++;
}

/* Terms: each document's distinct tokens, tagged with its cluster. */
struct term {
    char *word;
    int cluster;
};

struct term_list {
    struct term *items;
    size_t n, cap;
    int cluster;
    bool failed;
};

static void collect_token(const char *tok, size_t len, void *arg)
{
    struct term_list *tl = arg;
    if (tl->failed || len < 3)
        return;
    if (tl->n == tl->cap) {
        size_t cap = tl->cap ? tl->cap * 2 : 1024;
        struct term *items = realloc(tl->items, cap * sizeof(*items));
        if (!items) {
            tl->failed = true;
            return;
        }
        tl->items = items;
        tl->cap = cap;
    }
    char *w = strndup(tok, len);
    if (!w) {
        tl->failed = true;
        return;
    }
    tl->items[tl->n++] = (struct term){w, tl->cluster};
}

static int term_cmp(const void *a, const void *b)
{
    const struct term *x = a, *y = b;
    int c = strcmp(x->word, y->word);
    return c ? c : x->cluster - y->cluster;
}

struct scored_term {
    const char *word;
    double score;
};

/* Adds to each cluster's JSON the TOP_TERMS words most frequent in it relative to all the
 * documents (cluster document frequency times log(1 + n / overall document frequency)). */
static void add_top_terms(struct term_list *tl, int k, int n, cJSON **clusters)
{
    qsort(tl->items, tl->n, sizeof(*tl->items), term_cmp);
    struct scored_term(*top)[TOP_TERMS] = calloc((size_t)k, sizeof(*top));
    if (!top)
        return;
    size_t i = 0;
    while (i < tl->n) {
        size_t j = i;
        while (j < tl->n && strcmp(tl->items[j].word, tl->items[i].word) == 0)
            j++;
        double idf = log(1.0 + (double)n / (double)(j - i));
        for (size_t a = i; a < j;) {
            size_t b = a;
            while (b < j && tl->items[b].cluster == tl->items[a].cluster)
                b++;
            double score = (double)(b - a) * idf;
            struct scored_term *t = top[tl->items[a].cluster];
            /* insertion into the cluster's sorted top list (ties: the earlier word wins) */
            for (int s = 0; s < TOP_TERMS; s++) {
                if (!t[s].word || score > t[s].score) {
                    memmove(t + s + 1, t + s, sizeof(*t) * (size_t)(TOP_TERMS - 1 - s));
                    t[s] = (struct scored_term){tl->items[a].word, score};
                    break;
                }
            }
            a = b;
        }
        i = j;
    }
    for (int c = 0; c < k; c++) {
        cJSON *terms = cJSON_AddArrayToObject(clusters[c], "topTerms");
        for (int s = 0; s < TOP_TERMS && top[c][s].word; s++)
            cJSON_AddItemToArray(terms, cJSON_CreateString(top[c][s].word));
    }
    free(top);
}

/* Builds the reply from the query result and the clustering. Returns the JSON text (caller
 * frees) or NULL on allocation failure. */
static char *render(PGresult *res, const int *rows, struct kmeans *km, const char *model)
{
    cJSON *root = cJSON_CreateObject(), **clusters = calloc((size_t)km->k, sizeof(*clusters));
    struct term_list tl = {0};
    char *text = NULL;
    if (!root || !clusters)
        goto done;
    cJSON_AddStringToObject(root, "model", model);
    cJSON_AddNumberToObject(root, "k", km->k);
    cJSON_AddNumberToObject(root, "documents", km->n);
    cJSON *list = cJSON_AddArrayToObject(root, "clusters");
    size_t row = (size_t)km->dims;
    for (int c = 0; c < km->k; c++) {
        cJSON *cl = clusters[c] = cJSON_CreateObject();
        cJSON_AddItemToArray(list, cl);
        cJSON_AddNumberToObject(cl, "cluster", c);
        cJSON_AddNumberToObject(cl, "size", km->size[c]);
        /* the members closest to the centroid, best first */
        int best[REPRESENTATIVES];
        double best_dot[REPRESENTATIVES];
        int nbest = 0;
        const float *cen = km->centroid + (size_t)c * row;
        for (int i = 0; i < km->n; i++) {
            if (km->assign[i] != c)
                continue;
            double d = embed_dot(km->x + (size_t)i * row, cen, km->dims);
            int pos = nbest < REPRESENTATIVES ? nbest++ : REPRESENTATIVES;
            while (pos > 0 && d > best_dot[pos - 1]) {
                if (pos < REPRESENTATIVES) {
                    best[pos] = best[pos - 1];
                    best_dot[pos] = best_dot[pos - 1];
                }
                pos--;
            }
            if (pos < REPRESENTATIVES) {
                best[pos] = i;
                best_dot[pos] = d;
            }
        }
        cJSON *reps = cJSON_AddArrayToObject(cl, "representatives");
        for (int b = 0; b < nbest; b++) {
            int r = rows[best[b]];
            cJSON *doc = cJSON_CreateObject();
            cJSON_AddItemToArray(reps, doc);
            cJSON_AddNumberToObject(doc, "id", strtod(PQgetvalue(res, r, 0), NULL));
            cJSON_AddStringToObject(doc, "content", PQgetvalue(res, r, 2));
            cJSON *meta = cJSON_Parse(PQgetvalue(res, r, 3));
            if (meta)
                cJSON_AddItemToObject(doc, "metadata", meta);
            cJSON_AddNumberToObject(doc, "score", best_dot[b]);
        }
        cJSON *ids = cJSON_AddArrayToObject(cl, "ids");
        for (int i = 0; i < km->n; i++)
            if (km->assign[i] == c)
                cJSON_AddItemToArray(ids,
                                     cJSON_CreateNumber(strtod(PQgetvalue(res, rows[i], 0), NULL)));
    }
    for (int i = 0; i < km->n && !tl.failed; i++) {
        size_t before = tl.n;
        tl.cluster = km->assign[i];
        const char *content = PQgetvalue(res, rows[i], 2);
        embed_tokens(content, strlen(content), collect_token, &tl);
        /* a document counts once per term */
        qsort(tl.items + before, tl.n - before, sizeof(*tl.items), term_cmp);
        size_t w = before;
        for (size_t t = before; t < tl.n; t++) {
            if (w > before && strcmp(tl.items[w - 1].word, tl.items[t].word) == 0)
                free(tl.items[t].word);
            else
                tl.items[w++] = tl.items[t];
        }
        tl.n = w;
    }
    if (!tl.failed)
        add_top_terms(&tl, km->k, km->n, clusters);
    text = json_print(root);
done:
    for (size_t t = 0; t < tl.n; t++)
        free(tl.items[t].word);
    free(tl.items);
    free(clusters);
    cJSON_Delete(root);
    return text;
}

/* One clustering, owned by its work from submit until done or drop (workpool.h): the query
 * result it took from the pool and the parameters it needs, so the work thread reads nothing
 * the loop may change; the thread writes the answer (or an error) into it. */
struct cluster_job {
    struct request *r; /* NULL once the request went away without an answer */
    struct workpool *pool;
    struct work *work;
    PGresult *res;
    int k, dims;
    const char *model; /* the provider's, which lives as long as the gateway */
    /* the answer */
    int status; /* 200 with text, 400 (k too large) or 500 (out of memory) with message */
    char *text;
    char message[160];
};

static void cluster_job_free(struct cluster_job *job)
{
    PQclear(job->res);
    free(job->text);
    free(job);
}

/* The request's context: its clustering while that runs. */
struct cluster_ctx {
    int k;
    struct cluster_job *job;
};

/* The request is freed unanswered (the gateway drops it at exit): the work's answer goes
 * nowhere, and its drop frees the job once the thread has let go of it. */
static void cluster_ctx_free(void *ctx)
{
    struct cluster_ctx *c = ctx;
    if (c->job) {
        c->job->r = NULL;
        workpool_cancel(c->job->pool, c->job->work);
    }
}

static const struct request_ctx_type cluster_ctx_type = {"cluster", cluster_ctx_free};

/* On a work thread: the embeddings parsed, k-means, the answer printed. */
static void cluster_run(void *arg)
{
    struct cluster_job *job = arg;
    PGresult *res = job->res;
    int total = PQntuples(res), k = job->k, dims = job->dims;
    float *x = malloc(sizeof(float) * (size_t)dims * (size_t)(total ? total : 1));
    int *rows = malloc(sizeof(int) * (size_t)(total ? total : 1));
    struct kmeans km = {.k = k, .dims = dims};
    double *dist = NULL;
    if (!x || !rows)
        goto oom;
    for (int i = 0; i < total; i++) {
        float *v = x + (size_t)km.n * (size_t)dims;
        if (embed_from_pg_array(PQgetvalue(res, i, 1), v, dims) == 0 && embed_dot(v, v, dims) > 0)
            rows[km.n++] = i;
    }
    if (km.n < k) {
        job->status = 400;
        snprintf(job->message, sizeof(job->message),
                 "k (%d) is more than the %d memories with an embedding that match", k, km.n);
        goto done;
    }
    km.x = x;
    km.centroid = malloc(sizeof(float) * (size_t)k * (size_t)dims);
    km.assign = malloc(sizeof(int) * (size_t)km.n);
    km.size = calloc((size_t)k, sizeof(int));
    dist = malloc(sizeof(double) * (size_t)km.n);
    if (!km.centroid || !km.assign || !km.size || !dist)
        goto oom;
    kmeans_seed(&km, dist);
    kmeans_run(&km);
    if (!(job->text = render(res, rows, &km, job->model)))
        goto oom;
    job->status = 200;
    goto done;
oom:
    job->status = 500;
    snprintf(job->message, sizeof(job->message), "out of memory");
done:
    free(dist);
    free(km.size);
    free(km.assign);
    free(km.centroid);
    free(rows);
    free(x);
}

/* Back on the loop: the answer. */
static void cluster_done(void *arg)
{
    struct cluster_job *job = arg;
    struct request *r = job->r;
    ((struct cluster_ctx *)request_ctx(r, &cluster_ctx_type))->job = NULL;
    if (job->status == 200)
        request_reply(r, 200, job->text, strlen(job->text));
    else if (job->status == 400)
        request_error(r, 400, "invalid_field", "k", "%s", job->message);
    else
        request_error(r, 500, "internal", NULL, "%s", job->message);
    cluster_job_free(job);
}

static void cluster_drop(void *arg) { cluster_job_free(arg); }

static const struct work_type cluster_work = {"cluster", cluster_run, cluster_done, cluster_drop};

/* The matching memories are read: the clustering goes to a work thread with the result. */
static void cluster_rows(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    struct cluster_ctx *c = request_ctx(r, &cluster_ctx_type);
    const struct embed_provider *p = memory_provider(r);
    long max = config_int(r->gw->cfg, CFG_CLUSTER_MAX_DOCS);
    if (PQntuples(res) > max) {
        request_error(
            r, 400, "too_many_documents", NULL,
            "more than %ld memories match; narrow the filters (agentName, memoryType, tag, "
            "minImportance, since, until)",
            max);
        return;
    }
    struct cluster_job *job = calloc(1, sizeof(*job));
    if (!job) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    *job = (struct cluster_job){
        .r = r, .pool = r->gw->work, .res = res, .k = c->k, .dims = p->dims, .model = p->model};
    if (!(job->work = workpool_submit(r->gw->work, &cluster_work, job))) {
        free(job); /* res stays the pool's */
        memory_work_busy(r);
        return;
    }
    pgpool_keep_result(r->gw->pool);
    c->job = job;
}

void documents_cluster(struct request *r)
{
    struct field_error err;
    struct memory_filter f;
    long k = 0;
    if (json_get_int(r->body, "k", true, K_MIN, K_MAX, &k, &err) < 0 ||
        memory_filter_from_json(r->body, &f, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    const struct embed_provider *p = memory_provider(r);
    char max_text[24];
    snprintf(max_text, sizeof(max_text), "%ld", config_int(r->gw->cfg, CFG_CLUSTER_MAX_DOCS) + 1);
    const char *params[8] = {f.params[0], f.params[1], f.params[2], f.params[3],
                             f.params[4], f.params[5], p->model,    max_text};
    struct cluster_ctx *c = request_ctx_new(r, &cluster_ctx_type, sizeof(*c));
    if (!c) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    c->k = (int)k;
    if (pgpool_query(r->gw->pool, Q_DOCUMENTS_EMBEDDINGS, 8, params, cluster_rows, r) < 0)
        request_unavailable(r);
}
