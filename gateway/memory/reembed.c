/* reembed — the re-embedding pass (see reembed.h): a keyset page of memories of other
 * models, embedded on a work thread, then one UPDATE for the page; a failed query, or a full
 * work queue, is retried from the same cursor after a pause. */
#include "gateway/memory/reembed.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/embed.h"
#include "common/json_print.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/work/workpool.h"

/* Memories per page: embedding a short one takes a few microseconds once its words are cached
 * and about half a millisecond before, so a page is milliseconds of a work thread. */
#define REEMBED_PAGE 32
#define STR_(x) #x
#define STR(x) STR_(x)
/* Seconds before the first page (let the pool connect) and after a failed query. */
#define REEMBED_START_S 1
#define REEMBED_RETRY_S 5

static const char page_sql[] = "SELECT id, content, md5(content) FROM documents"
                               " WHERE id > $1::bigint AND embedding_model = ANY($2::text[])"
                               " ORDER BY id LIMIT " STR(REEMBED_PAGE);

/* Memories of models that are not built in, which the pass leaves alone. */
static const char others_sql[] =
    "SELECT embedding_model, count(*) FROM documents"
    " WHERE embedding_model <> $1::text AND NOT embedding_model = ANY($2::text[])"
    " GROUP BY 1 ORDER BY 1";

/* Applies only while the row still has another model and the content that was embedded. */
static const char update_sql[] =
    "UPDATE documents d SET embedding = v.e::real[], embedding_model = $1::text"
    " FROM unnest($2::bigint[], $3::text[], $4::text[]) AS v(id, e, h)"
    " WHERE d.id = v.id AND d.embedding_model = ANY($5::text[]) AND md5(d.content) = v.h";

struct reembed {
    struct pgpool *pool;
    struct workpool *work;
    struct work *embedding; /* the page on a work thread, if any */
    const struct embed_provider *p;
    char models[256]; /* the other built-in models, as a text[] literal */
    struct event *timer;
    long long cursor; /* the last id of the previous page */
    long long next;   /* the last id of the page being updated */
    long done;        /* memories updated */
    double started;
    bool logged_start;
};

static void schedule(struct reembed *r, int seconds)
{
    struct timeval tv = {seconds, 0};
    if (evtimer_add(r->timer, &tv) < 0)
        log_warn("msg=\"cannot schedule the re-embedding pass\"");
}

static void event_done(PGresult *res, void *arg)
{
    if (res && PQresultStatus(res) != PGRES_TUPLES_OK)
        log_warn("msg=\"cannot write a re-embedding event\" error=\"%s\"",
                 PQresultErrorMessage(res));
}

static void finish(struct reembed *r)
{
    if (!r->logged_start)
        return; /* nothing of another model: nothing to say */
    double ms = (clock_now() - r->started) * 1000;
    log_info("msg=\"memories re-embedded\" model=%s documents=%ld ms=%.0f", r->p->model, r->done,
             ms);
    cJSON *d = cJSON_CreateObject();
    char *text = NULL;
    if (d && cJSON_AddStringToObject(d, "model", r->p->model) &&
        cJSON_AddNumberToObject(d, "documents", (double)r->done) &&
        cJSON_AddNumberToObject(d, "durationMs", (double)(long)(ms + 0.5)))
        text = json_print(d);
    cJSON_Delete(d);
    const char *params[5] = {"embed.reembedded", "info", NULL, NULL, text};
    if (text && pgpool_query(r->pool, Q_EVENT_INSERT, 5, params, event_done, NULL) < 0)
        log_warn("msg=\"cannot write a re-embedding event: database unavailable\"");
    free(text);
}

static void updated(PGresult *res, void *arg)
{
    struct reembed *r = arg;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_warn("msg=\"re-embedding update failed; retrying\" error=\"%s\"",
                 res ? PQresultErrorMessage(res) : "no connection");
        schedule(r, REEMBED_RETRY_S);
        return;
    }
    r->done += strtol(PQcmdTuples(res), NULL, 10);
    r->cursor = r->next;
    schedule(r, 0);
}

/* A page on its way through a work thread: the rows read, and the update's parameters the
 * thread builds from them. */
struct page {
    struct reembed *r;
    PGresult *rows;
    struct strbuf ids, vecs, hashes;
    int embedded;
};

/* Appends s to sb; *ok turns false when memory ran out. */
static void add(struct strbuf *sb, const char *s, bool *ok)
{
    if (strbuf_add(sb, s, strlen(s)) < 0)
        *ok = false;
}

/* On a work thread: builds the update's three array parameters from the page (ids, vectors
 * as quoted real[] literals, md5 of the content embedded) and counts the memories they hold,
 * 0 when none could be embedded or memory ran out. Reads only the page and the provider. */
