/* sweeper — the gateway's periodic housekeeping: every FLOWSTATE_SWEEP_INTERVAL_MS one
 * fs_sweep call sends jobs whose lease expired back to pending (as a failed attempt),
 * wakes the agents whose delayed or backed-off jobs came due, and about once a minute
 * deletes finished jobs older than FLOWSTATE_RETENTION. Several gateways may sweep one
 * database: an advisory lock in fs_sweep lets one of them run at a time. */
#ifndef FLOWSTATE_SWEEPER_H
#define FLOWSTATE_SWEEPER_H

#include <event2/event.h>

struct pgpool;
struct sweeper;

/* A sweeper timed on base, sweeping through pool. interval_ms 0: never sweeps. retention_s
 * 0: never prunes. NULL on allocation failure. */
struct sweeper *sweeper_new(struct event_base *base, struct pgpool *pool, long interval_ms,
                            long retention_s);
/* No sweep starts after this (one in flight still finishes). */
void sweeper_stop(struct sweeper *s);
/* Only after the loop stopped and the pool was freed (a sweep in flight is then dropped
 * without its callback). Accepts NULL. */
void sweeper_free(struct sweeper *s);

#endif
