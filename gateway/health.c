/* health — liveness (/health: the process answers) and readiness (/ready: a query
 * round-trips through the pool). Both are public. */
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/pgpool.h"
#include "gateway/queries.h"
#include "gateway/request.h"

#define FLOWSTATE_VERSION "0.1.0"

/* The body changes at most once a second (uptime) or when the database goes up or down, so
 * it is formatted then and reused in between. */
struct health_body {
    long uptime;
    bool db_up;
    int len; /* 0: not made yet */
    char text[160];
};

void health_get(struct request *r)
{
    static struct health_body cached; /* the gateway runs one event loop thread */
    long uptime = (long)(time(NULL) - r->gw->started);
    bool db_up = pgpool_is_up(r->gw->pool);
    if (cached.len == 0 || cached.uptime != uptime || cached.db_up != db_up) {
        cached.uptime = uptime;
        cached.db_up = db_up;
        cached.len = snprintf(cached.text, sizeof(cached.text),
                              "{\"status\":\"ok\",\"version\":\"" FLOWSTATE_VERSION
                              "\",\"uptimeSeconds\":%ld,\"database\":\"%s\"}",
                              uptime, db_up ? "up" : "down");
    }
    request_reply(r, 200, cached.text, (size_t)cached.len);
}

static void ready_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    static const char body[] = "{\"status\":\"ready\"}";
    request_reply(r, 200, body, sizeof(body) - 1);
}

void ready_get(struct request *r)
{
    if (pgpool_query(r->gw->pool, Q_PING, 0, NULL, ready_done, r) < 0)
        request_unavailable(r);
}
