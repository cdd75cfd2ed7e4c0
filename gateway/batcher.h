/* batcher — group commit for job inserts. Requests that arrive while an insert is in
 * flight wait here and are written together by the next statement (up to batch_max rows,
 * at most inflight_max statements at once), so throughput is bounded by rows per commit,
 * not commits per second. Each request still gets its own job and status. */
#ifndef FLOWSTATE_BATCHER_H
#define FLOWSTATE_BATCHER_H

#include <stdbool.h>

struct request;
struct gateway;
struct batcher;

/* NULL on allocation failure. */
struct batcher *batcher_new(struct gateway *gw, int batch_max, int inflight_max);
void batcher_free(struct batcher *b);

/* Queues r for the next insert. r->row must hold the job as a JSON object *without* its
 * opening brace: `"agent":…,"payload":…}` (the batcher prefixes each row's index). The
 * batcher answers r: 201 new job, 200 existing job with that idempotency key, or an error. */
void batcher_add(struct batcher *b, struct request *r);

/* True when nothing is queued or in flight. */
bool batcher_idle(const struct batcher *b);

#endif
