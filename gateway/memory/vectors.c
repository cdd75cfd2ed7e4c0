/* vectors — loading and keeping current the gateway's embedding cache (see vectors.h).
 * One page query or one fetch query at a time, each small, so the loop and the pool are
 * never held long: a page of VECTORS_PAGE rows is parsed and quantised in a few ms.
 *
 * Scans on work threads read a store without a lock: while any holds it (vectors_hold), a
 * change first copies the store (writable) and the copy becomes the cache; the old one is
 * freed when its last scan lets go. Only the loop thread counts holds, so they need no
 * atomics; a store never changes while it is held. */
#include "gateway/memory/vectors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/embed.h"
#include "common/log.h"
#include "gateway/db/channels.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/memory/vecstore.h"

/* Rows per keyset page of the load (≈ 2.5 MB of text, a few ms of parsing). */
#define VECTORS_PAGE 2000
/* Ids one fetch of notified documents reads. */
#define FETCH_MAX 1000
/* More ids waiting than this: re-sync instead. */
#define PENDING_MAX 20000

struct vectors {
    struct pgpool *pool;
    struct channels *channels;
    const struct embed_provider *p;
    struct vecstore *store;
    long max;
    bool enabled, ready;
    bool started;           /* a search asked for it: subscribed to fs_documents, loading */
    bool loading;           /* a page query is in flight */
    unsigned gen, page_gen; /* the load generation, and that of the page in flight */
    long long cursor;       /* last id of the previous page */
    double load_started;    /* clock_now() */
    long long *pending;     /* ids to (re)read, from notifications */
    size_t npending, cap;
    bool fetching;
    struct event *retry;
    int holds; /* scans on work threads reading store (vectors_hold) */
    struct retired *retired;
};

/* A store replaced while scans still read it: freed when the last of them lets go. */
struct retired {
    struct vecstore *store;
    int holds;
    struct retired *next;
};

/* Stops using the current store: frees it, or keeps it for the scans that still read it.
 * Returns -1 when memory for that ran out (the store is then leaked, never freed under a
 * reader). */
static int retire_store(struct vectors *v)
{
    if (v->holds) {
        struct retired *old = malloc(sizeof(*old));
        if (!old) {
            v->store = NULL;
            v->holds = 0;
            return -1;
        }
        *old = (struct retired){v->store, v->holds, v->retired};
        v->retired = old;
    } else {
        vecstore_free(v->store);
    }
    v->store = NULL;
    v->holds = 0;
    return 0;
}

static void disable(struct vectors *v, const char *why)
{
    log_warn("msg=\"vector cache off; semantic search scans in SQL\" reason=\"%s\"", why);
    v->enabled = v->ready = false;
    retire_store(v);
    v->npending = 0;
}

/* The store to change: the current one, or, while scans read it, a copy that replaces it (so
 * a scan on a work thread never sees a change). NULL when the copy could not be made: the
 * cache has turned itself off. */
static struct vecstore *writable(struct vectors *v)
{
    if (!v->holds)
        return v->store;
    struct vecstore *copy = vecstore_clone(v->store);
    if (!copy || retire_store(v) < 0) {
        vecstore_free(copy);
        disable(v, "out of memory");
        return NULL;
    }
    v->store = copy;
    return copy;
}

/* Stores one row's vector; false when the cache had to turn itself off. */
static bool store_row(struct vectors *v, long long id, const char *text)
{
    float vec[EMBED_DIMS_MAX];
    struct vecstore *s;
    if (!text || embed_from_pg_array(text, vec, v->p->dims) < 0) {
        if (vecstore_has(v->store, id) && !(s = writable(v)))
            return false;
        vecstore_remove(v->store, id);
        return true;
    }
    if (!vecstore_has(v->store, id) && (long)vecstore_count(v->store) >= v->max) {
        disable(v, "more embedded documents than vector-cache-max");
        return false;
    }
    if (!(s = writable(v)))
        return false;
    if (vecstore_put(s, id, vec) < 0)
        vecstore_remove(s, id); /* out of memory, or a value that is not finite */
    return true;
}

static void next_page(struct vectors *v);
static void next_fetch(struct vectors *v);

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct vectors *v = arg;
    if (v->enabled && !v->loading)
        next_page(v);
    if (v->enabled && !v->fetching)
        next_fetch(v);
}

static void schedule_retry(struct vectors *v)
{
    struct timeval tv = {1, 0};
    if (v->retry)
        evtimer_add(v->retry, &tv);
}

