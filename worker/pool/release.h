/* release — crash release: when a worker process is gone, its running jobs go back to the
 * queue at once (SELECT fs_jobs_release_worker(worker_id, reason)) instead of waiting for
 * their leases to expire. One common/pgconn connection driven by the pool's poll loop
 * (connected at start-up and kept, one release in flight at a time); releases wait in a
 * FIFO while the database is unreachable, and the connection is retried with delays growing
 * to a second. The loop never blocks on it. */
#ifndef FLOWSTATE_POOL_RELEASE_H
#define FLOWSTATE_POOL_RELEASE_H

#include <stddef.h>
#include <stdint.h>

struct release;

/* database_url may be empty: releases are then skipped (warned once, here). Does not
 * connect yet (the first release_step does). NULL on allocation failure. */
struct release *release_new(const char *database_url);
/* Closes the connection and drops whatever is still queued. Accepts NULL. */
void release_free(struct release *r);

/* Queues the release of worker ("host:pid") with reason (stored in last_error); label
 * ("agent=… slot=… pid=…") prefixes its log lines. Copies all three. */
void release_submit(struct release *r, const char *worker, const char *reason, const char *label);

/* Releases still queued or in flight. */
size_t release_pending(const struct release *r);

/* What to poll: *fd (-1 for nothing) and *events. */
void release_poll_want(const struct release *r, int *fd, short *events);
/* Milliseconds until release_step has timed work to do (a reconnect, a deadline, a retry),
 * or -1. */
long release_timeout_ms(const struct release *r, int64_t now_ms);
/* Does the work that is due: reads and writes when revents (from poll on the fd of
 * release_poll_want; 0 when not polled) say so, then connects, retries, sends the next
 * release, or gives up a connection that took too long. now_ms is a monotonic clock. */
void release_step(struct release *r, short revents, int64_t now_ms);

#endif
