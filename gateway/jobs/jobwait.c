/* jobwait — waiters indexed by job id in a chained hash table, and batched re-reads.
 *
 * A waiter is indexed *before* its first read is sent, so a notification that arrives while
 * that read is in flight is not lost: it marks the waiter to read again. The LISTEN on
 * fs_jobs is held only while someone waits (channels.h): the first waiter asks for it, and
 * once it is in effect every waiter reads again, which covers a change between a first read
 * and the LISTEN. Every wake-up (a notification, the LISTEN taking effect after the first
 * waiter or a reconnect, the timeout, the drain) only queues
 * the waiter for a read; the queued waiters are read with one statement at the end of the
 * loop iteration, and each result answers the waiters whose job is finished, whose time is
 * up, or whose job no longer exists. The others keep waiting.
 *
 * evhttp and long waits (libevent 2.1): once a request is read, evhttp stops reading its
 * connection until the reply is written, so FLOWSTATE_HTTP_TIMEOUT (a read/write timeout
 * on the connection) cannot cut a wait short, and a pipelined request waits its turn
 * (tests/integration/test_lifecycle_api.py checks both). For the same reason a client that
 * disconnects is only noticed when we reply: the write fails and evhttp frees the
 * connection and the request. Were the close noticed earlier, evhttp would detach the
 * request from the connection and our reply would only free it. Either way the waiter
 * simply runs its course (at most FLOWSTATE_WAIT_MAX seconds). */
#include "gateway/jobs/jobwait.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <event2/http.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/db/channels.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/http/request.h"

#define BUCKETS 1024 /* power of two */
#define READ_BATCH_MAX 500
#define CALLER_BUCKETS 256 /* power of two */

/* How many waiters one caller holds (a chained hash table entry, freed at zero). */
struct caller {
    uint64_t key;
    int waiters;
    struct caller *next;
};

struct waiter {
    struct jobwait *jw;
    struct request *r;
    long long id;
    struct caller *caller;         /* NULL when there was no memory to count it */
    struct waiter *hnext, **hprev; /* hash chain */
    struct waiter *qnext;          /* read queue */
    struct event *timer;
    bool queued;  /* in the read queue */
    bool reading; /* in a read in flight */
    bool recheck; /* woken while reading: read again */
    bool expired; /* time is up or the gateway drains: the next read answers */
    bool fresh;   /* no read has succeeded yet: a failed one answers */
};

struct read_batch {
    struct jobwait *jw;
    struct read_batch *next, **prev; /* reads in flight */
    int n;
    struct waiter *w[];
};

struct jobwait {
    struct event_base *base;
    struct pgpool *pool;
    struct channels *channels;
    struct waiter *buckets[BUCKETS];
    int count;
    int max_total, max_per_key;
    struct caller *callers[CALLER_BUCKETS];
    struct waiter *qhead, *qtail;
    struct event *flush_ev;
    struct read_batch *reads;
    bool draining;
};

static void flush_cb(evutil_socket_t fd, short what, void *arg);

struct jobwait *jobwait_new(struct event_base *base, struct pgpool *pool, struct channels *channels,
                            int max_total, int max_per_key)
{
    struct jobwait *jw = calloc(1, sizeof(*jw));
    if (!jw)
        return NULL;
    jw->max_total = max_total;
    jw->max_per_key = max_per_key;
    jw->base = base;
    jw->pool = pool;
    jw->channels = channels;
    jw->flush_ev = event_new(base, -1, 0, flush_cb, jw);
    if (!jw->flush_ev) {
        free(jw);
        return NULL;
    }
    return jw;
}

void jobwait_free(struct jobwait *jw)
{
    if (!jw)
        return;
    while (jw->reads) {
        struct read_batch *b = jw->reads;
        jw->reads = b->next;
        free(b);
    }
    for (int i = 0; i < BUCKETS; i++) {
        while (jw->buckets[i]) {
            struct waiter *w = jw->buckets[i];
            jw->buckets[i] = w->hnext;
            event_free(w->timer);
            request_free(w->r);
            free(w);
        }
    }
    for (int i = 0; i < CALLER_BUCKETS; i++) {
        while (jw->callers[i]) {
            struct caller *c = jw->callers[i];
            jw->callers[i] = c->next;
            free(c);
        }
    }
    event_free(jw->flush_ev);
    free(jw);
}

int jobwait_count(const struct jobwait *jw) { return jw->count; }

static struct waiter **bucket_of(struct jobwait *jw, long long id)
{
    return &jw->buckets[(unsigned long long)id & (BUCKETS - 1)];
}

static struct caller **caller_slot(struct jobwait *jw, uint64_t key)
{
    struct caller **p = &jw->callers[key & (CALLER_BUCKETS - 1)];
    while (*p && (*p)->key != key)
        p = &(*p)->next;
    return p;
}