static void page_done(PGresult *res, void *arg)
{
    struct vectors *v = arg;
    v->loading = false;
    if (!v->enabled)
        return;
    if (v->page_gen != v->gen) { /* a re-sync began meanwhile: start over */
        next_page(v);
        return;
    }
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("msg=\"vector cache page failed; retrying\" error=\"%s\"",
                 res ? PQresultErrorMessage(res) : "connection lost");
        schedule_retry(v);
        return;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        long long id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (!store_row(v, id, PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1)))
            return;
        v->cursor = id;
    }
    if (n == VECTORS_PAGE) {
        next_page(v);
        return;
    }
    if (!writable(v))
        return;
    size_t removed = vecstore_sweep(v->store);
    if (!v->ready)
        log_info("msg=\"vector cache ready\" model=%s vectors=%zu bytes=%zu ms=%.0f", v->p->model,
                 vecstore_count(v->store), vecstore_bytes(v->store),
                 (clock_now() - v->load_started) * 1e3);
    else
        log_info("msg=\"vector cache re-synced\" vectors=%zu removed=%zu ms=%.0f",
                 vecstore_count(v->store), removed, (clock_now() - v->load_started) * 1e3);
    v->ready = true;
}

static void next_page(struct vectors *v)
{
    char cursor[24], dims[16], page[16];
    snprintf(cursor, sizeof(cursor), "%lld", v->cursor);
    snprintf(dims, sizeof(dims), "%d", v->p->dims);
    snprintf(page, sizeof(page), "%d", VECTORS_PAGE);
    if (v->page_gen != v->gen) {
        v->page_gen = v->gen;
        v->cursor = 0;
        snprintf(cursor, sizeof(cursor), "0");
    }
    const char *params[4] = {v->p->model, cursor, dims, page};
    if (pgpool_query(v->pool, Q_VECTORS_PAGE, 4, params, page_done, v) < 0) {
        schedule_retry(v);
        return;
    }
    v->loading = true;
}

void vectors_resync(void *arg)
{
    struct vectors *v = arg;
    if (!v || !v->enabled)
        return;
    v->gen++;
    if (!writable(v))
        return;
    vecstore_unmark_all(v->store);
    v->load_started = clock_now();
    if (!v->loading)
        next_page(v);
}

static void fetch_done(PGresult *res, void *arg)
{
    struct vectors *v = arg;
    v->fetching = false;
    if (!v->enabled)
        return;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("msg=\"vector cache fetch failed; re-syncing\" error=\"%s\"",
                 res ? PQresultErrorMessage(res) : "connection lost");
        v->npending = 0;
        vectors_resync(v);
        return;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        if (!store_row(v, strtoll(PQgetvalue(res, i, 0), NULL, 10),
                       PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1)))
            return;
    next_fetch(v);
}

static void next_fetch(struct vectors *v)
{
    if (v->fetching || v->npending == 0)
        return;
    size_t n = v->npending < FETCH_MAX ? v->npending : FETCH_MAX;
    char *ids = vectors_ids_text(v->pending + v->npending - n, (long)n);
    if (!ids)
        return;
    char dims[16];
    snprintf(dims, sizeof(dims), "%d", v->p->dims);
    const char *params[3] = {ids, v->p->model, dims};
    /* Rows no longer there come back as no row: remove those first. */
    if (!writable(v)) {
        free(ids);
        return;
    }
    for (size_t i = v->npending - n; i < v->npending; i++)
        vecstore_remove(v->store, v->pending[i]);
    if (pgpool_query(v->pool, Q_VECTORS_FETCH, 3, params, fetch_done, v) < 0) {
        free(ids);
        v->npending = 0;
        vectors_resync(v); /* the pool is full or down: read everything later */
        return;
    }
    free(ids);
    v->npending -= n;
    v->fetching = true;
}

static void want(struct vectors *v, long long id)
{
    if (v->npending == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        long long *p = cap <= PENDING_MAX ? realloc(v->pending, cap * sizeof(*p)) : NULL;
        if (!p) {
            v->npending = 0;
            vectors_resync(v);
            return;
        }
        v->pending = p;
        v->cap = cap;
    }
    v->pending[v->npending++] = id;
}

void vectors_listening(bool again, void *arg)
{
    struct vectors *v = arg;
    if (again && v && v->ready)
        log_info("msg=\"listening for document changes again; re-syncing the vector cache\"");
    vectors_resync(v);
}

