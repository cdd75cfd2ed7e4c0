/* batcher — collects rows of one kind into one statement per flush.
 *
 * A flush is deferred to the end of the current loop iteration (event_active), so every
 * item added in the same iteration lands in the same statement. When a whole batch fails
 * with a data error or a transaction rollback (a deadlock, which validation cannot
 * prevent), its rows are retried one by one so one bad row cannot fail its neighbours.
 *
 * Items with a key (a job id) are never put in one statement with another item of the same
 * key: the outcome statements match each row to its job, and two reports for one job must
 * be decided one after the other (the second one is fenced). An item skipped for that
 * reason keeps its place in the queue for the next statement. */
#include "gateway/jobs/batcher.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/jobs/idrank.h"

#define EXTRA_MAX 4

struct batch {
    struct batcher *b;
    bool plain; /* sent as the kind's plain statement */
    int n;
    bool *answered; /* per item, inside the same allocation */
    struct batcher_item *items[];
};

/* The job ids already in the batch being taken: open addressing, an entry is live when its
 * generation is the current one, so nothing needs clearing between batches. */
struct seen_slot {
    long long id;
    unsigned gen;
};

struct batcher {
    batcher_submit_fn submit;
    void *db;
    const struct batcher_kind *kind;
    int nextra;
    char *extra[EXTRA_MAX];
    int batch_max, inflight_max, inflight;
    struct batcher_item *head, *tail;
    int queued;
    struct event *flush_ev;
    struct evbuffer *buf;
    struct strbuf cols[BATCHER_COLUMNS_MAX]; /* a columns kind's parameters, reused */
    struct seen_slot *seen;
    size_t seen_mask;
    unsigned seen_gen;
};

static void flush_cb(evutil_socket_t fd, short what, void *arg);

struct batcher *batcher_new(struct event_base *base, batcher_submit_fn submit, void *db,
                            const struct batcher_kind *kind, int nextra, const char *const *extra,
                            int batch_max, int inflight_max)
{
    if (nextra < 0 || nextra > EXTRA_MAX)
        return NULL;
    struct batcher *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->submit = submit;
    b->db = db;
    b->kind = kind;
    b->batch_max = batch_max;
    b->inflight_max = inflight_max;
    b->nextra = nextra;
    for (int i = 0; i < nextra; i++)
        if (!(b->extra[i] = strdup(extra[i])))
            goto fail;
    size_t cap = 16;
    while (cap < (size_t)batch_max * 2)
        cap *= 2;
    b->seen = calloc(cap, sizeof(*b->seen));
    b->seen_mask = cap - 1;
    b->flush_ev = event_new(base, -1, 0, flush_cb, b);
    b->buf = evbuffer_new();
    if (!b->seen || !b->flush_ev || !b->buf)
        goto fail;
    return b;
fail:
    batcher_free(b);
    return NULL;
}

void batcher_free(struct batcher *b)
{
    if (!b)
        return;
    if (b->flush_ev)
        event_free(b->flush_ev);
    if (b->buf)
        evbuffer_free(b->buf);
    for (int i = 0; i < b->nextra; i++)
        free(b->extra[i]);
    for (int i = 0; i < BATCHER_COLUMNS_MAX; i++)
        free(b->cols[i].p);
    free(b->seen);
    free(b);
}

bool batcher_idle(const struct batcher *b) { return !b || (b->queued == 0 && b->inflight == 0); }

static void push(struct batcher *b, struct batcher_item *it)
{
    it->next = NULL;
    if (b->tail)
        b->tail->next = it;
    else
        b->head = it;
    b->tail = it;
    b->queued++;
}

static void schedule(struct batcher *b)
{
    if (b->queued > 0 && b->inflight < b->inflight_max)
        event_active(b->flush_ev, EV_TIMEOUT, 0);
}

void batcher_add(struct batcher *b, struct batcher_item *it)
{
    push(b, it);
    schedule(b);
}

/* Adds id to the current batch's set. False when it is already there. */
static bool seen_add(struct batcher *b, long long id)
{
    size_t i = (size_t)((unsigned long long)id * 0x9E3779B97F4A7C15ULL >> 17) & b->seen_mask;
    for (;; i = (i + 1) & b->seen_mask) {
        struct seen_slot *s = &b->seen[i];
        if (s->gen != b->seen_gen) {
            s->id = id;
            s->gen = b->seen_gen;
            return true;
        }
        if (s->id == id)
            return false;
    }
}

static void batch_done(PGresult *res, void *arg);

/* Takes the next batch off the queue: one solo row, or up to batch_max ordinary ones with
 * distinct keys. Items skipped as duplicates stay queued in order; the scan gives up after
 * batch_max of them so a queue full of reports for one job stays cheap. */
static struct batch *take_batch(struct batcher *b)
{
    int want = b->head->solo ? 1 : b->queued < b->batch_max ? b->queued : b->batch_max;
    struct batch *batch =
        calloc(1, sizeof(*batch) + (size_t)want * (sizeof(struct batcher_item *) + sizeof(bool)));
    if (!batch)
        return NULL;
    batch->b = b;
    batch->answered = (bool *)(batch->items + want);
    if (++b->seen_gen == 0) { /* wrapped: stale entries could look live */
        memset(b->seen, 0, (b->seen_mask + 1) * sizeof(*b->seen));
        b->seen_gen = 1;
    }
    struct batcher_item **link = &b->head, *prev = NULL;
    int skipped = 0;
    while (*link && batch->n < want && skipped < b->batch_max) {
        struct batcher_item *it = *link;
        if (batch->n > 0 && it->solo)
            break;
        if (it->key != 0 && !seen_add(b, it->key)) {
            prev = it;
            link = &it->next;
            skipped++;
            continue;
        }
        *link = it->next;
        if (b->tail == it)
            b->tail = prev;
        b->queued--;
        batch->items[batch->n++] = it;
    }
    return batch;
}

