/* release — crash release over one common/pgconn connection (see release.h).
 *
 * The connection is made at start-up and kept: pgconn reconnects with backoff whenever it
 * fails, and logs the outage once and its end once. Releases wait in a FIFO and go out one
 * at a time whenever the connection is IDLE; a release whose connection broke stays at the
 * head and goes out again on the next session. An SQL error that retrying may fix (pgconn_
 * retryable) is retried a second later; one that retrying cannot fix (say, the function is
 * missing) drops that one release with an error line: the gateway's sweeper still requeues
 * its jobs when their leases expire. */
#include "worker/pool/release.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pgconn.h"

/* libpq ignores connect_timeout under PQconnectPoll, so pgconn keeps its own clock. */
#define CONNECT_TIMEOUT_MS 3000
/* The server cancels a statement after 5 s (statement_timeout in the connection options);
 * this catches a server that stopped answering at all. */
#define QUERY_TIMEOUT_MS 10000
/* Reconnect delays grow up to a second: releases should not wait long for a database that
 * is back, and one connection attempt a second costs nothing. */
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 1000
/* After a retryable SQL error. */
#define RETRY_MS 1000
/* Beyond this many waiting releases new ones are left to the sweeper. */
#define QUEUE_MAX 10000

#define STMT_NAME "fs_release_worker"
#define STMT_SQL "SELECT fs_jobs_release_worker($1, $2)"

struct pending {
    struct pending *next;
    char *worker, *reason, *label;
    int attempts;
};

struct release {
    struct pgconn *db; /* NULL: DATABASE_URL is empty, releases are skipped */
    bool busy;         /* the head's release is in flight */
    int64_t now;       /* of the current release_step, for the callbacks */
    int64_t retry_ms;  /* the next release not before (after a retryable SQL error) */
    struct pending *head, *tail;
    size_t npending;
};

static void pending_free(struct pending *p)
{
    if (!p)
        return;
    free(p->worker);
    free(p->reason);
    free(p->label);
    free(p);
}

static void pending_pop(struct release *r)
{
    struct pending *p = r->head;
    r->head = p->next;
    if (!r->head)
        r->tail = NULL;
    r->npending--;
    pending_free(p);
}

/* The head's release finished: res is its result, or NULL when the connection broke
 * before it came (the release stays queued for the next session). */
static void release_done(PGresult *res, void *arg)
{
    struct release *r = arg;
    struct pending *p = r->head;
    r->busy = false;
    if (!res)
        return;
    char quoted[600];
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        int released = atoi(PQgetvalue(res, 0, 0));
        if (released > 0)
            log_info("msg=\"released jobs\" %s worker=%s count=%d", p->label, p->worker, released);
        else
            log_debug("msg=\"released jobs\" %s worker=%s count=0", p->label, p->worker);
        pending_pop(r);
        PQclear(res);
        return;
    }
    const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    char error[512];
    snprintf(error, sizeof(error), "%s", PQresultErrorMessage(res));
    error[strcspn(error, "\n")] = '\0';
    log_quote(error[0] ? error : "unexpected result", quoted, sizeof(quoted));
    if (pgconn_retryable(res)) {
        if (p->attempts == 1)
            log_warn("msg=\"crash release failed; retrying every second\" %s worker=%s "
                     "sqlstate=%s error=%s",
                     p->label, p->worker, sqlstate ? sqlstate : "", quoted);
        r->retry_ms = r->now + RETRY_MS;
    } else {
        log_error("msg=\"crash release failed; leaving the jobs to the sweeper\" %s worker=%s "
                  "sqlstate=%s error=%s",
                  p->label, p->worker, sqlstate ? sqlstate : "", quoted);
        pending_pop(r);
    }
    PQclear(res);
}

static void connected(void *arg)
{
    struct release *r = arg;
    r->retry_ms = 0;
    log_debug("msg=\"crash release: connected\" pending=%zu", r->npending);
}

struct release *release_new(const char *database_url)
{
    struct release *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (!database_url || !database_url[0]) {
        log_warn("msg=\"DATABASE_URL is empty: the jobs of dead workers are not released; the "
                 "gateway's sweeper requeues them when their leases expire\"");
        return r;
    }
    const char *keys[] = {
        "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
        "keepalives_count", "application_name", "options",         NULL};
    const char *values[] = {
        "3", "1", "30", "10", "3", "flowstate-pool", "-c statement_timeout=5000", NULL};
    struct pgconn_opts o = {
        .name = "crash-release",
        .conninfo = database_url,
        .keys = keys,
        .values = values,
        .setup_sql = "PREPARE " STMT_NAME " AS " STMT_SQL,
        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
        .statement_timeout_ms = QUERY_TIMEOUT_MS,
        .backoff_min_ms = RECONNECT_MIN_MS,
        .backoff_max_ms = RECONNECT_MAX_MS,
        .on_ready = connected,
        .on_result = release_done,
        .arg = r,
    };
    if (!(r->db = pgconn_new(&o))) {
        free(r);
        return NULL;
    }
    return r;
}

void release_free(struct release *r)
{
    if (!r)
        return;
    pgconn_free(r->db);
    while (r->head)
        pending_pop(r);
    free(r);
}

void release_submit(struct release *r, const char *worker, const char *reason, const char *label)
{
    if (!r->db)
        return;
    if (r->npending >= QUEUE_MAX) {
        log_warn("msg=\"crash release queue full; leaving the jobs to the sweeper\" %s worker=%s",
                 label, worker);
        return;
    }
    struct pending *p = calloc(1, sizeof(*p));
    if (p) {
        p->worker = strdup(worker);
        p->reason = strdup(reason);
        p->label = strdup(label);
    }
    if (!p || !p->worker || !p->reason || !p->label) {
        log_error("msg=\"out of memory; cannot queue a crash release\" %s worker=%s", label,
                  worker);
        pending_free(p);
        return;
    }
    if (r->tail)
        r->tail->next = p;
    else
        r->head = p;
    r->tail = p;
    r->npending++;
}

size_t release_pending(const struct release *r) { return r->npending; }

void release_poll_want(const struct release *r, int *fd, short *events)
{
    *fd = -1;
    *events = 0;
    if (!r->db)
        return;
    *events = pgconn_poll_events(r->db);
    *fd = *events ? pgconn_fd(r->db) : -1;
}

/* Whether the head's release can go out now or later on this connection. */
static bool can_send(const struct release *r)
{
    return r->npending && !r->busy && pgconn_state(r->db) == PGCONN_IDLE;
}

long release_timeout_ms(const struct release *r, int64_t now_ms)
{
    if (!r->db)
        return -1;
    int64_t due = pgconn_due(r->db);
    if (can_send(r) && (due < 0 || r->retry_ms < due))
        due = r->retry_ms;
    if (due < 0)
        return -1;
    return due > now_ms ? (long)(due - now_ms) : 0;
}

void release_step(struct release *r, short revents, int64_t now_ms)
{
    if (!r->db)
        return;
    r->now = now_ms;
    pgconn_step(r->db, pgconn_poll_ready(revents), now_ms);
    if (can_send(r) && now_ms >= r->retry_ms) {
        struct pending *p = r->head;
        const char *params[2] = {p->worker, p->reason};
        p->attempts++;
        r->busy = true;
        (void)pgconn_send(r->db, STMT_NAME, NULL, 2, params, now_ms); /* IDLE: cannot refuse */
    }
}