void vectors_notify(const char *payload, void *arg)
{
    struct vectors *v = arg;
    if (!v || !v->enabled)
        return;
    cJSON *root = cJSON_Parse(payload);
    if (!root || !cJSON_IsObject(root) || cJSON_GetObjectItemCaseSensitive(root, "truncated")) {
        cJSON_Delete(root);
        vectors_resync(v);
        return;
    }
    static const char *const ops[3] = {"i", "u", "d"};
    for (int o = 0; o < 3 && v->enabled; o++) {
        const cJSON *id, *list = cJSON_GetObjectItemCaseSensitive(root, ops[o]);
        cJSON_ArrayForEach(id, list)
        {
            if (!cJSON_IsNumber(id) || id->valuedouble < 1)
                continue;
            long long n = (long long)id->valuedouble;
            if (o == 2) {
                if (vecstore_has(v->store, n) && !writable(v))
                    break;
                vecstore_remove(v->store, n);
            } else if (o == 1 || !vecstore_has(v->store, n)) /* our own inserts are there already */
                want(v, n);
        }
    }
    cJSON_Delete(root);
    next_fetch(v);
}

struct vectors *vectors_new(struct event_base *base, struct pgpool *pool, struct channels *channels,
                            const struct embed_provider *p, bool enabled, long max)
{
    struct vectors *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->pool = pool;
    v->channels = channels;
    v->p = p;
    v->max = max;
    v->enabled = p && enabled && max > 0;
    if (v->enabled &&
        (!(v->store = vecstore_new(v->p->dims)) || !(v->retry = evtimer_new(base, retry_cb, v)))) {
        vectors_free(v);
        return NULL;
    }
    return v;
}

void vectors_free(struct vectors *v)
{
    if (!v)
        return;
    if (v->retry)
        event_free(v->retry);
    while (v->retired) {
        struct retired *old = v->retired;
        v->retired = old->next;
        vecstore_free(old->store);
        free(old);
    }
    vecstore_free(v->store);
    free(v->pending);
    free(v);
}

const struct vecstore *vectors_store(const struct vectors *v, const char *model)
{
    if (!v || !v->enabled || !v->ready || strcmp(model, v->p->model) != 0)
        return NULL;
    return v->store;
}

const struct vecstore *vectors_use(struct vectors *v, const char *model)
{
    if (v && v->enabled && !v->started && strcmp(model, v->p->model) == 0) {
        v->started = true;
        log_info("msg=\"vector cache loading\" model=%s", v->p->model);
        channels_want(v->channels, CHANNEL_DOCUMENTS, true);
    }
    return vectors_store(v, model);
}

void vectors_put(struct vectors *v, long long id, const char *model, const float *vec)
{
    if (!v || !v->enabled || !v->started || strcmp(model, v->p->model) != 0)
        return;
    if (!vecstore_has(v->store, id) && (long)vecstore_count(v->store) >= v->max) {
        disable(v, "more embedded documents than vector-cache-max");
        return;
    }
    struct vecstore *s = writable(v);
    if (s && vecstore_put(s, id, vec) < 0)
        vecstore_remove(s, id);
}

void vectors_hold(struct vectors *v, const struct vecstore *s)
{
    if (s == v->store)
        v->holds++;
    else
        for (struct retired *old = v->retired; old; old = old->next)
            if (old->store == s)
                old->holds++;
}

void vectors_release(struct vectors *v, const struct vecstore *s)
{
    if (s == v->store) {
        v->holds--;
        return;
    }
    for (struct retired **at = &v->retired; *at; at = &(*at)->next) {
        struct retired *old = *at;
        if (old->store == s) {
            if (--old->holds == 0) {
                *at = old->next;
                vecstore_free(old->store);
                free(old);
            }
            return;
        }
    }
}

char *vectors_ids_text(const long long *ids, long n)
{
    size_t cap = (size_t)n * 21 + 3, len = 1;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = '{';
    for (long i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, i ? ",%lld" : "%lld", ids[i]);
    s[len++] = '}';
    s[len] = '\0';
    return s;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

long vectors_parse_ids(const char *text, long long **out)
{
    *out = NULL;
    if (!text || *text != '{')
        return -1;
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == ',';
    long long *ids = malloc(cap * sizeof(*ids));
    if (!ids)
        return -1;
    long n = 0;
    const char *c = text + 1;
    if (*c == '}')
        c++;
    else
        for (;;) {
            char *end = NULL;
            errno = 0;
            long long id = strtoll(c, &end, 10);
            if (end == c || errno || (*end != ',' && *end != '}') || (size_t)n >= cap) {
                free(ids);
                return -1;
            }
            ids[n++] = id;
            c = end + 1;
            if (*end == '}')
                break;
        }
    if (*c) {
        free(ids);
        return -1;
    }
    qsort(ids, (size_t)n, sizeof(*ids), cmp_ll);
    *out = ids;
    return n;
}
