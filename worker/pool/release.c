/* release — crash release over one non-blocking libpq connection (see release.h).
 *
 * States: DOWN (no connection; connect when something waits, or once at start-up) →
 * CONNECTING (PQconnectPoll) → PREPARING (the statement) → IDLE ⇄ BUSY (one release in
 * flight). Any failure closes the connection and goes back to DOWN with the queue intact;
 * the next attempt comes a second later. An SQL error that retrying cannot fix (say, the
 * function is missing) drops that one release with an error line: the gateway's sweeper
 * still requeues its jobs when their leases expire. */
#include "worker/pool/release.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* libpq ignores connect_timeout under PQconnectPoll, so the pool keeps its own clock. */
#define CONNECT_TIMEOUT_MS 3000
/* The server cancels a statement after 5 s (statement_timeout in the connection options);
 * this catches a server that stopped answering at all. */
#define QUERY_TIMEOUT_MS 10000
#define RETRY_MS 1000
/* Beyond this many waiting releases new ones are left to the sweeper. */
#define QUEUE_MAX 10000

#define STMT_NAME "fs_release_worker"
#define STMT_SQL "SELECT fs_jobs_release_worker($1, $2)"

enum release_state { R_DISABLED, R_DOWN, R_CONNECTING, R_PREPARING, R_IDLE, R_BUSY };

struct pending {
    struct pending *next;
    char *worker, *reason, *label;
    int attempts;
};

