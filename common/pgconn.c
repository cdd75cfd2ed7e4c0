/* pgconn — one non-blocking libpq connection (see pgconn.h).
 *
 * DOWN -> CONNECTING -> SETUP -> IDLE <-> BUSY, and back to DOWN from anywhere when libpq
 * reports the connection broken, the set-up fails, or a deadline passes; DOWN schedules
 * the next attempt from the backoff. Every failure goes through conn_fail, which is where
 * failures are logged: a lost session always (warn), an outage once when it begins (warn)
 * and its end once (info), retries in between at debug, and a set-up that the server
 * refused every time (error: unlike an outage, it will not pass by waiting). */
#include "common/pgconn.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/log.h"

struct pgconn {
    char *name;
    char *setup_sql;
    char **keys, **values; /* NULL-terminated, ending with dbname = conninfo */
    long connect_timeout_ms, statement_timeout_ms;
    struct backoff backoff;
    pgconn_ready_cb on_ready;
    pgconn_result_cb on_result;
    pgconn_notify_cb on_notify;
    pgconn_down_cb on_down;
    void *arg;

    enum pgconn_state state;
    PGconn *pg;
    PostgresPollingStatusType polling; /* CONNECTING: what PQconnectPoll waits for */
    bool flushing;                     /* libpq holds unsent output: wait for writable */
    bool setup_refused; /* SETUP: the server answered a set-up statement with an error */
    bool outage;        /* the last attempt failed or the session was lost: not back yet */
    unsigned epoch;
    int64_t deadline; /* CONNECTING, SETUP, BUSY: give the connection up then; 0: none */
    int64_t retry_at; /* DOWN: the next attempt */
    PGresult *result; /* BUSY: the statement's first result */
    char error[512];  /* SETUP: why the server refused the set-up */
};

/* Copies a libpq message without its trailing newline. */
static void copy_error(char *buf, size_t len, const char *msg)
{
    snprintf(buf, len, "%s", msg && msg[0] ? msg : "unknown error");
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
}

static void conn_fail(struct pgconn *c, int64_t now, const char *why)
{
    enum pgconn_state was = c->state;
    bool refused = was == PGCONN_SETUP && c->setup_refused;
    char error[512], quoted[600];
    copy_error(error, sizeof(error), why); /* before PQfinish: why may be the connection's */
    if (c->result) {
        PQclear(c->result);
        c->result = NULL;
    }
    PQfinish(c->pg);
    c->pg = NULL;
    c->epoch++;
    c->flushing = false;
    c->state = PGCONN_DOWN;
    c->deadline = 0;
    long delay = backoff_next(&c->backoff);
    c->retry_at = now + delay;

    log_quote(error, quoted, sizeof(quoted));
    if (was == PGCONN_IDLE || was == PGCONN_BUSY)
        log_warn("msg=\"database connection lost\" conn=%s error=%s retry_ms=%ld", c->name, quoted,
                 delay);
    else if (refused)
        log_error("msg=\"database session set-up failed (are migrations applied?)\" conn=%s "
                  "error=%s retry_ms=%ld",
                  c->name, quoted, delay);
    else if (!c->outage)
        log_warn("msg=\"database unavailable; retrying\" conn=%s error=%s retry_ms=%ld", c->name,
                 quoted, delay);
    else
        log_debug("msg=\"database still unavailable\" conn=%s error=%s retry_ms=%ld", c->name,
                  quoted, delay);
    c->outage = true;

    if (was == PGCONN_BUSY && c->on_result)
        c->on_result(NULL, c->arg);
    if (c->on_down)
        c->on_down(was == PGCONN_IDLE || was == PGCONN_BUSY, c->arg);
}

static void session_ready(struct pgconn *c)
{
    c->state = PGCONN_IDLE;
    c->deadline = 0;
    backoff_reset(&c->backoff);
    if (c->outage)
        log_info("msg=\"database available again\" conn=%s", c->name);
    else
        log_debug("msg=\"database connected\" conn=%s", c->name);
    c->outage = false;
    if (c->on_ready)
        c->on_ready(c->arg);
}

static void flush(struct pgconn *c, int64_t now)
{
    int r = PQflush(c->pg);
    if (r < 0)
        conn_fail(c, now, PQerrorMessage(c->pg));
    else
        c->flushing = r > 0;
}

/* Hands every NOTIFY libpq has parsed to the owner. A callback may send a statement (and
 * so break the connection), hence the check of c->pg on each turn. */
static void drain_notifies(struct pgconn *c)
{
    PGnotify *n;
    while (c->pg && (n = PQnotifies(c->pg)) != NULL) {
        if (c->on_notify)
            c->on_notify(n->relname, n->extra ? n->extra : "", c->arg);
        PQfreemem(n);
    }
}