/* Writes the opening of item i of the group's document, `{"i":<i>,` (preceded by a comma
 * after the first), into out; returns its length. */
static size_t item_head(char out[24], int i)
{
    size_t len = 0;
    if (i > 0)
        out[len++] = ',';
    memcpy(out + len, "{\"i\":", 5);
    len += 5;
    char digits[10];
    int n = 0;
    do
        digits[n++] = (char)('0' + i % 10);
    while ((i /= 10) > 0);
    while (n > 0)
        out[len++] = digits[--n];
    out[len++] = ',';
    return len;
}

/* The statement's $1 for a batch: the JSON array of its rows, each tagged with its place.
 * Sets batch->plain. Returns 1, or 0 when out of memory. */
static int render_rows(struct batcher *b, struct batch *batch, const char **params)
{
    evbuffer_drain(b->buf, evbuffer_get_length(b->buf));
    evbuffer_add(b->buf, "[", 1);
    batch->plain = b->kind->plain_stmt != 0;
    for (int i = 0; i < batch->n; i++) {
        char head[24];
        evbuffer_add(b->buf, head, item_head(head, i));
        evbuffer_add(b->buf, batch->items[i]->row, batch->items[i]->len);
        batch->plain &= batch->items[i]->plain;
    }
    evbuffer_add(b->buf, "]", 2); /* the NUL too */
    params[0] = (const char *)evbuffer_pullup(b->buf, -1);
    return params[0] != NULL;
}

/* The statement's leading parameters for a batch, from the kind's columns callback. Returns
 * how many, or 0 when out of memory (or when the callback broke its contract). */
static int render_columns(struct batcher *b, struct batch *batch, const char **params)
{
    for (int i = 0; i < BATCHER_COLUMNS_MAX; i++)
        strbuf_truncate(&b->cols[i], 0);
    int n = b->kind->columns(batch->items, batch->n, b->cols);
    if (n < 1 || n > BATCHER_COLUMNS_MAX)
        return 0;
    for (int i = 0; i < n; i++)
        if (!(params[i] = b->cols[i].p))
            return 0;
    return n;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct batcher *b = arg;
    while (b->queued > 0 && b->inflight < b->inflight_max) {
        struct batch *batch = take_batch(b);
        if (!batch) {
            struct batcher_item *it = b->head;
            b->head = it->next;
            if (!b->head)
                b->tail = NULL;
            b->queued--;
            b->kind->failed(it, BATCHER_NOMEM, NULL);
            continue;
        }
        const char *params[BATCHER_COLUMNS_MAX + EXTRA_MAX];
        int nlead =
            b->kind->columns ? render_columns(b, batch, params) : render_rows(b, batch, params);
        for (int i = 0; i < b->nextra && nlead > 0; i++)
            params[nlead + i] = b->extra[i];
        int stmt = batch->plain ? b->kind->plain_stmt : b->kind->stmt;
        if (nlead <= 0 ||
            b->submit(b->db, stmt, nlead + b->nextra, params, batch_done, batch) < 0) {
            for (int i = 0; i < batch->n; i++)
                b->kind->failed(batch->items[i], nlead <= 0 ? BATCHER_NOMEM : BATCHER_UNAVAILABLE,
                                NULL);
            free(batch);
            continue;
        }
        b->inflight++;
    }
}

static void batch_done(PGresult *res, void *arg)
{
    struct batch *batch = arg;
    struct batcher *b = batch->b;
    b->inflight--;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* 22 data exception, 23 constraint, 40 rollback (deadlock), 42 syntax/access */
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        bool retry_alone = state && (state[0] == '2' || state[0] == '4');
        for (int i = 0; i < batch->n; i++) {
            struct batcher_item *it = batch->items[i];
            if (retry_alone && batch->n > 1) {
                it->solo = true; /* find the one bad row by itself */
                push(b, it);
            } else {
                b->kind->failed(it, BATCHER_FAILED, res);
            }
        }
    } else {
        bool *answered = batch->answered;
        int rows = PQntuples(res);
        int *item_of = NULL; /* a plain statement's rows: the item each answers */
        if (batch->plain && (!(item_of = malloc((size_t)batch->n * sizeof(int))) ||
                             idrank_items(res, batch->n, item_of) < 0)) {
            log_error(
                "msg=\"plain statement's rows do not match its items\" kind=%s rows=%d items=%d",
                b->kind->name, rows, batch->n);
            rows = 0; /* every item fails below */
        }
        for (int row = 0; row < rows; row++) {
            int i = item_of ? item_of[row] : atoi(PQgetvalue(res, row, 0));
            if (i < 0 || i >= batch->n || answered[i])
                continue;
            struct batcher_item *it = batch->items[i];
            answered[i] = true;
            if (!(batch->plain ? b->kind->plain_answer : b->kind->answer)(it, res, row))
                push(b, it);
        }
        free(item_of);
        for (int i = 0; i < batch->n; i++)
            if (!answered[i])
                b->kind->failed(batch->items[i], BATCHER_NO_ROW, res);
    }
    free(batch);
    schedule(b);
}