bool jobwait_admit(struct jobwait *jw, struct request *r)
{
    if (jw->count >= jw->max_total) {
        request_error(r, 503, "unavailable", NULL,
                      "too many long polls are waiting (%d); retry later, or poll without wait",
                      jw->max_total);
        return false;
    }
    struct caller *c = *caller_slot(jw, request_caller_key(r));
    if (c && c->waiters >= jw->max_per_key) {
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "1");
        request_error(r, 429, "too_many_requests", NULL,
                      "this key already holds %d long polls, the most one key may; retry once "
                      "one is answered",
                      jw->max_per_key);
        return false;
    }
    return true;
}

static void queue_read(struct waiter *w)
{
    struct jobwait *jw = w->jw;
    if (w->reading) {
        w->recheck = true;
        return;
    }
    if (w->queued) { /* a flush that ran out of memory left it queued: try again */
        event_active(jw->flush_ev, EV_TIMEOUT, 0);
        return;
    }
    w->queued = true;
    w->qnext = NULL;
    if (jw->qtail)
        jw->qtail->qnext = w;
    else
        jw->qhead = w;
    jw->qtail = w;
    event_active(jw->flush_ev, EV_TIMEOUT, 0);
}

/* Unindexes and frees w (neither queued nor reading) and gives its request back for the
 * caller to answer. */
static struct request *waiter_release(struct waiter *w)
{
    struct jobwait *jw = w->jw;
    struct request *r = w->r;
    if (w->hnext)
        w->hnext->hprev = w->hprev;
    *w->hprev = w->hnext;
    if (--jw->count == 0)
        channels_want(jw->channels, CHANNEL_JOBS, false);
    if (w->caller && --w->caller->waiters == 0) {
        struct caller **p = caller_slot(jw, w->caller->key);
        *p = w->caller->next;
        free(w->caller);
    }
    event_free(w->timer);
    free(w);
    return r;
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;
    w->expired = true;
    queue_read(w);
}

void jobwait_add(struct jobwait *jw, struct request *r, long long id, int seconds)
{
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w || !(w->timer = evtimer_new(jw->base, timeout_cb, w))) {
        free(w);
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    w->jw = jw;
    w->r = r;
    w->id = id;
    uint64_t key = request_caller_key(r);
    struct caller **slot = caller_slot(jw, key);
    if (!*slot && (*slot = calloc(1, sizeof(**slot))))
        (*slot)->key = key;
    if ((w->caller = *slot))
        w->caller->waiters++;
    w->fresh = true;
    w->expired = jw->draining;
    struct timeval tv = {seconds, 0};
    evtimer_add(w->timer, &tv);
    struct waiter **head = bucket_of(jw, id);
    w->hnext = *head;
    w->hprev = head;
    if (*head)
        (*head)->hprev = &w->hnext;
    *head = w;
    if (jw->count++ == 0)
        channels_want(jw->channels, CHANNEL_JOBS, true);
    log_debug("msg=\"long poll waiting\" job_id=%lld waiters=%d", id, jw->count);
    queue_read(w);
}

static void read_done(PGresult *res, void *arg);

/* Answers every waiter of a read that could not be sent or failed, when it must be
 * answered now (first read, or time is up); the others keep waiting for their timer. */
static void read_failed(struct read_batch *b, const PGresult *res)
{
    for (int i = 0; i < b->n; i++) {
        struct waiter *w = b->w[i];
        w->reading = false;
        w->recheck = false;
        if (w->fresh || w->expired)
            request_db_error(waiter_release(w), res);
    }
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct jobwait *jw = arg;
    while (jw->qhead) {
        int n = 0;
        for (struct waiter *w = jw->qhead; w && n < READ_BATCH_MAX; w = w->qnext)
            n++;
        struct read_batch *b = malloc(sizeof(*b) + (size_t)n * sizeof(struct waiter *));
        char *ids = malloc((size_t)n * 21 + 3);
        if (!b || !ids) {
            free(b);
            free(ids);
            log_error("msg=\"out of memory reading jobs for waiters\"");
            return; /* they stay queued; the next wake-up or their timer tries again */
        }
        b->jw = jw;
        b->n = n;
        size_t o = 0;
        ids[o++] = '{';
        for (int i = 0; i < n; i++) {
            struct waiter *w = jw->qhead;
            jw->qhead = w->qnext;
            w->queued = false;
            w->reading = true;
            b->w[i] = w;
            o += (size_t)snprintf(ids + o, 22, "%s%lld", i ? "," : "", w->id);
        }
        if (!jw->qhead)
            jw->qtail = NULL;
        ids[o++] = '}';
        ids[o] = '\0';
        const char *params[1] = {ids};
        int rc = pgpool_query(jw->pool, Q_JOBS_GET_MANY, 1, params, read_done, b);
        free(ids);
        if (rc < 0) {
            read_failed(b, NULL);
            free(b);
            continue;
        }
        b->next = jw->reads;
        b->prev = &jw->reads;
        if (jw->reads)
            jw->reads->prev = &b->next;
        jw->reads = b;
    }
}

