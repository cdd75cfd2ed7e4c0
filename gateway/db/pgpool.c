/* pgpool — a queue of queries in front of common/pgconn connections, driven by libevent.
 *
 * Each connection is a pgconn (connect, set-up, one statement at a time, reconnect with
 * backoff); this file watches its socket and timer on the event loop and hands it queued
 * queries whenever it is IDLE. While no connection is ready and the last attempt failed,
 * the pool is "down": new queries are refused at once (the caller answers 503) and queued
 * ones fail, instead of piling up behind a dead server. */
#include "gateway/db/pgpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/pgconn.h"

/* Reconnect delays: the first retry is quick (a restarted server is often back at once),
 * later ones back off so a long outage costs little. */
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000

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
    struct pgconn *db;
    struct event *io_ev; /* persistent, on the socket, for what the pgconn wants */
    struct event *timer; /* the pgconn's next reconnect or deadline */
    int ev_fd;           /* what io_ev watches now (-1, 0: nothing) */
    short ev_what;
    unsigned ev_epoch;
    bool ready; /* counted in pool->ready */
    struct query *query;
};

struct pgpool {
    struct event_base *base;
    char *name;
    const struct pgpool_stmt *stmts;
    int size;
    struct conn *conns;
    struct query *head, *tail;
    int queued, queue_max;
    int ready; /* connections with a session set up */
    int running;
    bool down;
    bool kept; /* the callback running took its result (pgpool_keep_result) */
    pgpool_notify_cb on_notify;
    pgpool_ready_cb on_ready;
    void *hook_arg;
};

static int64_t now_ms(void) { return (int64_t)(clock_now() * 1e3); }

static void dispatch(struct pgpool *pool);
static void io_cb(evutil_socket_t fd, short what, void *arg);

/* Points the socket event and the timer at what the pgconn wants now. The socket event is
 * registered again whenever the socket may have changed, even under the same fd number:
 * epoll forgets a closed socket, and the event base would not know. */
