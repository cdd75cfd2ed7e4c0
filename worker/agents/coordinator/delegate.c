/* delegate — choose, create, wait: the gateway side of delegation (see delegate.h). */
#include "worker/agents/coordinator/delegate.h"
#include "common/clock.h"
#include "common/http_status.h"
#include "common/json_print.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

cJSON *delegate_call(struct task_ctx *ctx, const char *method, const char *path, const char *body,
                     int *status, struct task_outcome *out)
{
    struct http_response resp;
    *status = task_gateway(ctx, method, path, body, &resp);
    if (*status == 0) {
        task_fail(out, true, "cannot reach the gateway for %s %s: %s", method, path, resp.error);
        return NULL;
    }
    cJSON *doc = cJSON_Parse(resp.body);
    if (*status < 200 || *status > 299 || !doc) {
        task_fail(out, http_status_retryable(*status), "%s %s answered HTTP %d: %.300s", method,
                  path, *status, resp.body);
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

cJSON *delegate_post(struct task_ctx *ctx, const char *path, cJSON *body, int *status,
                     struct task_outcome *out)
{
    char *text = body ? json_print(body) : NULL;
    cJSON_Delete(body);
    *status = 0;
    if (!text) {
        task_fail(out, true, "out of memory");
        return NULL;
    }
    cJSON *answer = delegate_call(ctx, "POST", path, text, status, out);
    free(text);
    return answer;
}

/* Takes the child's id, targetAgent and status from a job object (d->job). */
static int take_job(struct delegation *d, cJSON *job, struct task_outcome *out)
{
    cJSON_Delete(d->job);
    d->job = job;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(job, "id");
    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(job, "targetAgent");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(job, "status");
    if (!cJSON_IsNumber(id) || !cJSON_IsString(agent) || !cJSON_IsString(status))
        return task_fail(out, true, "the gateway answered a job without id, targetAgent or status");
    d->job_id = (long long)id->valuedouble;
    snprintf(d->agent, sizeof(d->agent), "%s", agent->valuestring);
    snprintf(d->status, sizeof(d->status), "%s", status->valuestring);
    return 0;
}

bool delegate_finished(const char *status)
{
    return strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ||
           strcmp(status, "cancelled") == 0;
}

static int create_child(struct task_ctx *ctx, const struct delegate_req *req, struct delegation *d,
                        struct task_outcome *out)
{
    char key[256];
    snprintf(key, sizeof(key), "coord-%lld-%s", ctx->job_id, req->step);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "targetAgent", d->choice.agent);
    cJSON *payload = cJSON_AddObjectToObject(body, "payload");
    cJSON_AddStringToObject(payload, "type", "ai_task");
    cJSON_AddStringToObject(payload, "taskType", req->target.task_type);
    cJSON_AddItemToObject(payload, "data",
                          req->data ? cJSON_Duplicate(req->data, 1) : cJSON_CreateObject());
    /* POST /api/jobs has no parentJobId field (job_queue.parent_job_id is not exposed), so
     * the link to the coordinator job travels in the payload. */
    cJSON_AddNumberToObject(payload, "parentJobId", (double)ctx->job_id);
    if (req->priority >= 0)
        cJSON_AddNumberToObject(body, "priority", (double)req->priority);
    if (req->timeout_seconds > 0)
        cJSON_AddNumberToObject(body, "timeoutSeconds", (double)req->timeout_seconds);
    cJSON_AddStringToObject(body, "idempotencyKey", key);
    int status;
    cJSON *job = delegate_post(ctx, "/api/jobs", body, &status, out);
    if (!job) {
        if (status == 409) /* a concurrent creation with the same key: try again later */
            out->retryable = true;
        return -1;
    }
    d->reused = status == 200; /* the key exists: the child of an earlier attempt */
    return take_job(d, job, out);
}

int delegate_slice(double left)
{
    if (left < 0.5)
        return 0;
    long s = lround(left);
    return s < DELEGATE_SLICE_S ? (int)s : DELEGATE_SLICE_S;
}

/* Waits up to wait_s seconds for the child to finish, in DELEGATE_SLICE_S slices. */
static int wait_child(struct task_ctx *ctx, int wait_s, struct delegation *d,
                      struct task_outcome *out)
{
    double deadline = clock_now() + wait_s;
    while (!delegate_finished(d->status)) {
        if (task_should_stop(ctx))
            return task_fail(out, true, "stopped while waiting for job %lld", d->job_id);
        int slice = delegate_slice(deadline - clock_now());
        if (slice == 0)
            return 0;
        char path[96];
        snprintf(path, sizeof(path), "/api/jobs/%lld?wait=%d", d->job_id, slice);
        int status;
        cJSON *job = delegate_call(ctx, "GET", path, NULL, &status, out);
        if (job) {
            if (take_job(d, job, out) < 0)
                return -1;
        } else if (!http_status_retryable(status)) {
            return -1;
        } else if (clock_now() + 1 >= deadline) {
            return -1; /* out says what failed last */
        } else {
            log_warn("coordinator: waiting for job %lld: %s; trying again", d->job_id, out->error);
            task_sleep(ctx, 1000);
        }
    }
    return 0;
}

int delegate_run(struct task_ctx *ctx, const struct delegate_req *req, struct delegation *d,
                 struct task_outcome *out)
{
    memset(d, 0, sizeof(*d));
    int status;
    cJSON *agents = delegate_call(ctx, "GET", "/agents", NULL, &status, out);
    if (!agents)
        return -1;
    int rc = choose_agent(agents, req->target.task_type, req->target.agent, req->target.capability,
                          &d->choice);
    cJSON_Delete(agents);
    if (rc < 0)
        return task_fail(out, false, "no agent for task %s: %s", req->target.task_type,
                         d->choice.reason);
    if (create_child(ctx, req, d, out) < 0)
        return -1;
    return req->wait_s > 0 ? wait_child(ctx, req->wait_s, d, out) : 0;
}

void delegate_cancel(struct task_ctx *ctx, const struct delegation *d)
{
    char path[96];
    snprintf(path, sizeof(path), "/api/jobs/%lld/cancel", d->job_id);
    struct http_response resp;
    int status = task_gateway(ctx, "POST", path, "{}", &resp);
    if (status != 200 && status != 202)
        log_warn("coordinator: cancelling job %lld: HTTP %d %s", d->job_id, status,
                 status ? resp.body : resp.error);
}

void delegation_clear(struct delegation *d)
{
    cJSON_Delete(d->job);
    d->job = NULL;
}
