/* health — liveness (/health: the process answers) and readiness (/ready: a query
 * round-trips through the pool). Both are public. */
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "common/version.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"

void health_get(struct request *r)
{
    struct gateway *gw = r->gw;
    long uptime = (long)(time(NULL) - gw->started);
    bool db_up = pgpool_is_up(gw->pool);
    if (gw->health.len == 0 || gw->health.uptime != uptime || gw->health.db_up != db_up) {
        gw->health.uptime = uptime;
        gw->health.db_up = db_up;
        gw->health.len = snprintf(gw->health.text, sizeof(gw->health.text),
                                  "{\"status\":\"ok\",\"version\":\"" FLOWSTATE_VERSION
                                  "\",\"uptimeSeconds\":%ld,\"database\":\"%s\"}",
                                  uptime, db_up ? "up" : "down");
    }
    request_reply(r, 200, gw->health.text, (size_t)gw->health.len);
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