static void rearm(struct conn *c)
{
    int fd = pgconn_fd(c->db), wants = pgconn_wants(c->db);
    short what =
        (short)((wants & PGCONN_READ ? EV_READ : 0) | (wants & PGCONN_WRITE ? EV_WRITE : 0));
    unsigned epoch = pgconn_epoch(c->db);
    if (fd != c->ev_fd || what != c->ev_what || epoch != c->ev_epoch) {
        if (c->ev_what)
            event_del(c->io_ev);
        c->ev_fd = fd;
        c->ev_what = what;
        c->ev_epoch = epoch;
        if (fd >= 0 && what &&
            (event_assign(c->io_ev, c->pool->base, fd, what | EV_PERSIST, io_cb, c) < 0 ||
             event_add(c->io_ev, NULL) < 0)) {
            log_error("msg=\"cannot watch a database connection\" pool=%s", c->pool->name);
            c->ev_what = 0;
        }
    }
    int64_t due = pgconn_due(c->db);
    if (due < 0) {
        if (evtimer_pending(c->timer, NULL))
            evtimer_del(c->timer);
        return;
    }
    int64_t ms = due - now_ms();
    if (ms < 0)
        ms = 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    pgconn_step(c->db, (what & EV_READ ? PGCONN_READ : 0) | (what & EV_WRITE ? PGCONN_WRITE : 0),
                now_ms());
    rearm(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    pgconn_step(c->db, 0, now_ms());
    rearm(c);
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

/* pgconn's hooks: a session is set up, a statement finished, a NOTIFY came, the
 * connection failed. */
static void conn_ready(void *arg)
{
    struct conn *c = arg;
    struct pgpool *pool = c->pool;
    c->ready = true;
    pool->ready++;
    if (pool->down)
        log_info("msg=\"database reachable again\" pool=%s", pool->name);
    pool->down = false;
    dispatch(pool);
    if (pool->on_ready)
        pool->on_ready(pool->hook_arg);
}

static void conn_result(PGresult *res, void *arg)
{
    struct conn *c = arg;
    struct pgpool *pool = c->pool;
    struct query *q = c->query;
    c->query = NULL;
    pool->running--;
    bool outer = pool->kept;
    pool->kept = false;
    q->cb(res, q->arg);
    if (!pool->kept)
        PQclear(res);
    pool->kept = outer;
    free(q);
    dispatch(pool);
}

static void conn_notify(const char *channel, const char *payload, void *arg)
{
    struct pgpool *pool = ((struct conn *)arg)->pool;
    if (pool->on_notify)
        pool->on_notify(channel, payload, pool->hook_arg);
}

static void conn_down(bool was_ready, void *arg)
{
    struct conn *c = arg;
    struct pgpool *pool = c->pool;
    if (c->ready) {
        c->ready = false;
        pool->ready--;
    }
    if (pool->ready == 0) {
        if (!pool->down)
            log_error("msg=\"database unreachable; answering 503 until it is back\" pool=%s",
                      pool->name);
        pool->down = true;
        fail_queued(pool);
    }
}

static void dispatch(struct pgpool *pool)
{
    for (int i = 0; i < pool->size && pool->head; i++) {
        struct conn *c = &pool->conns[i];
        if (pgconn_state(c->db) != PGCONN_IDLE)
            continue;
        struct query *q = pool->head;
        pool->head = q->next;
        if (!pool->head)
            pool->tail = NULL;
        pool->queued--;
        c->query = q;
        pool->running++;
        /* Calls conn_result at once if the connection broke (that frees q). */
        (void)pgconn_send(c->db, q->sql ? NULL : pool->stmts[q->stmt].name, q->sql, q->nparams,
                          q->values, now_ms());
        rearm(c);
    }
}

/* Queues statement stmt, or the unprepared text sql when it is not NULL (copied with the
 * values into one allocation). */
static int enqueue(struct pgpool *pool, int stmt, const char *sql, int nparams,
                   const char *const *values, pgpool_cb cb, void *arg)
{
    if (pool->down || pool->queued >= pool->queue_max)
        return -1;
    size_t size =
        sizeof(struct query) + (size_t)nparams * sizeof(char *) + (sql ? strlen(sql) + 1 : 0);
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

/* The session settings and every PREPARE as one string: one round trip per new session. */
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
        o +=
            (size_t)snprintf(sql + o, size - o, "PREPARE %s AS %s;\n", stmts[i].name, stmts[i].sql);
    return sql;
}

struct pgpool *pgpool_new(struct event_base *base, const char *conninfo,
                          const struct pgpool_opts *opts)
{
    struct pgpool *pool = calloc(1, sizeof(*pool));
    char *setup_sql = NULL;
    if (!pool)
        return NULL;
    pool->base = base;
    pool->name = strdup(opts->name ? opts->name : "db");
    pool->stmts = opts->stmts;
    pool->size = opts->size;
    pool->queue_max = opts->queue_max;
    pool->on_notify = opts->on_notify;
    pool->on_ready = opts->on_ready;
    pool->hook_arg = opts->hook_arg;
    setup_sql = build_setup_sql(opts->session_sql, opts->stmts, opts->nstmts);
    pool->conns = calloc((size_t)opts->size, sizeof(struct conn));
    if (!pool->name || !setup_sql || !pool->conns)
        goto fail;
    for (int i = 0; i < pool->size; i++) {
        struct conn *c = &pool->conns[i];
        char label[96];
        snprintf(label, sizeof(label), "%s/%d", pool->name, i);
        struct pgconn_opts o = {
            .name = label,
            .conninfo = conninfo,
            .setup_sql = setup_sql,
            .backoff_min_ms = RECONNECT_MIN_MS,
            .backoff_max_ms = RECONNECT_MAX_MS,
            .on_ready = conn_ready,
            .on_result = conn_result,
            .on_notify = conn_notify,
            .on_down = conn_down,
            .arg = c,
        };
        c->pool = pool;
        c->ev_fd = -1;
        c->db = pgconn_new(&o);
        c->io_ev = event_new(base, -1, 0, io_cb, c);
        c->timer = evtimer_new(base, timer_cb, c);
        if (!c->db || !c->io_ev || !c->timer)
            goto fail;
    }
    free(setup_sql);
    /* The first attempts start here; none can finish before the loop runs again. */
    for (int i = 0; i < pool->size; i++) {
        pgconn_step(pool->conns[i].db, 0, now_ms());
        rearm(&pool->conns[i]);
    }
    return pool;

fail:
    free(setup_sql);
    pgpool_free(pool);
    return NULL;
}

void pgpool_free(struct pgpool *pool)
{
    if (!pool)
        return;
    for (int i = 0; pool->conns && i < pool->size; i++) {
        struct conn *c = &pool->conns[i];
        if (c->io_ev)
            event_free(c->io_ev); /* before the socket closes */
        if (c->timer)
            event_free(c->timer);
        pgconn_free(c->db);
        free(c->query);
    }
    while (pool->head) {
        struct query *q = pool->head;
        pool->head = q->next;
        free(q);
    }
    free(pool->conns);
    free(pool->name);
    free(pool);
}

void pgpool_keep_result(struct pgpool *pool) { pool->kept = true; }
