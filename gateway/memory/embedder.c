/* embedder — the provider from the settings, and the remote providers' calls on a
 * workpool of their own (see embedder.h). Each call borrows a keep-alive http_client from a
 * small free list (at most one per thread is ever made) and the pool hands the finished call
 * back to the loop, which writes the events and calls back. Nothing that touches libevent or
 * the database pool runs off the loop. */
#include "gateway/memory/embedder.h"
#include "common/json_print.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/embed.h"
#include "common/embed_remote.h"
#include "common/http_client.h"
#include "common/log.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/memory/reembed.h"
#include "gateway/work/workpool.h"

/* Attempts per remote call (the first and two retries on 429/5xx/no answer). */
#define EMBED_ATTEMPTS 3
/* Seconds between embed.calls summary rows. */
#define EMBED_STATS_INTERVAL_S 60

struct embed_job {
    struct embedder *e;
    const char *purpose;
    char *text;
    size_t len;
    embedder_cb cb;
    void *arg;
    int rc;
    struct embed_call call;
    float vec[]; /* dims floats */
};

/* A keep-alive connection to the provider, lent to one call at a time. */
struct client_slot {
    struct client_slot *next;
    struct http_client *hc;
};

struct embedder {
    struct pgpool *pool;     /* for the events rows */
    struct reembed *reembed; /* built-in provider: the pass over other models' memories */
    struct embed_provider p;
    char model_id[256]; /* "openai:text-embedding-3-small" */
    char *url, *model, *key;
    long timeout_ms;
    struct workpool *remote; /* the remote calls' threads */
    pthread_mutex_t clients_mu;
    struct client_slot *clients; /* idle connections, under clients_mu */
    struct event *stats_ev;
    /* successes and failures since the last embed.calls row (loop only) */
    long calls, failures;
    double ms_total, ms_max;
};

const struct embed_provider *embedder_provider(const struct embedder *e) { return &e->p; }

/* A pool thread's call: borrow an idle connection (or open one), call, give it back. */
static void remote_run(void *arg)
{
    struct embed_job *j = arg;
    struct embedder *e = j->e;
    pthread_mutex_lock(&e->clients_mu);
    struct client_slot *c = e->clients;
    if (c)
        e->clients = c->next;
    pthread_mutex_unlock(&e->clients_mu);
    if (!c && (c = calloc(1, sizeof(*c))) &&
        !(c->hc = http_client_new(e->url, e->key, e->timeout_ms))) {
        free(c);
        c = NULL;
    }
    if (!c) {
        j->rc = -1;
        snprintf(j->call.error, sizeof(j->call.error), "out of memory");
        return;
    }
    j->rc = embed_remote_embed(c->hc, e->p.api, e->model, e->p.dims, j->text, j->len,
                               EMBED_ATTEMPTS, e->timeout_ms, j->vec, &j->call);
    pthread_mutex_lock(&e->clients_mu);
    c->next = e->clients;
    e->clients = c;
    pthread_mutex_unlock(&e->clients_mu);
}

static void job_free(struct embed_job *j)
{
    if (j) {
        free(j->text);
        free(j);
    }
}

static void event_done(PGresult *res, void *arg)
{
    if (res && PQresultStatus(res) != PGRES_TUPLES_OK)
        log_warn("msg=\"cannot write an embedding event\" error=\"%s\"", PQresultErrorMessage(res));
}

/* Writes an events row of type with data (consumed). */
static void write_event(struct embedder *e, const char *type, const char *severity, cJSON *data)
{
    char *text = data ? json_print(data) : NULL;
    cJSON_Delete(data);
    const char *params[5] = {type, severity, NULL, NULL, text};
    if (text && pgpool_query(e->pool, Q_EVENT_INSERT, 5, params, event_done, NULL) < 0)
        log_warn("msg=\"cannot write an embedding event: database unavailable\" type=%s", type);
    free(text);
}

static cJSON *event_data(const struct embedder *e)
{
    cJSON *d = cJSON_CreateObject();
    if (d) {
        cJSON_AddStringToObject(d, "provider", e->p.name);
        cJSON_AddStringToObject(d, "model", e->p.model);
    }
    return d;
}

static void record(struct embedder *e, const struct embed_job *j)
{
    e->calls++;
    e->ms_total += j->call.ms;
    if (j->call.ms > e->ms_max)
        e->ms_max = j->call.ms;
    if (j->rc == 0) {
        log_debug("msg=\"embedding call\" provider=%s purpose=%s outcome=ok ms=%.0f attempts=%d",
                  e->p.name, j->purpose, j->call.ms, j->call.attempts);
        return;
    }
    e->failures++;
    log_warn("msg=\"embedding call failed\" provider=%s model=%s purpose=%s ms=%.0f attempts=%d "
             "status=%d error=\"%s\"",
             e->p.name, e->p.model, j->purpose, j->call.ms, j->call.attempts, j->call.status,
             j->call.error);
    cJSON *d = event_data(e);
    if (d) {
        cJSON_AddStringToObject(d, "purpose", j->purpose);
        cJSON_AddNumberToObject(d, "durationMs", (double)(long)(j->call.ms + 0.5));
        cJSON_AddNumberToObject(d, "attempts", j->call.attempts);
        if (j->call.status)
            cJSON_AddNumberToObject(d, "status", j->call.status);
        else
            cJSON_AddNullToObject(d, "status");
        cJSON_AddStringToObject(d, "error", j->call.error);
    }
    write_event(e, "embed.failed", "warning", d);
}

static void remote_done(void *arg)
{
    struct embed_job *j = arg;
    record(j->e, j);
    j->cb(j->rc == 0 ? j->vec : NULL, j->call.error, j->arg);
    job_free(j);
}

static void remote_drop(void *arg) { job_free(arg); }

