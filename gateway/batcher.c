/* batcher — collects job inserts into one jsonb_to_recordset statement per flush.
 *
 * A flush is deferred to the end of the current loop iteration (event_active), so every
 * request parsed in the same iteration lands in the same statement. When a whole batch
 * fails with a data error (which validation should make impossible), its rows are retried
 * one by one so one bad row cannot fail its neighbours. */
#include "gateway/batcher.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/gateway.h"
#include "gateway/pgpool.h"
#include "gateway/queries.h"
#include "gateway/request.h"

/* A row skipped by ON CONFLICT whose winner was not visible yet gets this many more tries. */
#define MAX_RETRIES 3

struct batch {
    struct batcher *b;
    int n;
    bool *answered; /* per item, inside the same allocation */
    struct request *items[];
};

struct batcher {
    struct gateway *gw;
    int batch_max, inflight_max, inflight;
    struct request *head, *tail;
    int queued;
    struct event *flush_ev;
    struct evbuffer *buf;
};

static void flush_cb(evutil_socket_t fd, short what, void *arg);

struct batcher *batcher_new(struct gateway *gw, int batch_max, int inflight_max)
{
    struct batcher *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->gw = gw;
    b->batch_max = batch_max;
    b->inflight_max = inflight_max;
    b->flush_ev = event_new(gw->base, -1, 0, flush_cb, b);
    b->buf = evbuffer_new();
    if (!b->flush_ev || !b->buf) {
        batcher_free(b);
        return NULL;
    }
    return b;
}

void batcher_free(struct batcher *b)
{
    if (!b)
        return;
    if (b->flush_ev)
        event_free(b->flush_ev);
    if (b->buf)
        evbuffer_free(b->buf);
    free(b);
}

bool batcher_idle(const struct batcher *b) { return b->queued == 0 && b->inflight == 0; }

static void push(struct batcher *b, struct request *r)
{
    r->next = NULL;
    if (b->tail)
        b->tail->next = r;
    else
        b->head = r;
    b->tail = r;
    b->queued++;
}

static void schedule(struct batcher *b)
{
    if (b->queued > 0 && b->inflight < b->inflight_max)
        event_active(b->flush_ev, EV_TIMEOUT, 0);
}

void batcher_add(struct batcher *b, struct request *r)
{
    push(b, r);
    schedule(b);
}

static void insert_done(PGresult *res, void *arg);

/* Takes the next batch off the queue: one solo row, or up to batch_max ordinary ones. */
static struct batch *take_batch(struct batcher *b)
{
    int want = b->head->solo ? 1 : b->batch_max;
    struct batch *batch =
        calloc(1, sizeof(*batch) + (size_t)want * (sizeof(struct request *) + sizeof(bool)));
    if (!batch)
        return NULL;
    batch->b = b;
    batch->n = 0;
    batch->answered = (bool *)(batch->items + want);
    while (b->head && batch->n < want && (batch->n == 0 || !b->head->solo)) {
        struct request *r = b->head;
        b->head = r->next;
        b->queued--;
        batch->items[batch->n++] = r;
    }
    if (!b->head)
        b->tail = NULL;
    return batch;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct batcher *b = arg;
    while (b->queued > 0 && b->inflight < b->inflight_max) {
        struct batch *batch = take_batch(b);
        if (!batch) {
            struct request *r = b->head;
            b->head = r->next;
            if (!b->head)
                b->tail = NULL;
            b->queued--;
            request_error(r, 500, "internal", NULL, "out of memory");
            continue;
        }
        evbuffer_drain(b->buf, evbuffer_get_length(b->buf));
        evbuffer_add(b->buf, "[", 1);
        for (int i = 0; i < batch->n; i++) {
            evbuffer_add_printf(b->buf, "%s{\"i\":%d,", i ? "," : "", i);
            evbuffer_add(b->buf, batch->items[i]->row, strlen(batch->items[i]->row));
        }
        evbuffer_add(b->buf, "]", 2); /* the NUL too */
        const char *params[1] = {(const char *)evbuffer_pullup(b->buf, -1)};
        if (!params[0] || pgpool_query(b->gw->pool, Q_JOBS_INSERT, 1, params, insert_done, batch) < 0) {
            for (int i = 0; i < batch->n; i++)
                request_unavailable(batch->items[i]);
            free(batch);
            continue;
        }
        b->inflight++;
    }
}

static void insert_done(PGresult *res, void *arg)
{
    struct batch *batch = arg;
    struct batcher *b = batch->b;
    b->inflight--;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        bool data_error = state && (state[0] == '2' || state[0] == '4');
        for (int i = 0; i < batch->n; i++) {
            struct request *r = batch->items[i];
            if (data_error && batch->n > 1) {
                r->solo = true; /* find the one bad row by itself */
                push(b, r);
            } else {
                request_db_error(r, res);
            }
        }
    } else {
        bool *answered = batch->answered;
        for (int row = 0; row < PQntuples(res); row++) {
            int i = atoi(PQgetvalue(res, row, 0));
            if (i < 0 || i >= batch->n || answered[i])
                continue;
            struct request *r = batch->items[i];
            answered[i] = true;
            if (PQgetisnull(res, row, 1)) {
                /* Lost an idempotency-key race with a statement still in flight. */
                if (r->retries++ < MAX_RETRIES) {
                    push(b, r);
                } else {
                    request_error(r, 409, "conflict", "idempotencyKey",
                                  "a job with this idempotencyKey is being created concurrently");
                }
                continue;
            }
            bool created = PQgetvalue(res, row, 2)[0] == 't';
            request_reply(r, created ? 201 : 200, PQgetvalue(res, row, 1),
                          (size_t)PQgetlength(res, row, 1));
        }
        for (int i = 0; i < batch->n; i++) {
            if (!answered[i]) {
                log_error("msg=\"job insert returned no row\" req_id=%s", batch->items[i]->id);
                request_error(batch->items[i], 500, "internal", NULL, "internal error");
            }
        }
    }
    free(batch);
    schedule(b);
}