struct release {
    char *url;
    enum release_state state;
    PGconn *conn;
    PostgresPollingStatusType connect_wants; /* CONNECTING: read or write */
    bool flushing;       /* output still buffered in libpq: poll for POLLOUT */
    int64_t deadline_ms; /* CONNECTING, PREPARING, BUSY: give the connection up then */
    int64_t retry_ms;    /* DOWN, IDLE: next attempt not before */
    bool tried;          /* a connection was attempted at least once */
    bool outage;         /* the database failed us and has not come back yet (logged once) */
    char error[512];     /* the command in flight failed: why (empty when it did not) */
    char sqlstate[6];
    int released;        /* BUSY: the count the release returned */
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

/* Copies a libpq message without its trailing newline. */
static void set_error(struct release *r, const char *msg)
{
    snprintf(r->error, sizeof(r->error), "%s", msg && msg[0] ? msg : "unknown error");
    size_t n = strlen(r->error);
    while (n && (r->error[n - 1] == '\n' || r->error[n - 1] == ' '))
        r->error[--n] = '\0';
}

/* Drops the connection; the queue stays and the next attempt comes RETRY_MS later. */
static void conn_fail(struct release *r, int64_t now, const char *why)
{
    char quoted[600];
    if (why != r->error)
        set_error(r, why); /* before PQfinish: why may be the connection's own message */
    PQfinish(r->conn);
    r->conn = NULL;
    r->state = R_DOWN;
    r->flushing = false;
    r->retry_ms = now + RETRY_MS;
    if (!r->outage) {
        r->outage = true;
        log_warn("msg=\"crash release: database unavailable; releases wait and are retried "
                 "every second\" pending=%zu error=%s",
                 r->npending, log_quote(r->error, quoted, sizeof(quoted)));
    } else {
        log_debug("msg=\"crash release: still no database\" pending=%zu error=%s", r->npending,
                  log_quote(r->error, quoted, sizeof(quoted)));
    }
}

struct release *release_new(const char *database_url)
{
    struct release *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->url = strdup(database_url ? database_url : "");
    if (!r->url) {
        free(r);
        return NULL;
    }
    r->state = R_DOWN;
    if (!r->url[0]) {
        r->state = R_DISABLED;
        log_warn("msg=\"DATABASE_URL is empty: the jobs of dead workers are not released; the "
                 "gateway's sweeper requeues them when their leases expire\"");
    }
    return r;
}

void release_free(struct release *r)
{
    if (!r)
        return;
    PQfinish(r->conn);
    while (r->head)
        pending_pop(r);
    free(r->url);
    free(r);
}

void release_submit(struct release *r, const char *worker, const char *reason, const char *label)
{
    if (r->state == R_DISABLED)
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

static void flush_output(struct release *r, int64_t now)
{
    int rc = PQflush(r->conn);
    if (rc < 0)
        conn_fail(r, now, PQerrorMessage(r->conn));
    else
        r->flushing = rc == 1;
}

static void start_connect(struct release *r, int64_t now)
{
    /* The URL comes last so whatever it sets wins over these defaults (libpq keeps the
     * last value of a repeated keyword; expand_dbname unpacks the URL in place). */
    const char *keys[] = {"connect_timeout",  "keepalives",       "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "application_name",
                          "options",          "dbname",           NULL};
    const char *values[] = {"3", "1", "30", "10", "3", "flowstate-pool",
                            "-c statement_timeout=5000", r->url, NULL};
    r->tried = true;
    r->conn = PQconnectStartParams(keys, values, 1);
    if (!r->conn) {
        conn_fail(r, now, "out of memory");
        return;
    }
    if (PQstatus(r->conn) == CONNECTION_BAD) {
        conn_fail(r, now, PQerrorMessage(r->conn));
        return;
    }
    r->state = R_CONNECTING;
    r->connect_wants = PGRES_POLLING_WRITING;
    r->deadline_ms = now + CONNECT_TIMEOUT_MS;
}

static void connect_progress(struct release *r, int64_t now)
{
    PostgresPollingStatusType st = PQconnectPoll(r->conn);
    if (st == PGRES_POLLING_FAILED) {
        conn_fail(r, now, PQerrorMessage(r->conn));
        return;
    }
    if (st != PGRES_POLLING_OK) {
        r->connect_wants = st;
        return;
    }
    if (PQsetnonblocking(r->conn, 1) < 0 ||
        !PQsendPrepare(r->conn, STMT_NAME, STMT_SQL, 2, NULL)) {
        conn_fail(r, now, PQerrorMessage(r->conn));
        return;
    }
    r->state = R_PREPARING;
    r->error[0] = '\0';
    r->deadline_ms = now + QUERY_TIMEOUT_MS;
    flush_output(r, now);
}

static void send_next(struct release *r, int64_t now)
{
    struct pending *p = r->head;
    const char *params[2] = {p->worker, p->reason};
    p->attempts++;
    if (!PQsendQueryPrepared(r->conn, STMT_NAME, 2, params, NULL, NULL, 0)) {
        conn_fail(r, now, PQerrorMessage(r->conn));
        return;
    }
    r->state = R_BUSY;
    r->error[0] = '\0';
    r->sqlstate[0] = '\0';
    r->released = 0;
    r->deadline_ms = now + QUERY_TIMEOUT_MS;
    flush_output(r, now);
}

static void take_result(struct release *r, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    bool ok = r->state == R_PREPARING ? st == PGRES_COMMAND_OK
                                      : st == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (ok) {
        if (r->state == R_BUSY)
            r->released = atoi(PQgetvalue(res, 0, 0));
        return;
    }
    if (!r->error[0]) {
        set_error(r, PQresultErrorMessage(res));
        const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", code ? code : "");
    }
}

/* Whether a failed release may work next time: connection trouble, a cancelled or
 * conflicting statement, a server short of resources. Not: bad SQL, a missing function. */
static bool retryable(const char *sqlstate)
{
    static const char *const classes[] = {"08", "40", "53", "57", "58"};
    if (!sqlstate[0])
        return true; /* libpq's own error: the connection */
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (!strncmp(sqlstate, classes[i], 2))
            return true;
    return false;
}

static void release_done(struct release *r, int64_t now)
{
    struct pending *p = r->head;
    char quoted[600];
    r->state = R_IDLE;
    if (!r->error[0]) {
        if (r->released > 0)
            log_info("msg=\"released jobs\" %s worker=%s count=%d", p->label, p->worker,
                     r->released);
        else
            log_debug("msg=\"released jobs\" %s worker=%s count=0", p->label, p->worker);
        pending_pop(r);
        return;
    }
    if (PQstatus(r->conn) == CONNECTION_BAD) {
        conn_fail(r, now, r->error);
        return;
    }
    log_quote(r->error, quoted, sizeof(quoted));
    if (retryable(r->sqlstate)) {
        if (p->attempts == 1)
            log_warn("msg=\"crash release failed; retrying every second\" %s worker=%s "
                     "sqlstate=%s error=%s",
                     p->label, p->worker, r->sqlstate, quoted);
        r->retry_ms = now + RETRY_MS;
        return;
    }
    log_error("msg=\"crash release failed; leaving the jobs to the sweeper\" %s worker=%s "
              "sqlstate=%s error=%s",
              p->label, p->worker, r->sqlstate, quoted);
    pending_pop(r);
}

static void command_done(struct release *r, int64_t now)
{
    if (r->state == R_BUSY) {
        release_done(r, now);
        return;
    }
    if (r->error[0]) { /* the prepare failed: treat it like a failed connection */
        conn_fail(r, now, r->error);
        return;
    }
    r->state = R_IDLE;
    r->retry_ms = now;
    if (r->outage) {
        r->outage = false;
        log_info("msg=\"crash release: database available again\" pending=%zu", r->npending);
    } else {
        log_debug("msg=\"crash release: connected\"");
    }
}

/* Reads what arrived. Returns 0 when the command's results are all in, 1 while more are
 * due, -1 when the connection broke. */
static int read_results(struct release *r)
{
    if (!PQconsumeInput(r->conn))
        return -1;
    while (!PQisBusy(r->conn)) {
        PGresult *res = PQgetResult(r->conn);
        if (!res)
            return 0;
        take_result(r, res);
        PQclear(res);
    }
    return 1;
}

void release_poll_want(const struct release *r, int *fd, short *events)
{
    *fd = -1;
    *events = 0;
    switch (r->state) {
    case R_CONNECTING:
        *fd = PQsocket(r->conn);
        *events = r->connect_wants == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        break;
    case R_PREPARING:
    case R_BUSY:
        *fd = PQsocket(r->conn);
        *events = (short)(POLLIN | (r->flushing ? POLLOUT : 0));
        break;
    case R_IDLE: /* to notice a server closing the connection */
        *fd = PQsocket(r->conn);
        *events = POLLIN;
        break;
    case R_DISABLED:
    case R_DOWN:
        break;
    }
}

static long until(int64_t when, int64_t now) { return when > now ? (long)(when - now) : 0; }

long release_timeout_ms(const struct release *r, int64_t now_ms)
{
    switch (r->state) {
    case R_CONNECTING:
    case R_PREPARING:
    case R_BUSY:
        return until(r->deadline_ms, now_ms);
    case R_DOWN:
        return r->npending || !r->tried ? until(r->retry_ms, now_ms) : -1;
    case R_IDLE:
        return r->npending ? until(r->retry_ms, now_ms) : -1;
    case R_DISABLED:
        break;
    }
    return -1;
}

static void handle_io(struct release *r, short revents, int64_t now)
{
    switch (r->state) {
    case R_CONNECTING:
        connect_progress(r, now);
        break;
    case R_PREPARING:
    case R_BUSY:
        if ((revents & POLLOUT) && r->flushing) {
            flush_output(r, now);
            if (r->state == R_DOWN)
                break;
        }
        if (revents & (POLLIN | POLLHUP | POLLERR)) {
            int rc = read_results(r);
            if (rc < 0)
                conn_fail(r, now, PQerrorMessage(r->conn));
            else if (rc == 0)
                command_done(r, now);
        }
        break;
    case R_IDLE:
        if (!PQconsumeInput(r->conn) || PQstatus(r->conn) == CONNECTION_BAD) {
            conn_fail(r, now, PQerrorMessage(r->conn));
            break;
        }
        while (!PQisBusy(r->conn)) { /* nothing is expected; drop anything unasked-for */
            PGresult *res = PQgetResult(r->conn);
            if (!res)
                break;
            PQclear(res);
        }
        break;
    case R_DISABLED:
    case R_DOWN:
        break;
    }
}

void release_step(struct release *r, short revents, int64_t now_ms)
{
    if (revents)
        handle_io(r, revents, now_ms);
    switch (r->state) {
    case R_CONNECTING:
    case R_PREPARING:
    case R_BUSY:
        if (now_ms >= r->deadline_ms)
            conn_fail(r, now_ms,
                      r->state == R_CONNECTING ? "connection timed out after 3 s"
                                               : "no answer from the database within 10 s");
        break;
    case R_DOWN:
        if ((r->npending || !r->tried) && now_ms >= r->retry_ms)
            start_connect(r, now_ms);
        break;
    case R_IDLE:
        if (r->npending && now_ms >= r->retry_ms)
            send_next(r, now_ms);
        break;
    case R_DISABLED:
        break;
    }
}
