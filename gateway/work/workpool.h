/* workpool — a small bounded pool of threads for CPU-heavy request work (clustering, large
 * scans of the vector cache), so the event loop keeps answering while it runs. Work waits in
 * one FIFO; a finished work comes back to the loop through a pipe and its owner answers there.
 *
 * Ownership: a work's argument belongs to the pool thread from submit until its run function
 * returns, then to the loop. The run function may read only what the argument owns or what is
 * immutable while the work is in flight (a PGresult the work was handed, a vecstore the loop
 * holds a snapshot reference on: vectors.h); it must never touch libevent, the database pools,
 * requests or anything else the loop mutates. Everything else (done, drop, cancel, submit, the
 * counts) happens on the loop thread. */
#ifndef FLOWSTATE_WORKPOOL_H
#define FLOWSTATE_WORKPOOL_H

#include <event2/event.h>
#include <stdbool.h>

struct workpool;
struct work; /* a submitted work: the handle workpool_cancel takes */

/* What a kind of work does: one static descriptor per kind, in the module that owns it.
 * run: on a pool thread; computes from arg into arg.
 * done: on the loop, after run, unless the work was cancelled; the owner answers and frees arg.
 * drop: frees arg without answering: after a cancel (on the loop), or for work still queued or
 *       finished-but-undelivered when the pool is freed (the loop has stopped by then). */
struct work_type {
    const char *name;
    void (*run)(void *arg);
    void (*done)(void *arg);
    void (*drop)(void *arg);
};

/* Starts threads threads (0: one per online CPU) taking work from base's loop; at most
 * threads + queue_max works are accepted and not yet run at once. NULL on failure. */
struct workpool *workpool_new(struct event_base *base, int threads, int queue_max);
/* Stops the threads after the works they are running (waiting for them) and drops every
 * work not yet delivered (type->drop). Call it after the loop has stopped. Accepts NULL. */
void workpool_free(struct workpool *p);
int workpool_threads(const struct workpool *p);

/* Queues a work of type on arg. Returns its handle (valid until type->done or type->drop is
 * called), or NULL when the pool is full or memory ran out: nothing was queued and no
 * callback will run, so the caller still owns arg (answer 503). */
struct work *workpool_submit(struct workpool *p, const struct work_type *type, void *arg)
    __attribute__((warn_unused_result));
/* The owner is gone: type->done will never be called for w. A work still queued is dropped
 * at once; a running or finished one is dropped on the loop once its run returns, so the
 * thread never writes into freed memory. */
void workpool_cancel(struct workpool *p, struct work *w);

#endif