static void page_embed(void *arg)
{
    struct page *pg = arg;
    const struct embed_provider *p = pg->r->p;
    PGresult *res = pg->rows;
    bool ok = true;
    int embedded = 0;
    float *vec = malloc(sizeof(float) * (size_t)p->dims);
    add(&pg->ids, "{", &ok);
    add(&pg->vecs, "{", &ok);
    add(&pg->hashes, "{", &ok);
    for (int i = 0; ok && vec && i < PQntuples(res); i++) {
        const char *content = PQgetvalue(res, i, 1);
        if (embed_text(p, content, (size_t)PQgetlength(res, i, 1), vec) < 0)
            continue;
        char *arr = embed_to_pg_array(vec, p->dims);
        const char *sep = embedded++ ? "," : "";
        add(&pg->ids, sep, &ok);
        add(&pg->ids, PQgetvalue(res, i, 0), &ok);
        add(&pg->hashes, sep, &ok);
        add(&pg->hashes, PQgetvalue(res, i, 2), &ok);
        add(&pg->vecs, sep, &ok);
        add(&pg->vecs, "\"", &ok);
        add(&pg->vecs, arr ? arr : "", &ok);
        add(&pg->vecs, "\"", &ok);
        ok = ok && arr;
        free(arr);
    }
    add(&pg->ids, "}", &ok);
    add(&pg->vecs, "}", &ok);
    add(&pg->hashes, "}", &ok);
    free(vec);
    pg->embedded = ok && vec ? embedded : -1;
}

static void page_free(void *arg)
{
    struct page *pg = arg;
    PQclear(pg->rows);
    free(pg->ids.p);
    free(pg->vecs.p);
    free(pg->hashes.p);
    free(pg);
}

/* Back on the loop: the page's update, or the next page when nothing in it was embedded. */
static void page_embedded(void *arg)
{
    struct page *pg = arg;
    struct reembed *r = pg->r;
    r->embedding = NULL;
    if (pg->embedded < 0)
        log_warn("msg=\"re-embedding page skipped: out of memory\"");
    const char *params[5] = {r->p->model, pg->ids.p, pg->vecs.p, pg->hashes.p, r->models};
    if (pg->embedded <= 0) {
        r->cursor = r->next;
        schedule(r, 0);
    } else if (pgpool_query_sql(r->pool, update_sql, 5, params, updated, r) < 0)
        schedule(r, REEMBED_RETRY_S);
    page_free(pg);
}

static const struct work_type page_work = {"reembed", page_embed, page_embedded, page_free};

static void page_done(PGresult *res, void *arg)
{
    struct reembed *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("msg=\"re-embedding page failed; retrying\" error=\"%s\"",
                 res ? PQresultErrorMessage(res) : "no connection");
        schedule(r, REEMBED_RETRY_S);
        return;
    }
    int n = PQntuples(res);
    if (n == 0) {
        finish(r);
        return;
    }
    if (!r->logged_start) {
        r->logged_start = true;
        log_info("msg=\"re-embedding memories of other models\" model=%s", r->p->model);
    }
    r->next = strtoll(PQgetvalue(res, n - 1, 0), NULL, 10);
    struct page *pg = calloc(1, sizeof(*pg));
    if (pg) {
        pg->r = r;
        pg->rows = res;
        if ((r->embedding = workpool_submit(r->work, &page_work, pg)))
            pgpool_keep_result(r->pool); /* the page owns res now */
        else
            free(pg);
    }
    if (!r->embedding) /* out of memory or a full queue (logged): try the page again later */
        schedule(r, REEMBED_RETRY_S);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct reembed *r = arg;
    char cursor[24];
    snprintf(cursor, sizeof(cursor), "%lld", r->cursor);
    const char *params[2] = {cursor, r->models};
    if (pgpool_query_sql(r->pool, page_sql, 2, params, page_done, r) < 0)
        schedule(r, REEMBED_RETRY_S);
}

static void others_done(PGresult *res, void *arg)
{
    struct reembed *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return; /* only a warning was at stake */
    for (int i = 0; i < PQntuples(res); i++)
        log_warn("msg=\"memories of another model take no part in semantic search\" "
                 "model=\"%s\" documents=%s provider_model=%s",
                 PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), r->p->model);
}

struct reembed *reembed_new(struct event_base *base, struct pgpool *pool, struct workpool *work,
                            const struct embed_provider *p)
{
    struct reembed *r = calloc(1, sizeof(*r));
    if (!r || !(r->timer = evtimer_new(base, timer_cb, r))) {
        free(r);
        return NULL;
    }
    r->pool = pool;
    r->work = work;
    r->p = p;
    r->started = clock_now();
    size_t used = (size_t)snprintf(r->models, sizeof(r->models), "{");
    for (const struct embed_provider *o = embed_provider_next(NULL); o; o = embed_provider_next(o))
        if (strcmp(o->model, p->model) != 0 && used < sizeof(r->models))
            used += (size_t)snprintf(r->models + used, sizeof(r->models) - used, "%s%s",
                                     used > 1 ? "," : "", o->model);
    if (used + 1 >= sizeof(r->models)) { /* the built-in model ids are short */
        event_free(r->timer);
        free(r);
        return NULL;
    }
    strcat(r->models, "}");
    const char *params[2] = {p->model, r->models};
    if (pgpool_query_sql(pool, others_sql, 2, params, others_done, r) < 0)
        log_warn("msg=\"cannot count memories of other models: database unavailable\"");
    schedule(r, REEMBED_START_S);
    return r;
}

void reembed_free(struct reembed *r)
{
    if (!r)
        return;
    if (r->embedding)
        workpool_cancel(r->work, r->embedding);
    event_free(r->timer);
    free(r);
}
