/* messages — inter-agent messages (seed 000's flow): POST /agents/message stores a message
 * and queues its delivery as an inter_agent_message job for the target (one statement);
 * the target's worker keeps it in memory and answers when asked to (a message with
 * reply_to). Messages are listed per agent with a status read from the delivery job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"

#define MESSAGE_MAX 100000
#define MESSAGE_TYPE_MAX 64
#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 500

/* POST /agents/message: the message replied to, for the answer's errors. */
struct message_send {
    char reply_to[24];
};

static const struct request_ctx_type message_send_ctx = {"message send", NULL};

static void send_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    const char *reply_to = ((struct message_send *)request_ctx(r, &message_send_ctx))->reply_to;
    if (res && PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "23505") == 0) {
            request_error(r, 409, "conflict", "reply_to", "message %s already has a reply",
                          reply_to);
            return;
        }
    }
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    if (PQntuples(res) == 0) {
        request_error(r, 400, "invalid_field", "reply_to", "reply_to: no message %s", reply_to);
        return;
    }
    request_reply(r, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* POST /agents/message {from_agent, to_agent, message, message_type?, requires_response?,
 * reply_to?} → 201 with the message. */
void messages_send(struct request *r)
{
    struct field_error err;
    const char *from = NULL, *to = NULL, *text = NULL, *type = "info";
    bool requires_response = false;
    long reply_to = 0;
    int has_reply;
    if (json_get_string(r->body, "from_agent", true, 1, AGENT_NAME_MAX, &from, &err) < 0 ||
        json_get_string(r->body, "to_agent", true, 1, AGENT_NAME_MAX, &to, &err) < 0 ||
        json_get_string(r->body, "message", true, 1, MESSAGE_MAX, &text, &err) < 0 ||
        json_get_string(r->body, "message_type", false, 1, MESSAGE_TYPE_MAX, &type, &err) < 0 ||
        json_get_bool(r->body, "requires_response", false, &requires_response, &err) < 0 ||
        (has_reply = json_get_int(r->body, "reply_to", false, 1, 0x7fffffffffffffffL, &reply_to,
                                  &err)) < 0) {
        request_field_error(r, &err);
        return;
    }
    if (request_check_agent_name(r, from, "from_agent") < 0 ||
        request_check_agent_name(r, to, "to_agent") < 0)
        return;
    if (!json_is_identifier(type, MESSAGE_TYPE_MAX)) {
        request_error(r, 400, "invalid_field", "message_type",
                      "message_type must be 1 to %d characters of letters, digits, '_', '.' or '-'",
                      MESSAGE_TYPE_MAX);
        return;
    }
    struct message_send *ms = request_ctx_new(r, &message_send_ctx, sizeof(*ms));
    if (!ms) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    snprintf(ms->reply_to, sizeof(ms->reply_to), "%ld", reply_to);
    const char *params[6] = {from,
                             to,
                             text,
                             type,
                             requires_response ? "true" : "false",
                             has_reply ? ms->reply_to : NULL};
    if (pgpool_query(r->gw->pool, Q_MESSAGE_SEND, 6, params, send_done, r) < 0)
        request_unavailable(r);
}

void messages_get(struct request *r)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    const char *params[1] = {id};
    request_query_body(r, Q_MESSAGE_GET, 1, params, 200);
}

/* GET /api/agents/:agentName/messages?direction=in|out|all&limit=&cursor= (newest first). */
void messages_for_agent(struct request *r)
{
    const char *agent = router_param(&r->match, "agentName");
    if (request_check_agent_name(r, agent, "agentName") < 0)
        return;
    const char *direction = request_query_param(r, "direction");
    if (!direction)
        direction = "all";
    if (strcmp(direction, "in") && strcmp(direction, "out") && strcmp(direction, "all")) {
        request_error(r, 400, "invalid_field", "direction", "direction must be in, out or all");
        return;
    }
    struct page_query pq;
    if (request_page_query(r, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, true, &pq) < 0)
        return;
    const char *params[5] = {agent, direction, pq.cursor, pq.limit, r->gw->response_budget};
    request_query_body(r, Q_MESSAGES_LIST, 5, params, 200);
}