static const struct work_type remote_call = {"embed", remote_run, remote_done, remote_drop};

/* The minute's summary: calls, failures, total and longest duration. */
static void stats_cb(evutil_socket_t fd, short what, void *arg)
{
    struct embedder *e = arg;
    if (e->calls == 0)
        return;
    cJSON *d = event_data(e);
    if (d) {
        cJSON_AddNumberToObject(d, "calls", (double)e->calls);
        cJSON_AddNumberToObject(d, "failures", (double)e->failures);
        cJSON_AddNumberToObject(d, "durationMsTotal", (double)(long)(e->ms_total + 0.5));
        cJSON_AddNumberToObject(d, "durationMsMax", (double)(long)(e->ms_max + 0.5));
        cJSON_AddNumberToObject(d, "intervalSeconds", EMBED_STATS_INTERVAL_S);
    }
    write_event(e, "embed.calls", "info", d);
    e->calls = e->failures = 0;
    e->ms_total = e->ms_max = 0;
}

/* Reads the remote provider's settings into e. Returns 0, or -1 with err filled. */
static int remote_settings(struct embedder *e, const struct config *cfg, const char *name,
                           char *err, size_t errlen)
{
    const char *model = config_str(cfg, CFG_EMBED_MODEL), *url = config_str(cfg, CFG_EMBED_URL);
    e->p.api = strcmp(name, "openai") == 0 ? EMBED_API_OPENAI : EMBED_API_OLLAMA;
    e->p.dims = (int)config_int(cfg, CFG_EMBED_DIMS);
    e->timeout_ms = config_int(cfg, CFG_EMBED_TIMEOUT_MS);
    if (!model[0] || e->p.dims <= 0) {
        snprintf(err, errlen,
                 "embed-provider %s needs embed-model (FLOWSTATE_EMBED_MODEL) and "
                 "embed-dims (FLOWSTATE_EMBED_DIMS, 1 to %d)",
                 name, EMBED_DIMS_MAX);
        return -1;
    }
    if (!url[0])
        url = e->p.api == EMBED_API_OPENAI ? "https://api.openai.com" : "http://127.0.0.1:11434";
    snprintf(e->model_id, sizeof(e->model_id), "%s:%s", name, model);
    e->p.model = e->model_id;
    if (!(e->url = strdup(url)) || !(e->model = strdup(model)) ||
        !(e->key = strdup(config_str(cfg, CFG_EMBED_API_KEY)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

struct embedder *embedder_new(struct event_base *base, struct pgpool *pool, struct workpool *work,
                              const struct config *cfg, char *err, size_t errlen)
{
    const char *name = config_str(cfg, CFG_EMBED_PROVIDER);
    struct embedder *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->pool = pool;
    pthread_mutex_init(&e->clients_mu, NULL);
    const struct embed_provider *local = embed_provider_find(name);
    if (local) {
        e->p = *local;
        if (embed_provider_check(local, err, errlen) < 0)
            goto fail;
        if (!(e->reembed = reembed_new(base, pool, work, &e->p))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        log_info("msg=\"built-in embedding provider\" provider=%s model=%s dims=%d", e->p.name,
                 e->p.model, e->p.dims);
        return e;
    }
    e->p.name = strcmp(name, "openai") == 0 ? "openai" : "ollama";
    if (remote_settings(e, cfg, name, err, errlen) < 0)
        goto fail;
    if (!(e->remote = workpool_new(base, EMBEDDER_THREADS, EMBEDDER_QUEUE_MAX))) {
        snprintf(err, errlen, "cannot start embedder threads");
        goto fail;
    }
    if (!(e->stats_ev = event_new(base, -1, EV_PERSIST, stats_cb, e)) ||
        event_add(e->stats_ev, &(struct timeval){EMBED_STATS_INTERVAL_S, 0}) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    log_info("msg=\"remote embedding provider\" provider=%s model=%s dims=%d threads=%d queue=%d",
             e->p.name, e->p.model, e->p.dims, EMBEDDER_THREADS, EMBEDDER_QUEUE_MAX);
    return e;
fail:
    embedder_free(e);
    return NULL;
}

void embedder_free(struct embedder *e)
{
    if (!e)
        return;
    reembed_free(e->reembed);
    workpool_free(e->remote); /* waits for the calls in flight; drops queued texts */
    while (e->clients) {
        struct client_slot *c = e->clients;
        e->clients = c->next;
        http_client_free(c->hc);
        free(c);
    }
    if (e->stats_ev)
        event_free(e->stats_ev);
    pthread_mutex_destroy(&e->clients_mu);
    free(e->url);
    free(e->model);
    free(e->key);
    free(e);
}

int embedder_submit(struct embedder *e, const char *purpose, const char *text, size_t len,
                    embedder_cb cb, void *arg)
{
    if (len > EMBED_TEXT_MAX)
        len = EMBED_TEXT_MAX;
    struct embed_job *j = calloc(1, sizeof(*j) + (size_t)e->p.dims * sizeof(float));
    if (!j)
        return -1;
    if (e->p.api == EMBED_API_LOCAL) {
        /* microseconds of CPU: inline */
        int rc = embed_text(&e->p, text, len, j->vec);
        cb(rc == 0 ? j->vec : NULL, rc == 0 ? "" : "the local embedder failed", arg);
        free(j);
        return 0;
    }
    j->e = e;
    j->purpose = purpose;
    j->len = len;
    j->cb = cb;
    j->arg = arg;
    if (!(j->text = malloc(len + 1))) {
        free(j);
        return -1;
    }
    memcpy(j->text, text, len);
    j->text[len] = '\0';
    if (!workpool_submit(e->remote, &remote_call, j)) { /* full: the pool logged it */
        job_free(j);
        return -1;
    }
    return 0;
}
