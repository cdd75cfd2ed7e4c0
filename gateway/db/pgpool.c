/* pgpool — libpq as a state machine on the event loop (PQconnectPoll, PQconsumeInput,
 * PQisBusy, PQgetResult, PQflush), one query at a time per connection.
 *
 * A connection moves DOWN -> CONNECTING -> SETUP (session settings and PREPAREs in one
 * round trip) -> IDLE <-> BUSY, and back to DOWN whenever libpq reports it broken. While no
 * connection is ready and the last attempt failed, the pool is "down": new queries are
 * refused at once (the caller answers 503) instead of piling up behind a dead server.
 *
 * NOTIFY messages are drained after every read (and after each finished result, since
 * libpq may parse them from data it already holds, which the socket will not signal
 * again) and handed to the owner's hook, if any. */
#include "gateway/db/pgpool.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_SETUP, CONN_IDLE, CONN_BUSY };

struct query {
    struct query *next;
    int stmt;
    const char *sql; /* unprepared text (pgpool_query_sql), or NULL: statement stmt */
    int nparams;
    const char **values; /* points into the same allocation */
    pgpool_cb cb;
    void *arg;
};

struct conn {
    struct pgpool *pool;
    int index;
    enum conn_state state;
    PGconn *pg;
    struct event *read_ev;  /* persistent, once connected */
    struct event *write_ev; /* one-shot, armed while libpq has unsent data */
    struct event *connect_ev;
    struct event *retry_ev;
    int failures;
    bool setup_failed;
    struct query *query;
    PGresult *result;
};

struct pgpool {
    struct event_base *base;
    char *name;
    char *conninfo;
    char *setup_sql;
    const struct pgpool_stmt *stmts;
    int nstmts;
    int size;
    struct conn *conns;
    struct query *head, *tail;
    int queued, queue_max;
    int ready; /* connections IDLE or BUSY */
    int running;
    bool down;
    pgpool_notify_cb on_notify;
    pgpool_ready_cb on_ready;
    void *hook_arg;
};

static void conn_start(struct conn *c);
static void dispatch(struct pgpool *pool);

static void free_event(struct event **ev)
{
    if (*ev) {
        event_free(*ev);
        *ev = NULL;
    }
}

static void log_pg_error(const char *what, struct conn *c)
{
    char msg[512];
    log_warn("msg=\"%s\" pool=%s conn=%d error=%s", what, c->pool->name, c->index,
             log_quote(c->pg ? PQerrorMessage(c->pg) : "out of memory", msg, sizeof(msg)));
}

static void fail_queued(struct pgpool *pool)
{
    while (pool->head) {
        struct query *q = pool->head;
        pool->head = q->next;
        pool->queued--;
        q->cb(NULL, q->arg);
        free(q);
    }
    pool->tail = NULL;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    conn_start(arg);
}

/* Drops the connection, answers its running query with NULL, and schedules a reconnect. */
static void conn_reset(struct conn *c)
{
    struct pgpool *pool = c->pool;
    bool was_ready = c->state == CONN_IDLE || c->state == CONN_BUSY;
    free_event(&c->read_ev);
    free_event(&c->write_ev);
    free_event(&c->connect_ev);
    if (c->result) {
        PQclear(c->result);
        c->result = NULL;
    }
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->state = CONN_DOWN;
    if (was_ready)
        pool->ready--;

    long delay_ms = 100L << (c->failures < 6 ? c->failures : 6); /* 100 ms .. 6.4 s */
    if (delay_ms > 5000)
        delay_ms = 5000;
    delay_ms += random() % (delay_ms / 4 + 1);
    c->failures++;
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    evtimer_add(c->retry_ev, &tv);

    struct query *q = c->query;
    c->query = NULL;
    if (q) {
        pool->running--;
        q->cb(NULL, q->arg);
        free(q);
    }
    if (pool->ready == 0) {
        if (!pool->down)
            log_error("msg=\"database unreachable; answering 503 until it is back\" pool=%s",
                      pool->name);
        pool->down = true;
        fail_queued(pool);
    }
}

static void arm_write(struct conn *c);

static void conn_flush(struct conn *c)
{
    int r = PQflush(c->pg);
    if (r < 0) {
        log_pg_error("database connection lost", c);
        conn_reset(c);
    } else if (r > 0) {
        arm_write(c);
    }
}

static void write_cb(evutil_socket_t fd, short what, void *arg) { conn_flush(arg); }

static void arm_write(struct conn *c)
{
    if (!c->write_ev)
        c->write_ev = event_new(c->pool->base, PQsocket(c->pg), EV_WRITE, write_cb, c);
    if (c->write_ev)
        event_add(c->write_ev, NULL);
}

static void conn_ready(struct conn *c)
{
    struct pgpool *pool = c->pool;
    c->state = CONN_IDLE;
    c->failures = 0;
    pool->ready++;
    if (pool->down)
        log_info("msg=\"database reachable again\" pool=%s conn=%d", pool->name, c->index);
    pool->down = false;
    dispatch(pool);
    if (pool->on_ready)
        pool->on_ready(pool->hook_arg);
}