static void conn_start(struct pgconn *c, int64_t now)
{
    c->epoch++;
    c->pg = PQconnectStartParams((const char *const *)c->keys, (const char *const *)c->values, 1);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_fail(c, now, c->pg ? PQerrorMessage(c->pg) : "out of memory");
        return;
    }
    c->state = PGCONN_CONNECTING;
    c->polling = PGRES_POLLING_WRITING; /* as libpq says to begin */
    c->deadline = c->connect_timeout_ms ? now + c->connect_timeout_ms : 0;
}

static void connect_progress(struct pgconn *c, int64_t now)
{
    c->epoch++; /* libpq may move to another socket while it tries addresses */
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    if (st == PGRES_POLLING_FAILED) {
        conn_fail(c, now, PQerrorMessage(c->pg));
        return;
    }
    if (st != PGRES_POLLING_OK) {
        c->polling = st;
        return;
    }
    if (PQsetnonblocking(c->pg, 1) != 0) {
        conn_fail(c, now, PQerrorMessage(c->pg));
        return;
    }
    if (!c->setup_sql) {
        session_ready(c);
        return;
    }
    if (!PQsendQuery(c->pg, c->setup_sql)) {
        conn_fail(c, now, PQerrorMessage(c->pg));
        return;
    }
    c->state = PGCONN_SETUP;
    c->setup_refused = false;
    c->deadline = c->statement_timeout_ms ? now + c->statement_timeout_ms : 0;
    flush(c, now);
}

/* Every result of the command in flight is in. */
static void command_done(struct pgconn *c, int64_t now)
{
    if (c->state == PGCONN_SETUP) {
        if (c->setup_refused)
            conn_fail(c, now, c->error);
        else
            session_ready(c);
        return;
    }
    PGresult *res = c->result;
    c->result = NULL;
    c->deadline = 0;
    c->state = PGCONN_IDLE;
    /* A server shutting down answers with a FATAL error and closes the socket: drop the
     * connection before the owner sees the result, so that it cannot send on it. */
    if (PQstatus(c->pg) == CONNECTION_BAD)
        conn_fail(c, now, PQerrorMessage(c->pg));
    if (c->on_result)
        c->on_result(res, c->arg);
    else
        PQclear(res);
}

static void conn_read(struct pgconn *c, int64_t now)
{
    if (!PQconsumeInput(c->pg)) {
        conn_fail(c, now, PQerrorMessage(c->pg));
        return;
    }
    drain_notifies(c);
    if (c->state == PGCONN_IDLE) {
        /* Nothing was asked: drop anything unasked-for, and notice a closed connection. */
        PGresult *r;
        while (!PQisBusy(c->pg) && (r = PQgetResult(c->pg)) != NULL)
            PQclear(r);
        if (PQstatus(c->pg) == CONNECTION_BAD)
            conn_fail(c, now, PQerrorMessage(c->pg));
        return;
    }
    while (c->pg && (c->state == PGCONN_SETUP || c->state == PGCONN_BUSY) && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            command_done(c, now);
            /* libpq may have parsed NOTIFYs from data it already holds, which the socket
             * will not signal again. */
            drain_notifies(c);
            return;
        }
        ExecStatusType st = PQresultStatus(r);
        if (c->state == PGCONN_SETUP) {
            if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !c->setup_refused) {
                c->setup_refused = true;
                copy_error(c->error, sizeof(c->error), PQresultErrorMessage(r));
            }
            PQclear(r);
        } else if (!c->result) {
            c->result = r; /* the statement's one result; later ones are ignored */
        } else {
            PQclear(r);
        }
    }
}

void pgconn_step(struct pgconn *c, int ready, int64_t now)
{
    if (ready) {
        switch (c->state) {
        case PGCONN_CONNECTING: connect_progress(c, now); break;
        case PGCONN_SETUP:
        case PGCONN_BUSY:
            /* libpq: while output is pending, read what arrives too, then flush again. */
            if (c->flushing)
                flush(c, now);
            if (c->pg && (ready & PGCONN_READ))
                conn_read(c, now);
            break;
        case PGCONN_IDLE:
            if (ready & PGCONN_READ)
                conn_read(c, now);
            break;
        case PGCONN_DOWN: break;
        }
    }
    switch (c->state) {
    case PGCONN_CONNECTING:
    case PGCONN_SETUP:
    case PGCONN_BUSY:
        if (c->deadline && now >= c->deadline) {
            char why[96];
            snprintf(why, sizeof(why), "%s within %ld ms",
                     c->state == PGCONN_CONNECTING ? "not connected" : "no answer",
                     c->state == PGCONN_CONNECTING ? c->connect_timeout_ms
                                                   : c->statement_timeout_ms);
            conn_fail(c, now, why);
        }
        break;
    case PGCONN_DOWN:
        if (now >= c->retry_at)
            conn_start(c, now);
        break;
    case PGCONN_IDLE: break;
    }
}

