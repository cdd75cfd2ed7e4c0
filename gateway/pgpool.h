/* pgpool — a small pool of non-blocking libpq connections driven by the gateway's libevent
 * loop. Queries wait in a bounded FIFO for a free connection; every connection prepares the
 * same statements when it connects; lost connections reconnect with growing backoff. No call
 * here ever blocks the loop. */
#ifndef FLOWSTATE_PGPOOL_H
#define FLOWSTATE_PGPOOL_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>

/* A statement prepared on every connection; queries name it by its index. */
struct pgpool_stmt {
    const char *name;
    const char *sql;
};

/* Called once per accepted query. res is its result (check PQresultStatus: it may be an
 * error such as a constraint violation), or NULL when the connection was lost or the
 * database is unreachable. The pool clears res after the callback returns. */
typedef void (*pgpool_cb)(PGresult *res, void *arg);

struct pgpool;

/* Starts size connections (they connect in the background). session_sql (may be NULL) runs
 * on each new connection before the statements are prepared. stmts must outlive the pool.
 * NULL on allocation failure. */
struct pgpool *pgpool_new(struct event_base *base, const char *conninfo, int size, int queue_max,
                          const char *session_sql, const struct pgpool_stmt *stmts, int nstmts);
/* Closes every connection. Queries still queued or running are dropped without callbacks:
 * call it only after the requests that made them have finished. Accepts NULL. */
void pgpool_free(struct pgpool *pool);

/* Queues statement stmt with nparams text parameters (NULL for SQL NULL); the values are
 * copied. Returns 0 when queued (cb will be called exactly once), or -1 when the database is
 * known to be down or the queue is full (cb is never called; answer 503). */
int pgpool_query(struct pgpool *pool, int stmt, int nparams, const char *const *values,
                 pgpool_cb cb, void *arg) __attribute__((warn_unused_result));

/* False once every connection has failed its last attempt (the database is unreachable);
 * true while connections are ready or still making their first attempt. */
bool pgpool_is_up(const struct pgpool *pool);
/* Queries queued or running. */
int pgpool_busy(const struct pgpool *pool);

#endif
