/* pgconn — one non-blocking libpq connection as a state machine that any event loop can
 * drive: the gateway's pools drive it with libevent, the worker's claimer and the pool's
 * crash release with poll(). It connects (PQconnectStartParams, PQconnectPoll), sets the
 * session up (one simple-query string of the owner's SETs, PREPAREs and LISTENs), sends one
 * statement at a time, gives each connect, set-up and statement a deadline, hands NOTIFY
 * messages to the owner, and reconnects after any failure with delays from common/backoff
 * (growing with jitter, reset once a session is set up). Connection errors are classified
 * and logged here, once, the same way for every owner.
 *
 * The driver's side: watch pgconn_fd() for pgconn_wants(), call pgconn_step() when it is
 * ready or when pgconn_due() comes, and watch again (fd and wants may change after
 * any call; so may the socket behind an unchanged fd number, which pgconn_epoch() tells).
 * Every time is a monotonic millisecond count the driver passes in, so nothing here reads a
 * clock and a test can step time as it likes. No call blocks. */
#ifndef FLOWSTATE_PGCONN_H
#define FLOWSTATE_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

enum pgconn_state {
    PGCONN_DOWN,       /* no connection; the next attempt comes at pgconn_due() */
    PGCONN_CONNECTING, /* PQconnectPoll in progress */
    PGCONN_SETUP,      /* the set-up string was sent; waiting for its results */
    PGCONN_IDLE,       /* ready for pgconn_send */
    PGCONN_BUSY,       /* one statement in flight */
};

/* Readiness bits, both what pgconn_wants() asks for and what pgconn_step() is told. */
#define PGCONN_READ 1  /* readable, or hung up, or in error */
#define PGCONN_WRITE 2 /* writable */

/* The session is set up (first connect or reconnect). What was sent before is gone,
 * LISTENs and NOTIFYs included: the owner re-reads whatever it cares about. */
typedef void (*pgconn_ready_cb)(void *arg);
/* The statement's result (its first one; check PQresultStatus, it may be an SQL error), or
 * NULL when the connection broke or the deadline passed before it came. The callback owns
 * res (PQclear it). */
typedef void (*pgconn_result_cb)(PGresult *res, void *arg);
/* A NOTIFY (payload never NULL; both valid only during the call). */
typedef void (*pgconn_notify_cb)(const char *channel, const char *payload, void *arg);
/* The connection failed: was_ready when a session had been set up (it was lost), false when
 * an attempt failed. A reconnect is already scheduled. */
typedef void (*pgconn_down_cb)(bool was_ready, void *arg);

struct pgconn_opts {
    const char *name;     /* labels the log lines (conn=…) */
    const char *conninfo; /* a URL or key=value string; its settings win over keys/values */
    /* Default connection keywords and values (NULL-terminated; both may be NULL). */
    const char *const *keys, *const *values;
    const char *setup_sql;               /* run on each new session; may hold several statements */
    long connect_timeout_ms;             /* 0: none (libpq ignores connect_timeout when polled) */
    long statement_timeout_ms;           /* set-up and each statement; 0: none */
    long backoff_min_ms, backoff_max_ms; /* delays before reconnecting */
    pgconn_ready_cb on_ready;            /* each may be NULL */
    pgconn_result_cb on_result;
    pgconn_notify_cb on_notify;
    pgconn_down_cb on_down;
    void *arg;
};

struct pgconn;

/* Copies what opts points to. Does not connect: the first pgconn_step does. NULL on
 * allocation failure. */
struct pgconn *pgconn_new(const struct pgconn_opts *opts);
/* Closes the connection without calling back (a statement in flight is dropped). Accepts
 * NULL. Never call it from one of the connection's own callbacks. */
void pgconn_free(struct pgconn *c);

enum pgconn_state pgconn_state(const struct pgconn *c);
/* The socket to watch, or -1 (DOWN). */
int pgconn_fd(const struct pgconn *c);
/* PGCONN_READ and/or PGCONN_WRITE, or 0 when nothing is to be watched. */
int pgconn_wants(const struct pgconn *c);
/* For a poll() driver: pgconn_wants() as poll events, and poll's revents as readiness. */
short pgconn_poll_events(const struct pgconn *c);
int pgconn_poll_ready(short revents);
/* Changes whenever the socket may have been replaced, even under the same fd number, so a
 * driver that registers the fd (epoll) registers it again. */
unsigned pgconn_epoch(const struct pgconn *c);
/* The time (as the driver's clock, in ms) at which pgconn_step has timed work: a reconnect
 * or a deadline; -1 for none. */
int64_t pgconn_due(const struct pgconn *c);

/* Does what is due: I/O when ready (PGCONN_READ/WRITE bits; 0 when only time passed), then
 * a deadline that passed (the connection is dropped) or a reconnect that is due. Callbacks
 * run from here. */
void pgconn_step(struct pgconn *c, int ready, int64_t now_ms);

/* Sends one statement: the prepared statement name when not NULL, else sql with its
 * parameters (text, NULL for SQL NULL; not kept after the call). Returns -1 when the
 * connection is not IDLE (nothing is sent, no callback). Otherwise 0, and on_result is
 * called exactly once, maybe before this returns (when the connection broke at once). */
int pgconn_send(struct pgconn *c, const char *name, const char *sql, int nparams,
                const char *const *values, int64_t now_ms);

/* Whether a failed statement may work if tried again: no SQLSTATE (libpq's own error: the
 * connection), or a class that names connection trouble (08), a rolled-back transaction
 * (40), a server short of resources (53), an operator's intervention (57) or a system
 * error (58). Not bad SQL or a missing function. */
bool pgconn_retryable(const PGresult *res);

#endif
