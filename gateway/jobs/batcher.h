/* batcher — group commit. Requests that arrive while a statement of their kind is in flight
 * wait here and are written together by the next one (up to batch_max rows, at most
 * inflight_max statements at once), so throughput is bounded by rows per commit, not
 * commits per second. Each request still gets its own answer. The gateway runs one batcher
 * per kind of write (job inserts, completions, failures); the kind says which statement
 * writes the rows and how one result row answers its request. */
#ifndef FLOWSTATE_BATCHER_H
#define FLOWSTATE_BATCHER_H

#include <libpq-fe.h>
#include <stdbool.h>

struct request;
struct gateway;
struct batcher;

struct batcher_kind {
    const char *name; /* for log lines: "insert", "complete", … */
    /* The statement: $1 is a JSON array of the rows, each tagged {"i":k,…} with its place
     * in the batch; $2… are the batcher's fixed parameters. Its first result column must be
     * that k; a row may come back at most once. */
    int stmt;
    /* Answers r from row `row` of res (PGRES_TUPLES_OK). Returns true when r was answered,
     * false to queue it again for a later statement. */
    bool (*answer)(struct request *r, const PGresult *res, int row);
    /* 0, or a cheaper statement for a batch whose requests all have r->plain set: the same
     * parameters, one result row per item, whose first column is the id of the row it
     * wrote for that item instead of k. The ids must rise in item order (drawn from a
     * sequence as $1's items are read in order): the batcher gives the row with the k-th
     * smallest id to item k (gateway/jobs/idrank.h), and plain_answer answers it. */
    int plain_stmt;
    bool (*plain_answer)(struct request *r, const PGresult *res, int row);
};

/* kind must outlive the batcher; the nextra (at most 4) fixed parameters are copied. NULL on
 * allocation failure. */
struct batcher *batcher_new(struct gateway *gw, const struct batcher_kind *kind, int nextra,
                            const char *const *extra, int batch_max, int inflight_max);
/* Frees the batcher. Requests still queued are not answered: call it only after the loop
 * has stopped. Accepts NULL. */
void batcher_free(struct batcher *b);

/* Queues r for the next statement. r->row must hold its row as a JSON object *without* its
 * opening brace: `"agent":…,"payload":…}` (the batcher writes `{"i":k,` before it). When
 * r->job_id is not 0, no two requests with that job_id go into the same statement. The
 * kind's answer function (or an error reply) answers r. */
void batcher_add(struct batcher *b, struct request *r);

/* True when nothing is queued or in flight. Accepts NULL (idle). */
bool batcher_idle(const struct batcher *b);

#endif