/* Hands every NOTIFY libpq has parsed to the owner (or just frees it). */
static void drain_notifies(struct conn *c)
{
    PGnotify *n;
    while (c->pg && (n = PQnotifies(c->pg)) != NULL) {
        if (c->pool->on_notify)
            c->pool->on_notify(n->relname, n->extra ? n->extra : "", c->pool->hook_arg);
        PQfreemem(n);
    }
}

/* A query finished on c: hand the result over and reuse the connection. */
static void conn_finish_query(struct conn *c)
{
    struct pgpool *pool = c->pool;
    struct query *q = c->query;
    PGresult *res = c->result;
    c->query = NULL;
    c->result = NULL;
    c->state = CONN_IDLE;
    pool->running--;
    q->cb(res, q->arg);
    PQclear(res);
    free(q);
    /* A server shutting down answers with a FATAL error and closes the socket. */
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        log_pg_error("database connection lost", c);
        conn_reset(c);
        return;
    }
    dispatch(pool);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (!PQconsumeInput(c->pg)) {
        log_pg_error("database connection lost", c);
        conn_reset(c);
        return;
    }
    drain_notifies(c);
    if (c->state == CONN_IDLE) {
        if (PQstatus(c->pg) == CONNECTION_BAD) {
            log_pg_error("database connection lost", c);
            conn_reset(c);
        }
        return;
    }
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (c->state == CONN_SETUP) {
                if (c->setup_failed) {
                    conn_reset(c);
                    return;
                }
                conn_ready(c);
            } else {
                conn_finish_query(c);
            }
            drain_notifies(c); /* c->pg is NULL if the connection was lost meanwhile */
            return;
        }
        ExecStatusType st = PQresultStatus(r);
        if (c->state == CONN_SETUP) {
            if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                char msg[512];
                log_error("msg=\"preparing statements failed (are migrations applied?)\" error=%s",
                          log_quote(PQresultErrorMessage(r), msg, sizeof(msg)));
                c->setup_failed = true;
            }
            PQclear(r);
        } else if (!c->result) {
            c->result = r; /* the statement's one result; later ones are ignored */
        } else {
            PQclear(r);
        }
    }
}

static void conn_setup(struct conn *c)
{
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQsendQuery(c->pg, c->pool->setup_sql)) {
        log_pg_error("database session setup failed", c);
        conn_reset(c);
        return;
    }
    c->state = CONN_SETUP;
    c->setup_failed = false;
    c->read_ev = event_new(c->pool->base, PQsocket(c->pg), EV_READ | EV_PERSIST, read_cb, c);
    if (!c->read_ev || event_add(c->read_ev, NULL) < 0) {
        conn_reset(c);
        return;
    }
    conn_flush(c);
}

static void connect_poll(struct conn *c);

static void connect_cb(evutil_socket_t fd, short what, void *arg) { connect_poll(arg); }

static void connect_poll(struct conn *c)
{
    free_event(&c->connect_ev);
    short what;
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_OK:
        conn_setup(c);
        return;
    case PGRES_POLLING_READING:
        what = EV_READ;
        break;
    case PGRES_POLLING_WRITING:
        what = EV_WRITE;
        break;
    default:
        log_pg_error("database connect failed", c);
        conn_reset(c);
        return;
    }
    /* libpq may switch sockets while it tries addresses, so watch the current one. */
    c->connect_ev = event_new(c->pool->base, PQsocket(c->pg), what, connect_cb, c);
    if (!c->connect_ev || event_add(c->connect_ev, NULL) < 0)
        conn_reset(c);
}

static void conn_start(struct conn *c)
{
    c->pg = PQconnectStart(c->pool->conninfo);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        log_pg_error("database connect failed", c);
        conn_reset(c);
        return;
    }
    c->state = CONN_CONNECTING;
    connect_poll(c);
}

static void conn_send(struct conn *c, struct query *q)
{
    struct pgpool *pool = c->pool;
    c->state = CONN_BUSY;
    c->query = q;
    pool->running++;
    if (!(q->sql ? PQsendQueryParams(c->pg, q->sql, q->nparams, NULL, q->values, NULL, NULL, 0)
                 : PQsendQueryPrepared(c->pg, pool->stmts[q->stmt].name, q->nparams, q->values,
                                       NULL, NULL, 0))) {
        log_pg_error("sending a query failed", c);
        conn_reset(c);
        return;
    }
    conn_flush(c);
}

static void dispatch(struct pgpool *pool)
{
    for (int i = 0; i < pool->size && pool->head; i++) {
        struct conn *c = &pool->conns[i];
        if (c->state != CONN_IDLE)
            continue;
        struct query *q = pool->head;
        pool->head = q->next;
        if (!pool->head)
            pool->tail = NULL;
        pool->queued--;
        conn_send(c, q);
    }
}

