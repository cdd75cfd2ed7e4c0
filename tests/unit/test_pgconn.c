/* Unit tests for common/pgconn against real sockets and the real libpq, no database: a
 * failed attempt (refused, or closed by the server at once) schedules the next one from the
 * backoff, the delays grow and restart after a session was set up; a connect that gets no
 * answer and a statement that gets none are given up at their deadlines, the statement
 * answered with NULL. Time is the test's own counter (pgconn reads no clock), so nothing
 * here waits for a deadline: only the sockets are polled for real. */
#include <poll.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/pgconn.h"
#include "tests/unit/harness.h"
#include "tests/unit/pgserver.h"

struct seen {
    int ready, results, null_results, downs, downs_ready;
};

static void seen_ready(void *arg) { ((struct seen *)arg)->ready++; }

static void seen_result(PGresult *res, void *arg)
{
    struct seen *s = arg;
    s->results++;
    s->null_results += !res;
    PQclear(res);
}

static void seen_down(bool was_ready, void *arg)
{
    struct seen *s = arg;
    s->downs++;
    s->downs_ready += was_ready;
}

static struct pgconn *new_conn(const char *conninfo, struct seen *s, long min_ms, long max_ms)
{
    struct pgconn_opts o = {
        .name = "test",
        .conninfo = conninfo,
        .connect_timeout_ms = 200,
        .statement_timeout_ms = 300,
        .backoff_min_ms = min_ms,
        .backoff_max_ms = max_ms,
        .on_ready = seen_ready,
        .on_result = seen_result,
        .on_down = seen_down,
        .arg = s,
    };
    return pgconn_new(&o);
}

/* Polls the connection's socket for real (up to 5 s each time) and steps it at the test's
 * time t, until it reaches state want or stops asking for its socket. */
static bool drive_to(struct pgconn *c, int64_t t, enum pgconn_state want)
{
    for (int i = 0; i < 50 && pgconn_state(c) != want; i++) {
        struct pollfd p = {pgconn_fd(c), pgconn_poll_events(c), 0};
        if (!p.events || poll(&p, 1, 5000) <= 0)
            return false;
        pgconn_step(c, pgconn_poll_ready(p.revents), t);
    }
    return pgconn_state(c) == want;
}

/* Each failed attempt, starting at t, schedules the next from the backoff: delay i is in
 * [d/2, d] where d doubles from 100 ms to the 400 ms cap. */
static void refused_case(const void *arg)
{
    const char *conninfo = pgserver_closed_conninfo();
    struct pgserver *srv = NULL;
    if (arg) { /* a server that accepts and closes at once */
        enum pgserver_move close_at_once = PGSERVER_CLOSE;
        REQUIRE((srv = pgserver_start(&close_at_once, 1)) != NULL);
        conninfo = pgserver_conninfo(srv);
    }
    enum log_level level = log_get_level();
    log_set_level(LOG_ERROR);
    struct seen s = {0};
    struct pgconn *c = new_conn(conninfo, &s, 100, 400);
    REQUIRE(c != NULL);
    CHECK_LONG(pgconn_state(c), PGCONN_DOWN);
    CHECK_LONG(pgconn_due(c), 0); /* the first attempt is due at once */
    static const long want_d[] = {100, 200, 400, 400, 400};
    int64_t t = 1000;
    for (size_t i = 0; i < COUNT_OF(want_d); i++) {
        pgconn_step(c, 0, t);
        if (!CHECK(pgconn_state(c) == PGCONN_DOWN || drive_to(c, t, PGCONN_DOWN)))
            break;
        int64_t delay = pgconn_due(c) - t;
        CHECK(delay >= want_d[i] / 2 && delay <= want_d[i]);
        CHECK_LONG(pgconn_fd(c), -1);
        CHECK_LONG(pgconn_wants(c), 0);
        pgconn_step(c, 0, pgconn_due(c) - 1); /* not yet */
        CHECK_LONG(pgconn_state(c), PGCONN_DOWN);
        t = pgconn_due(c);
    }
    CHECK_LONG(s.downs, (long)COUNT_OF(want_d));
    CHECK_LONG(s.downs_ready + s.ready + s.results, 0);
    if (srv)
        CHECK_LONG(pgserver_accepted(srv), (long)COUNT_OF(want_d));
    pgconn_free(c);
    pgserver_stop(srv);
    log_set_level(level);
}

/* A server that accepts and never answers: the attempt is given up at the connect
 * deadline (200 ms of the test's time), not before, and the next one is scheduled. */
