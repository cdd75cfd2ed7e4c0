/* agents — registration and state of agents (the seed's agent_states table). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_print.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"

static void register_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        request_db_error(r, res);
        return;
    }
    bool created = PQgetvalue(res, 0, 0)[0] == 't';
    request_reply(r, created ? 201 : 200, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

void agents_register(struct request *r)
{
    struct field_error err;
    const char *name = NULL;
    cJSON *state = NULL;
    if (json_get_string(r->body, "agentName", true, 1, AGENT_NAME_MAX, &name, &err) < 0 ||
        json_get_object(r->body, "initialState", false, &state, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    if (request_check_agent_name(r, name, "agentName") < 0)
        return;
    char *state_text = state ? json_print(state) : NULL;
    const char *params[2] = {name, state_text ? state_text : "{}"};
    if (state && !state_text) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    if (pgpool_query(r->gw->pool, Q_AGENT_REGISTER, 2, params, register_done, r) < 0)
        request_unavailable(r);
    free(state_text);
}

void agents_list(struct request *r)
{
    const char *cursor = request_query_param(r, "cursor");
    struct page_query pq;
    if (cursor && request_check_agent_name(r, cursor, "cursor") < 0)
        return;
    if (request_page_query(r, 1000, 1000, false, &pq) < 0)
        return;
    const char *params[3] = {cursor, pq.limit, r->gw->response_budget};
    request_query_body(r, Q_AGENTS_LIST, 3, params, 200);
}

void agents_get(struct request *r)
{
    const char *name = router_param(&r->match, "agentName");
    if (request_check_agent_name(r, name, "agentName") < 0)
        return;
    const char *params[1] = {name};
    request_query_body(r, Q_AGENT_GET, 1, params, 200);
}

void agents_update(struct request *r)
{
    const char *name = router_param(&r->match, "agentName");
    if (request_check_agent_name(r, name, "agentName") < 0)
        return;
    struct field_error err;
    cJSON *state = NULL;
    bool merge = false;
    if (json_get_object(r->body, "state", true, &state, &err) < 0 ||
        json_get_bool(r->body, "merge", false, &merge, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    char *state_text = json_print(state);
    if (!state_text) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    const char *params[3] = {name, state_text, merge ? "true" : "false"};
    request_query_body(r, Q_AGENT_UPDATE, 3, params, 200);
    free(state_text);
}