/* Queues statement stmt, or the unprepared text sql when it is not NULL (copied with the
 * values into one allocation). */
static int enqueue(struct pgpool *pool, int stmt, const char *sql, int nparams,
                   const char *const *values, pgpool_cb cb, void *arg)
{
    if (pool->down || pool->queued >= pool->queue_max)
        return -1;
    size_t size = sizeof(struct query) + (size_t)nparams * sizeof(char *) + (sql ? strlen(sql) + 1 : 0);
    for (int i = 0; i < nparams; i++)
        if (values[i])
            size += strlen(values[i]) + 1;
    struct query *q = malloc(size);
    if (!q)
        return -1;
    q->next = NULL;
    q->stmt = stmt;
    q->nparams = nparams;
    q->values = (const char **)(q + 1);
    q->cb = cb;
    q->arg = arg;
    char *p = (char *)(q->values + nparams);
    for (int i = 0; i < nparams; i++) {
        if (!values[i]) {
            q->values[i] = NULL;
            continue;
        }
        size_t len = strlen(values[i]) + 1;
        memcpy(p, values[i], len);
        q->values[i] = p;
        p += len;
    }
    q->sql = NULL;
    if (sql) {
        memcpy(p, sql, strlen(sql) + 1);
        q->sql = p;
    }
    if (pool->tail)
        pool->tail->next = q;
    else
        pool->head = q;
    pool->tail = q;
    pool->queued++;
    dispatch(pool);
    return 0;
}

int pgpool_query(struct pgpool *pool, int stmt, int nparams, const char *const *values,
                 pgpool_cb cb, void *arg)
{
    return enqueue(pool, stmt, NULL, nparams, values, cb, arg);
}

int pgpool_query_sql(struct pgpool *pool, const char *sql, int nparams, const char *const *values,
                     pgpool_cb cb, void *arg)
{
    return enqueue(pool, 0, sql, nparams, values, cb, arg);
}

bool pgpool_is_up(const struct pgpool *pool) { return !pool->down; }

int pgpool_busy(const struct pgpool *pool) { return pool->queued + pool->running; }

static char *build_setup_sql(const char *session_sql, const struct pgpool_stmt *stmts, int n)
{
    size_t size = (session_sql ? strlen(session_sql) : 0) + 2;
    for (int i = 0; i < n; i++)
        size += strlen(stmts[i].name) + strlen(stmts[i].sql) + 32;
    char *sql = malloc(size);
    if (!sql)
        return NULL;
    size_t o = (size_t)snprintf(sql, size, "%s;", session_sql ? session_sql : "");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(sql + o, size - o, "PREPARE %s AS %s;\n", stmts[i].name, stmts[i].sql);
    return sql;
}

struct pgpool *pgpool_new(struct event_base *base, const char *name, const char *conninfo,
                          int size, int queue_max, const char *session_sql,
                          const struct pgpool_stmt *stmts, int nstmts)
{
    struct pgpool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->base = base;
    pool->name = strdup(name);
    pool->stmts = stmts;
    pool->nstmts = nstmts;
    pool->size = size;
    pool->queue_max = queue_max;
    pool->conninfo = strdup(conninfo);
    pool->setup_sql = build_setup_sql(session_sql, stmts, nstmts);
    pool->conns = calloc((size_t)size, sizeof(struct conn));
    if (!pool->name || !pool->conninfo || !pool->setup_sql || !pool->conns)
        goto fail;
    for (int i = 0; i < size; i++) {
        struct conn *c = &pool->conns[i];
        c->pool = pool;
        c->index = i;
        c->retry_ev = evtimer_new(base, retry_cb, c);
        if (!c->retry_ev)
            goto fail;
    }
    for (int i = 0; i < size; i++)
        conn_start(&pool->conns[i]);
    return pool;

fail:
    pgpool_free(pool);
    return NULL;
}

void pgpool_free(struct pgpool *pool)
{
    if (!pool)
        return;
    for (int i = 0; pool->conns && i < pool->size; i++) {
        struct conn *c = &pool->conns[i];
        free_event(&c->read_ev);
        free_event(&c->write_ev);
        free_event(&c->connect_ev);
        free_event(&c->retry_ev);
        if (c->result)
            PQclear(c->result);
        if (c->pg)
            PQfinish(c->pg);
        free(c->query);
    }
    while (pool->head) {
        struct query *q = pool->head;
        pool->head = q->next;
        free(q);
    }
    free(pool->conns);
    free(pool->setup_sql);
    free(pool->conninfo);
    free(pool->name);
    free(pool);
}

void pgpool_set_hooks(struct pgpool *pool, pgpool_notify_cb on_notify, pgpool_ready_cb on_ready,
                      void *arg)
{
    pool->on_notify = on_notify;
    pool->on_ready = on_ready;
    pool->hook_arg = arg;
}
