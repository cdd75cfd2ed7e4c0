/* Unit tests for gateway/db/pgpool on a real event loop and real sockets, no database: the
 * queue bound refuses a query (no callback) while the first connection is still being made,
 * and queries queued while the database turns out to be unreachable are answered with NULL,
 * after which the pool refuses new ones until a connection comes back. */
#include <event2/event.h>

#include "common/log.h"
#include "gateway/db/pgpool.h"
#include "tests/unit/harness.h"
#include "tests/unit/pgserver.h"

static const struct pgpool_stmt stmts[] = {{"ping", "SELECT 1"}};

struct answers {
    int calls, nulls;
};

static void answered(PGresult *res, void *arg)
{
    struct answers *a = arg;
    a->calls++;
    a->nulls += !res;
}

static struct pgpool *new_pool(struct event_base *base, const char *conninfo, int size,
                               int queue_max)
{
    struct pgpool_opts o = {.name = "test",
                            .size = size,
                            .queue_max = queue_max,
                            .session_sql = "SET TimeZone = 'UTC'",
                            .stmts = stmts,
                            .nstmts = 1};
    return pgpool_new(base, conninfo, &o);
}

/* The connection never gets an answer, so both queries wait; the third finds the queue full. */
static void queue_bound_case(const void *arg)
{
    (void)arg;
    enum pgserver_move silent = PGSERVER_SILENT;
    struct pgserver *srv = pgserver_start(&silent, 1);
    struct event_base *base = event_base_new();
    REQUIRE(srv && base);
    struct pgpool *pool = new_pool(base, pgserver_conninfo(srv), 1, 2);
    REQUIRE(pool != NULL);
    event_base_loop(base, EVLOOP_NONBLOCK);
    struct answers a = {0};
    CHECK_LONG(pgpool_query(pool, 0, 0, NULL, answered, &a), 0);
    CHECK_LONG(pgpool_query(pool, 0, 0, NULL, answered, &a), 0);
    CHECK_LONG(pgpool_query(pool, 0, 0, NULL, answered, &a), -1);
    CHECK_LONG(pgpool_busy(pool), 2);
    CHECK(pgpool_is_up(pool)); /* the first attempt is still under way */
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_LONG(a.calls, 0);
    pgpool_free(pool); /* drops the queued queries without callbacks */
    CHECK_LONG(a.calls, 0);
    event_base_free(base);
    pgserver_stop(srv);
}

/* The server closes every connection at once: the queued queries are answered with NULL,
 * the pool is down and refuses the next query at once. */
static void down_case(const void *arg)
{
    (void)arg;
    enum pgserver_move close_at_once = PGSERVER_CLOSE;
    struct pgserver *srv = pgserver_start(&close_at_once, 1);
    struct event_base *base = event_base_new();
    REQUIRE(srv && base);
    enum log_level level = log_get_level();
    log_set_level(LOG_ERROR); /* the outage is expected: keep its log lines out of the output */
    struct pgpool *pool = new_pool(base, pgserver_conninfo(srv), 2, 10);
    REQUIRE(pool != NULL);
    struct answers a = {0};
    const char *values[1] = {"x"};
    for (int i = 0; i < 3; i++)
        CHECK_LONG(pgpool_query_sql(pool, "SELECT $1", 1, values, answered, &a), 0);
    for (int i = 0; i < 200 && a.calls < 3; i++)
        event_base_loop(base, EVLOOP_ONCE);
    CHECK_LONG(a.calls, 3);
    CHECK_LONG(a.nulls, 3);
    CHECK(!pgpool_is_up(pool));
    CHECK_LONG(pgpool_busy(pool), 0);
    CHECK_LONG(pgpool_query(pool, 0, 0, NULL, answered, &a), -1);
    CHECK_LONG(a.calls, 3);
    pgpool_free(pool);
    event_base_free(base);
    pgserver_stop(srv);
    log_set_level(level);
}

void register_pgpool_tests(void)
{
    test_add("pgpool refuses a query when its queue is full", queue_bound_case, NULL);
    test_add("pgpool answers queued queries with NULL when the database is down", down_case, NULL);
}