/* The row of job id in res (rows ordered by id), or -1. */
static int find_row(const PGresult *res, long long id)
{
    int lo = 0, hi = PQntuples(res) - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        long long v = strtoll(PQgetvalue(res, mid, 0), NULL, 10);
        if (v == id)
            return mid;
        if (v < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static void read_done(PGresult *res, void *arg)
{
    struct read_batch *b = arg;
    if (b->next)
        b->next->prev = b->prev;
    *b->prev = b->next;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (res) {
            char msg[512];
            log_warn("msg=\"reading jobs for waiters failed\" error=%s",
                     log_quote(PQresultErrorMessage(res), msg, sizeof(msg)));
        }
        read_failed(b, res);
        free(b);
        return;
    }
    for (int i = 0; i < b->n; i++) {
        struct waiter *w = b->w[i];
        w->reading = false;
        int row = find_row(res, w->id);
        if (row < 0) {
            request_error(waiter_release(w), 404, "not_found", NULL, "no such resource");
        } else if (PQgetvalue(res, row, 1)[0] == 't' || w->expired) {
            /* Finished: 200. Still pending or running: the request's ok_status (200 for
             * GET /api/jobs/:id?wait, 202 for POST /agents/:name/task). */
            bool finished = PQgetvalue(res, row, 1)[0] == 't';
            struct request *r = waiter_release(w);
            request_reply(r, finished ? 200 : r->ok_status, PQgetvalue(res, row, 2),
                          (size_t)PQgetlength(res, row, 2));
        } else {
            w->fresh = false;
            if (w->recheck) {
                w->recheck = false;
                queue_read(w);
            }
        }
    }
    free(b);
}

static void wake_id(long long id, void *arg)
{
    struct jobwait *jw = arg;
    for (struct waiter *w = *bucket_of(jw, id); w; w = w->hnext)
        if (w->id == id)
            queue_read(w);
}

static void wake_all(struct jobwait *jw)
{
    for (int i = 0; i < BUCKETS; i++)
        for (struct waiter *w = jw->buckets[i]; w; w = w->hnext)
            queue_read(w);
}

void jobwait_notify(const char *payload, void *arg)
{
    struct jobwait *jw = arg;
    if (jw->count == 0)
        return;
    if (jobwait_parse_payload(payload, wake_id, jw) < 0) {
        log_debug("msg=\"job notification lists no ids; re-reading every waiter\" waiters=%d",
                  jw->count);
        wake_all(jw);
    }
}

void jobwait_resync(bool again, void *arg)
{
    struct jobwait *jw = arg;
    if (again && jw->count > 0)
        log_info("msg=\"listening for job changes again; re-reading every waiter\" waiters=%d",
                 jw->count);
    wake_all(jw);
}

void jobwait_drain(struct jobwait *jw)
{
    jw->draining = true;
    if (jw->count > 0)
        log_info("msg=\"answering long-poll waiters now\" waiters=%d", jw->count);
    for (int i = 0; i < BUCKETS; i++) {
        for (struct waiter *w = jw->buckets[i]; w; w = w->hnext) {
            w->expired = true;
            queue_read(w);
        }
    }
}

static bool is_finished_status(const char *s)
{
    return s && (!strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "cancelled"));
}

int jobwait_parse_payload(const char *payload, void (*each)(long long id, void *arg), void *arg)
{
    cJSON *root = cJSON_Parse(payload);
    int rc = -1;
    if (!root || !cJSON_IsObject(root) || cJSON_GetObjectItemCaseSensitive(root, "truncated"))
        goto done;
    const cJSON *list;
    /* Check everything before calling back, so a bad payload wakes all or nothing. */
    cJSON_ArrayForEach(list, root)
    {
        const cJSON *id;
        if (!cJSON_IsArray(list))
            goto done;
        cJSON_ArrayForEach(id, list)
        {
            double v = id->valuedouble;
            if (!cJSON_IsNumber(id) || v < 1 || v > 9007199254740991.0 || v != floor(v))
                goto done;
        }
    }
    cJSON_ArrayForEach(list, root)
    {
        if (!is_finished_status(list->string))
            continue;
        const cJSON *id;
        cJSON_ArrayForEach(id, list) each((long long)id->valuedouble, arg);
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}
