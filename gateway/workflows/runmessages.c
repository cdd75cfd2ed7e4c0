/* runmessages — messages within a workflow run, for POST|GET /api/workflows/runs/:id/messages
 * and seed 003's POST /api/agents/workflows/:id/messages (one body, seed 003's:
 * {from_agent, to_agent, message_type, content}). A message is an agent_messages row linked to
 * the run, delivered to its target as POST /agents/message delivers one (an
 * inter_agent_message job); the check that the run exists and both inserts are one statement,
 * so an unknown run stores nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_print.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/workflows/workflows.h"

#define CONTENT_MAX 100000 /* bytes of the content's JSON text, as a message's text */
#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 500

/* Seed 003's message types. */
static const char *const message_types[] = {"request", "response", "notification", "handoff", NULL};

static void send_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!wf_run_found(r, res))
        return;
    request_reply(r, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* POST …/:id/messages {from_agent, to_agent, message_type, content} → 201 with the message. */
void wf_run_message_send(struct request *r)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    struct field_error err;
    const char *from = NULL, *to = NULL, *type = NULL;
    if (json_get_string(r->body, "from_agent", true, 1, AGENT_NAME_MAX, &from, &err) < 0 ||
        json_get_string(r->body, "to_agent", true, 1, AGENT_NAME_MAX, &to, &err) < 0 ||
        json_get_string(r->body, "message_type", true, 1, 32, &type, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    if (request_check_agent_name(r, from, "from_agent") < 0 ||
        request_check_agent_name(r, to, "to_agent") < 0)
        return;
    bool known = false;
    for (int i = 0; message_types[i]; i++)
        known |= strcmp(type, message_types[i]) == 0;
    if (!known) {
        request_error(r, 400, "invalid_field", "message_type",
                      "message_type must be request, response, notification or handoff");
        return;
    }
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(r->body, "content");
    if (!content || cJSON_IsNull(content)) {
        request_error(r, 400, "invalid_field", "content",
                      "content is required: any JSON value but null");
        return;
    }
    char *text = json_print(content);
    if (!text) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    if (strlen(text) > CONTENT_MAX) {
        request_error(r, 400, "invalid_field", "content",
                      "content must be at most %d bytes of JSON", CONTENT_MAX);
        free(text);
        return;
    }
    const char *params[5] = {id, from, to, text, type};
    if (pgpool_query(r->gw->pool, Q_WF_MESSAGE_SEND, 5, params, send_done, r) < 0)
        request_unavailable(r);
    free(text);
}

/* GET /api/workflows/runs/:id/messages?limit=&cursor= — oldest first; nextCursor pages on. */
void wf_run_messages_list(struct request *r)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    long limit = LIST_LIMIT_DEFAULT, cursor = 0;
    int has_cursor;
    if (request_query_int(r, "limit", 1, LIST_LIMIT_MAX, &limit) < 0 ||
        (has_cursor = request_query_int(r, "cursor", 1, 0x7fffffffffffffffL, &cursor)) < 0)
        return;
    char limit_text[16], cursor_text[24];
    snprintf(limit_text, sizeof(limit_text), "%ld", limit);
    snprintf(cursor_text, sizeof(cursor_text), "%ld", cursor);
    const char *params[4] = {id, has_cursor ? cursor_text : NULL, limit_text,
                             r->gw->response_budget};
    request_query_body(r, Q_WF_MESSAGES_LIST, 4, params, 200);
}
