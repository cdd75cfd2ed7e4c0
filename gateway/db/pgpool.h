/* pgpool — a small pool of non-blocking libpq connections driven by the gateway's libevent
 * loop. Queries wait in a bounded FIFO for a free connection; every connection prepares the
 * same statements when it connects; lost connections reconnect with growing backoff. No call
 * here ever blocks the loop. A pool can also hand its owner the NOTIFY messages its
 * connections receive and tell it each time a connection (re)connects, which is how the
 * gateway keeps one LISTEN connection (a pool of size 1; channels.h). Each connection is a
 * common/pgconn state machine; this file drives them with libevent and queues queries. */
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
 * database is unreachable. The pool clears res after the callback returns, unless the
 * callback calls pgpool_keep_result. */
typedef void (*pgpool_cb)(PGresult *res, void *arg);

/* A NOTIFY received on one of the pool's connections: channel and payload (never NULL;
 * valid only during the call). */
typedef void (*pgpool_notify_cb)(const char *channel, const char *payload, void *arg);
/* A connection finished its session set-up (first connect or reconnect). Anything sent
 * while it was down, NOTIFYs included, is lost: the owner re-reads what it cares about. */
typedef void (*pgpool_ready_cb)(void *arg);

struct pgpool;

struct pgpool_opts {
    const char *name;        /* labels the pool's log lines */
    int size;                /* connections */
    int queue_max;           /* queries waiting for a connection before new ones are refused */
    const char *session_sql; /* run on each new connection before the PREPAREs; may be NULL */
    const struct pgpool_stmt *stmts; /* prepared on each connection; must outlive the pool */
    int nstmts;
    /* The owner's hooks (each may be NULL) and their argument. */
    pgpool_notify_cb on_notify;
    pgpool_ready_cb on_ready;
    void *hook_arg;
};

/* Starts opts->size connections to conninfo (they connect in the background on base; a
 * lost one reconnects with growing backoff). opts is copied, not the statements. NULL on
 * allocation failure. */
struct pgpool *pgpool_new(struct event_base *base, const char *conninfo,
                          const struct pgpool_opts *opts);
/* Closes every connection. Queries still queued or running are dropped without callbacks:
 * call it only after the requests that made them have finished. Accepts NULL. */
void pgpool_free(struct pgpool *pool);

/* Queues statement stmt with nparams text parameters (NULL for SQL NULL); the values are
 * copied. Returns 0 when queued (cb will be called exactly once), or -1 when the database is
 * known to be down or the queue is full (cb is never called; answer 503). */
int pgpool_query(struct pgpool *pool, int stmt, int nparams, const char *const *values,
                 pgpool_cb cb, void *arg) __attribute__((warn_unused_result));

/* pgpool_query for a statement that is not prepared on the connections: sql is sent with
 * its parameters (PQsendQueryParams; one statement, copied). For statements that can only
 * be parsed on some servers (e.g. those naming an extension's types), so preparing them on
 * connect would fail there. */
int pgpool_query_sql(struct pgpool *pool, const char *sql, int nparams, const char *const *values,
                     pgpool_cb cb, void *arg) __attribute__((warn_unused_result));

/* Called inside a pgpool_cb with a result: the callback keeps res (and must PQclear it later,
 * on any thread: a PGresult does not refer to its connection) instead of the pool clearing it
 * when the callback returns. For results handed to a work thread (workpool.h) uncopied. */
void pgpool_keep_result(struct pgpool *pool);

/* False once every connection has failed its last attempt (the database is unreachable);
 * true while connections are ready or still making their first attempt. */
bool pgpool_is_up(const struct pgpool *pool);
/* Queries queued or running. */
int pgpool_busy(const struct pgpool *pool);

#endif
