/* health — liveness (/health: the process answers) and readiness (/ready: a query
 * round-trips through the pool). Both are public. */
#include <stdio.h>
#include <time.h>

#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/pgpool.h"
#include "gateway/queries.h"
#include "gateway/request.h"

#define FLOWSTATE_VERSION "0.1.0"

void health_get(struct request *r)
{
    char body[160];
    int n = snprintf(body, sizeof(body),
                     "{\"status\":\"ok\",\"version\":\"" FLOWSTATE_VERSION
                     "\",\"uptimeSeconds\":%ld,\"database\":\"%s\"}",
                     (long)(time(NULL) - r->gw->started), pgpool_is_up(r->gw->pool) ? "up" : "down");
    request_reply(r, 200, body, (size_t)n);
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