static void connect_deadline_case(const void *arg)
{
    (void)arg;
    enum pgserver_move silent = PGSERVER_SILENT;
    struct pgserver *srv = pgserver_start(&silent, 1);
    REQUIRE(srv != NULL);
    enum log_level level = log_get_level();
    log_set_level(LOG_ERROR);
    struct seen s = {0};
    struct pgconn *c = new_conn(pgserver_conninfo(srv), &s, 100, 400);
    REQUIRE(c != NULL);
    int64_t t = 5000;
    pgconn_step(c, 0, t);
    /* Until libpq has sent its startup packet and waits for the answer. */
    for (int i = 0; i < 20 && pgconn_wants(c) != PGCONN_READ; i++) {
        struct pollfd p = {pgconn_fd(c), POLLOUT, 0};
        if (poll(&p, 1, 5000) > 0)
            pgconn_step(c, PGCONN_WRITE, t);
    }
    CHECK_LONG(pgconn_state(c), PGCONN_CONNECTING);
    CHECK_LONG(pgconn_wants(c), PGCONN_READ);
    CHECK_LONG(pgconn_due(c), t + 200);
    pgconn_step(c, 0, t + 199);
    CHECK_LONG(pgconn_state(c), PGCONN_CONNECTING);
    pgconn_step(c, 0, t + 200);
    CHECK_LONG(pgconn_state(c), PGCONN_DOWN);
    CHECK_LONG(s.downs, 1);
    int64_t delay = pgconn_due(c) - (t + 200);
    CHECK(delay >= 50 && delay <= 100);
    pgconn_free(c);
    pgserver_stop(srv);
    log_set_level(level);
}

/* Three attempts fail (the delays grow), the fourth sets a session up (the backoff starts
 * over); a statement that gets no answer is given up at its deadline: its result is NULL,
 * the session counts as lost, and the next attempt comes after the shortest delay again. */
static void statement_deadline_case(const void *arg)
{
    (void)arg;
    static const enum pgserver_move moves[] = {PGSERVER_CLOSE, PGSERVER_CLOSE, PGSERVER_CLOSE,
                                               PGSERVER_HANDSHAKE};
    struct pgserver *srv = pgserver_start(moves, 4);
    REQUIRE(srv != NULL);
    enum log_level level = log_get_level();
    log_set_level(LOG_ERROR);
    struct seen s = {0};
    struct pgconn *c = new_conn(pgserver_conninfo(srv), &s, 100, 10000);
    REQUIRE(c != NULL);
    int64_t t = 0;
    static const long want_d[] = {100, 200, 400};
    for (size_t i = 0; i < COUNT_OF(want_d); i++) {
        pgconn_step(c, 0, t);
        if (!CHECK(drive_to(c, t, PGCONN_DOWN)))
            goto done;
        int64_t delay = pgconn_due(c) - t;
        CHECK(delay >= want_d[i] / 2 && delay <= want_d[i]);
        t = pgconn_due(c);
    }
    pgconn_step(c, 0, t);
    if (!CHECK(drive_to(c, t, PGCONN_IDLE)))
        goto done;
    CHECK_LONG(s.ready, 1);
    CHECK_LONG(pgconn_due(c), -1); /* an idle session has nothing timed */
    CHECK_LONG(pgconn_send(c, NULL, "SELECT 1", 0, NULL, t), 0);
    CHECK_LONG(pgconn_state(c), PGCONN_BUSY);
    CHECK_LONG(pgconn_send(c, NULL, "SELECT 2", 0, NULL, t), -1); /* one at a time */
    CHECK_LONG(pgconn_due(c), t + 300);
    pgconn_step(c, 0, t + 299);
    CHECK_LONG(pgconn_state(c), PGCONN_BUSY);
    CHECK_LONG(s.results, 0);
    pgconn_step(c, 0, t + 300);
    CHECK_LONG(pgconn_state(c), PGCONN_DOWN);
    CHECK_LONG(s.results, 1);
    CHECK_LONG(s.null_results, 1);
    CHECK_LONG(s.downs_ready, 1);
    int64_t delay = pgconn_due(c) - (t + 300);
    CHECK(delay >= 50 && delay <= 100);
    CHECK_LONG(pgconn_send(c, NULL, "SELECT 3", 0, NULL, t + 300), -1); /* down: refused */
done:
    pgconn_free(c);
    pgserver_stop(srv);
    log_set_level(level);
}

void register_pgconn_tests(void)
{
    test_add("pgconn reconnect delays follow the backoff (port closed)", refused_case, NULL);
    test_add("pgconn reconnect delays follow the backoff (server closes at once)", refused_case,
             "close");
    test_add("pgconn connect deadline against a server that never answers", connect_deadline_case,
             NULL);
    test_add("pgconn statement deadline, backoff reset after a session", statement_deadline_case,
             NULL);
}
