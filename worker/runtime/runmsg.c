/* runmsg — messages within a workflow run, and the send_message task (see runmsg.h). */
#include "worker/runtime/runmsg.h"

#include <stdio.h>
#include <string.h>

#include "common/json.h"

#define MESSAGE_TYPE_MAX 32

int task_run_message(const struct task_ctx *ctx, long long run_id, const char *to_agent,
                     const char *type, const cJSON *content, long long *message_id,
                     struct task_outcome *out)
{
    char path[64];
    snprintf(path, sizeof(path), "/api/workflows/runs/%lld/messages", run_id);
    cJSON *body = cJSON_CreateObject();
    cJSON *copy = content ? cJSON_Duplicate(content, true) : cJSON_CreateObject();
    if (!body || !copy || !cJSON_AddStringToObject(body, "from_agent", ctx->agent) ||
        !cJSON_AddStringToObject(body, "to_agent", to_agent) ||
        !cJSON_AddStringToObject(body, "message_type", type)) {
        cJSON_Delete(body);
        cJSON_Delete(copy);
        return task_fail(out, true, "out of memory");
    }
    cJSON_AddItemToObject(body, "content", copy);
    int status;
    cJSON *answer = task_gateway_json(ctx, "POST", path, body, &status, out);
    cJSON_Delete(body);
    int rc = -1;
    if (status == 201) {
        if (message_id)
            *message_id = (long long)json_number_or(answer, "message_id", 0);
        rc = 0;
    } else if (status) {
        char what[96];
        snprintf(what, sizeof(what), "POST %s", path);
        task_refused(out, what, status, answer);
    }
    cJSON_Delete(answer);
    return rc;
}

int send_message_task_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct field_error err;
    const cJSON *data = task_data(payload);
    const char *to = NULL, *type = "notification";
    long run_id = 0;
    if (json_get_string(data, "toAgent", true, 1, 100, &to, &err) < 0 ||
        json_get_string(data, "messageType", false, 1, MESSAGE_TYPE_MAX, &type, &err) < 0 ||
        json_get_int(payload, "workflowRunId", true, 1, 0x7fffffffffffffffL, &run_id, &err) < 0)
        return task_fail(out, false, "send_message: %s%s", err.message,
                         strcmp(err.field, "workflowRunId") == 0
                             ? " (send_message runs as a workflow step)"
                             : "");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(data, "content");
    long long id = 0;
    if (task_run_message(ctx, run_id, to, type, content, &id, out) < 0)
        return -1;
    cJSON *r = cJSON_CreateObject();
    if (!r || !cJSON_AddNumberToObject(r, "messageId", (double)id) ||
        !cJSON_AddStringToObject(r, "toAgent", to) ||
        !cJSON_AddStringToObject(r, "messageType", type) ||
        !cJSON_AddNumberToObject(r, "runId", (double)run_id)) {
        cJSON_Delete(r);
        return task_fail(out, true, "out of memory");
    }
    out->result = r;
    return 0;
}
