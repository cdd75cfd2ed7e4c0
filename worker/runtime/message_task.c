/* message_task — the built-in inter_agent_message task every agent runs (seed 000's
 * message flow): the message goes into the receiving agent's memory as a 'conversation'
 * document, and when the sender asked for a response, a reply message goes back to it.
 * A retried delivery may store the memory twice but never replies twice (the gateway
 * allows one reply per message: 409 means it was already sent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_status.h"
#include "common/json.h"
#include "common/json_print.h"
#include "worker/runtime/shared.h"

#define QUOTE_MAX 200

/* Posts body to path; returns the answer parsed (caller frees) or NULL with out->error set.
 * *status gets the HTTP status. */
static cJSON *post_json(struct task_ctx *ctx, const char *path, cJSON *body, int *status,
                        struct task_outcome *out)
{
    char *text = json_print(body);
    cJSON_Delete(body);
    if (!text) {
        snprintf(out->error, sizeof(out->error), "out of memory");
        return NULL;
    }
    struct http_response resp;
    *status = task_gateway(ctx, "POST", path, text, &resp);
    free(text);
    if (*status == 0) {
        snprintf(out->error, sizeof(out->error), "cannot reach the gateway for %s: %s", path,
                 resp.error);
        return NULL;
    }
    return cJSON_Parse(resp.body);
}

static long long id_of(const cJSON *doc, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

int message_task_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct field_error err;
    const char *from = NULL, *text = NULL, *type = "info";
    long message_id = 0;
    bool requires_response = false;
    if (json_get_int(payload, "messageId", true, 1, 0x7fffffffffffffffL, &message_id, &err) < 0 ||
        json_get_string(payload, "fromAgent", true, 1, 100, &from, &err) < 0 ||
        json_get_string(payload, "message", true, 1, 1000000, &text, &err) < 0 ||
        json_get_string(payload, "messageType", false, 1, 64, &type, &err) < 0 ||
        json_get_bool(payload, "requiresResponse", false, &requires_response, &err) < 0) {
        snprintf(out->error, sizeof(out->error), "%s", err.message);
        out->retryable = false;
        return -1;
    }

    /* 1. Remember it. */
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "content", text);
    cJSON *meta = cJSON_AddObjectToObject(doc, "metadata");
    cJSON_AddStringToObject(meta, "agentName", ctx->agent);
    cJSON_AddStringToObject(meta, "memoryType", "conversation");
    cJSON_AddNumberToObject(meta, "importance", 5);
    cJSON *tags = cJSON_AddArrayToObject(meta, "tags");
    cJSON_AddItemToArray(tags, cJSON_CreateString("message"));
    cJSON_AddItemToArray(tags, cJSON_CreateString(type));
    cJSON_AddStringToObject(meta, "fromAgent", from);
    cJSON_AddNumberToObject(meta, "messageId", (double)message_id);
    int status;
    cJSON *stored = post_json(ctx, "/api/documents", doc, &status, out);
    long long memory_id = id_of(stored, "id");
    cJSON_Delete(stored);
    if (status != 201 || memory_id <= 0) {
        if (status)
            snprintf(out->error, sizeof(out->error),
                     "storing the message in memory failed (HTTP %d)", status);
        out->retryable = http_status_retryable(status);
        return -1;
    }

    /* 2. Answer when asked to. */
    long long reply_id = 0;
    bool already = false;
    if (requires_response) {
        char quote[QUOTE_MAX + 4], reply[QUOTE_MAX + 256];
        snprintf(quote, sizeof(quote), "%.*s%s", QUOTE_MAX, text,
                 strlen(text) > QUOTE_MAX ? "…" : "");
        snprintf(reply, sizeof(reply),
                 "%s received your %s message #%ld and stored it in its memory: \"%s\"", ctx->agent,
                 type, message_id, quote);
        cJSON *msg = cJSON_CreateObject();
        cJSON_AddStringToObject(msg, "from_agent", ctx->agent);
        cJSON_AddStringToObject(msg, "to_agent", from);
        cJSON_AddStringToObject(msg, "message", reply);
        cJSON_AddStringToObject(msg, "message_type", "response");
        cJSON_AddNumberToObject(msg, "reply_to", (double)message_id);
        cJSON *sent = post_json(ctx, "/agents/message", msg, &status, out);
        reply_id = id_of(sent, "message_id");
        cJSON_Delete(sent);
        already = status == 409;
        if (status != 201 && !already) {
            if (status)
                snprintf(out->error, sizeof(out->error), "sending the reply failed (HTTP %d)",
                         status);
            out->retryable = http_status_retryable(status);
            return -1;
        }
    }

    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "messageId", (double)message_id);
    cJSON_AddStringToObject(r, "fromAgent", from);
    cJSON_AddNumberToObject(r, "memoryId", (double)memory_id);
    cJSON_AddBoolToObject(r, "replied", requires_response);
    if (reply_id > 0)
        cJSON_AddNumberToObject(r, "replyMessageId", (double)reply_id);
    char summary[300];
    snprintf(summary, sizeof(summary), "stored message #%ld from %s as memory %lld%s", message_id,
             from, memory_id,
             requires_response ? (already ? "; it had been answered already" : "; replied") : "");
    cJSON_AddStringToObject(r, "summary", summary);
    out->result = r;
    return 0;
}
