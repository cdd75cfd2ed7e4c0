/* batchreq — a request waiting in a group-commit batcher: the batcher item it owns, the row
 * that item sends, and the one mapping from a batcher failure to the request's reply that
 * every group-committed route (job inserts, single outcome reports) shares. A batchreq lives
 * in its route's request context, so it costs no allocation and is freed with the request. */
#ifndef FLOWSTATE_BATCHREQ_H
#define FLOWSTATE_BATCHREQ_H

#include <stddef.h>

#include "gateway/jobs/batcher.h"

struct request;

struct batchreq {
    struct batcher_item item;
    struct request *r;
    char *row; /* owned: batchreq_release frees it */
};

/* The batchreq an item of a request-owned batcher belongs to. */
static inline struct batchreq *batchreq_of(struct batcher_item *it)
{
    return (struct batchreq *)(void *)((char *)it - offsetof(struct batchreq, item));
}

/* Queues r's row (len bytes, taken over) on b through q, which must live in one of r's
 * contexts. key: see batcher_item. */
void batchreq_add(struct batcher *b, struct batchreq *q, struct request *r, char *row, size_t len,
                  long long key, bool plain);

/* Frees what q owns (its row); for the free function of the context holding q. */
void batchreq_release(struct batchreq *q);

/* A batcher_kind's failed callback for request items: 500 when out of memory or when the
 * statement returned no row for it (logged), 503 when the statement could not be sent, and
 * request_db_error's mapping when it failed. */
void batchreq_failed(struct batcher_item *it, enum batcher_failure why, const PGresult *res);

#endif