int pgconn_send(struct pgconn *c, const char *name, const char *sql, int nparams,
                const char *const *values, int64_t now)
{
    if (c->state != PGCONN_IDLE)
        return -1;
    int ok = name ? PQsendQueryPrepared(c->pg, name, nparams, values, NULL, NULL, 0)
                  : PQsendQueryParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0);
    c->state = PGCONN_BUSY;
    c->deadline = c->statement_timeout_ms ? now + c->statement_timeout_ms : 0;
    if (!ok)
        conn_fail(c, now, PQerrorMessage(c->pg));
    else
        flush(c, now);
    return 0;
}

enum pgconn_state pgconn_state(const struct pgconn *c) { return c->state; }

int pgconn_fd(const struct pgconn *c) { return c->pg ? PQsocket(c->pg) : -1; }

int pgconn_wants(const struct pgconn *c)
{
    switch (c->state) {
    case PGCONN_CONNECTING: return c->polling == PGRES_POLLING_READING ? PGCONN_READ : PGCONN_WRITE;
    case PGCONN_SETUP:
    case PGCONN_BUSY: return PGCONN_READ | (c->flushing ? PGCONN_WRITE : 0);
    case PGCONN_IDLE: /* notifications, and a server closing the connection */ return PGCONN_READ;
    case PGCONN_DOWN: break;
    }
    return 0;
}

short pgconn_poll_events(const struct pgconn *c)
{
    int wants = pgconn_wants(c);
    return (short)((wants & PGCONN_READ ? POLLIN : 0) | (wants & PGCONN_WRITE ? POLLOUT : 0));
}

/* A hang-up or an error counts as readable: reading is how libpq learns what happened. */
int pgconn_poll_ready(short revents)
{
    return (revents & (POLLIN | POLLHUP | POLLERR) ? PGCONN_READ : 0) |
           (revents & POLLOUT ? PGCONN_WRITE : 0);
}

unsigned pgconn_epoch(const struct pgconn *c) { return c->epoch; }

int64_t pgconn_due(const struct pgconn *c)
{
    if (c->state == PGCONN_DOWN)
        return c->retry_at;
    return c->state == PGCONN_IDLE || c->deadline == 0 ? -1 : c->deadline;
}

bool pgconn_retryable(const PGresult *res)
{
    static const char *const classes[] = {"08", "40", "53", "57", "58"};
    const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!code || !code[0])
        return true;
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (strncmp(code, classes[i], 2) == 0)
            return true;
    return false;
}

/* Copies a NULL-terminated array and appends one more pair. */
static char **copy_list(const char *const *list, const char *last, size_t *count)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    char **out = calloc(n + 2, sizeof(char *));
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = strdup(list[i])))
            goto fail;
    if (!(out[n] = strdup(last)))
        goto fail;
    *count = n + 1;
    return out;
fail:
    for (size_t i = 0; i <= n; i++)
        free(out[i]);
    free(out);
    return NULL;
}

static void free_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

struct pgconn *pgconn_new(const struct pgconn_opts *o)
{
    struct pgconn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    size_t nk = 0, nv = 0;
    c->name = strdup(o->name ? o->name : "db");
    c->setup_sql = o->setup_sql ? strdup(o->setup_sql) : NULL;
    /* The conninfo goes last, as dbname with expand_dbname: libpq keeps the last value of a
     * repeated keyword, so whatever the URL sets wins over the owner's defaults. */
    c->keys = copy_list(o->keys, "dbname", &nk);
    c->values = copy_list(o->values, o->conninfo ? o->conninfo : "", &nv);
    if (!c->name || (o->setup_sql && !c->setup_sql) || !c->keys || !c->values || nk != nv) {
        pgconn_free(c);
        return NULL;
    }
    c->connect_timeout_ms = o->connect_timeout_ms;
    c->statement_timeout_ms = o->statement_timeout_ms;
    backoff_init(&c->backoff, o->backoff_min_ms, o->backoff_max_ms);
    c->on_ready = o->on_ready;
    c->on_result = o->on_result;
    c->on_notify = o->on_notify;
    c->on_down = o->on_down;
    c->arg = o->arg;
    c->state = PGCONN_DOWN;
    return c;
}

void pgconn_free(struct pgconn *c)
{
    if (!c)
        return;
    if (c->result)
        PQclear(c->result);
    PQfinish(c->pg);
    free_list(c->keys);
    free_list(c->values);
    free(c->setup_sql);
    free(c->name);
    free(c);
}
