/* batcher — group commit. Items (one per request, each a row to write) that arrive while a
 * statement of their kind is in flight wait here and are written together by the next one
 * (up to batch_max rows, at most inflight_max statements at once), so throughput is bounded
 * by rows per commit, not commits per second. Each item still gets its own answer. The
 * gateway runs one batcher per kind of write (job inserts, completions, failures); the kind
 * says which statement writes the rows and how one result row answers its item.
 *
 * The batcher knows nothing of HTTP: an item is embedded in its owner's state (a request
 * context) and the kind's callbacks reach the owner from it. It sends statements through a
 * submit function (pgpool_query in the gateway, a fake in the unit tests). */
#ifndef FLOWSTATE_BATCHER_H
#define FLOWSTATE_BATCHER_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"
#include "gateway/db/pgpool.h"

struct batcher;

#define BATCHER_COLUMNS_MAX 5 /* leading parameters a kind's columns callback may fill */

/* One row waiting to be written. The owner sets row, len, key and plain before
 * batcher_add and keeps the item (and the row) alive until the kind answers or fails it;
 * next and solo are the batcher's. */
struct batcher_item {
    const char *row; /* a JSON object *without* its opening brace: `"agent":…,"payload":…}`
                      * (the batcher writes `{"i":k,` before it); unused by a kind with
                      * columns */
    size_t len;
    long long key; /* not 0: no two items with this key go into one statement (a job id) */
    bool plain;    /* the row fits the kind's plain statement */
    bool solo;     /* to be written in a statement of its own (finding a bad row) */
    struct batcher_item *next;
};

/* Why an item could not be written; its owner answers it accordingly. */
enum batcher_failure {
    BATCHER_NOMEM,       /* out of memory taking the batch or rendering its parameters */
    BATCHER_UNAVAILABLE, /* the statement was not accepted (database down, queue full) */
    BATCHER_FAILED,      /* the statement failed (res), or its connection was lost (res NULL) */
    BATCHER_NO_ROW,      /* the statement succeeded but returned no row for the item */
};

struct batcher_kind {
    const char *name; /* for log lines: "insert", "complete", … */
    /* The statement: $1 is a JSON array of the rows, each tagged {"i":k,…} with its place
     * in the batch (or the parameters columns renders); the batcher's fixed parameters come
     * after them. Its first result column must be that k; a row may come back at most once. */
    int stmt;
    /* NULL, or renders the statement's leading parameters from the batch's n items (in
     * order, k counting from 0) in place of the JSON array: one NUL-terminated text per
     * buffer of cols, which the batcher owns and hands over empty. Returns how many it
     * filled (1 to BATCHER_COLUMNS_MAX), or -1 when out of memory. */
    int (*columns)(struct batcher_item *const *items, int n, struct strbuf *cols);
    /* Answers it from row `row` of res (PGRES_TUPLES_OK). Returns true when it was answered,
     * false to queue it again for a later statement. */
    bool (*answer)(struct batcher_item *it, const PGresult *res, int row);
    /* 0, or a cheaper statement for a batch whose items all have plain set: the same
     * parameters, one result row per item, whose first column is the id of the row it
     * wrote for that item instead of k. The ids must rise in item order (drawn from a
     * sequence as $1's items are read in order): the batcher gives the row with the k-th
     * smallest id to item k (gateway/jobs/idrank.h), and plain_answer answers it. */
    int plain_stmt;
    bool (*plain_answer)(struct batcher_item *it, const PGresult *res, int row);
    /* Answers an item that could not be written (res: the failed result, or NULL). */
    void (*failed)(struct batcher_item *it, enum batcher_failure why, const PGresult *res);
};

/* Sends a statement: pgpool_query's contract (0: cb will be called exactly once; -1: it
 * will not). db is the submit function's own argument. */
typedef int (*batcher_submit_fn)(void *db, int stmt, int nparams, const char *const *values,
                                 pgpool_cb cb, void *arg);

/* A batcher that flushes on base and sends through submit(db, …). kind must outlive it; the
 * nextra (at most 4) fixed parameters are copied. NULL on allocation failure. */
struct batcher *batcher_new(struct event_base *base, batcher_submit_fn submit, void *db,
                            const struct batcher_kind *kind, int nextra, const char *const *extra,
                            int batch_max, int inflight_max);
/* Frees the batcher. Items still queued are neither answered nor failed: call it only after
 * the loop has stopped. Accepts NULL. */
void batcher_free(struct batcher *b);

/* Queues it for the next statement, which is sent at the end of the current loop iteration
 * (so every item added in one iteration can share it). The kind's answer or failed callback
 * answers it, exactly once. */
void batcher_add(struct batcher *b, struct batcher_item *it);

/* True when nothing is queued or in flight. Accepts NULL (idle). */
bool batcher_idle(const struct batcher *b);

#endif
