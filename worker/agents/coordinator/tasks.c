/* tasks — payload reading and result building for delegate_task and coordinate_workflow;
 * the gateway work is in delegate.c (a delegated job) and wfrun.c (a workflow run),
 * workflow validation in plan.c. Bad input fails at once without retry; gateway trouble is
 * retried, and a retry re-attaches to the child job or the run the failed attempt created.
 * A child or a step that fails is not a coordinator failure: the result reports it (status
 * "failed" with its error). */
#include "worker/agents/coordinator/tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "worker/agents/coordinator/delegate.h"
#include "worker/agents/coordinator/plan.h"
#include "worker/agents/coordinator/wfrun.h"

static int bad_input(struct task_outcome *out, const char *message)
{
    snprintf(out->error, sizeof(out->error), "%s", message);
    out->retryable = false;
    return -1;
}

/* Adds status, and result (completed) or error (failed, cancelled, still running) from
 * the child job d->job to obj. wait_s is how long was waited (for the error of a child
 * that did not finish). */
static void add_outcome(cJSON *obj, const struct delegation *d, int wait_s, bool waited)
{
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(d->job, "result");
    const cJSON *last_error = cJSON_GetObjectItemCaseSensitive(d->job, "lastError");
    bool finished = delegate_finished(d->status);
    cJSON_AddStringToObject(obj, "status", waited && !finished ? "timed_out" : d->status);
    if (strcmp(d->status, "completed") == 0) {
        cJSON_AddItemToObject(obj, "result",
                              result ? cJSON_Duplicate(result, 1) : cJSON_CreateNull());
    } else if (finished) {
        cJSON_AddStringToObject(obj, "error",
                                cJSON_IsString(last_error) ? last_error->valuestring : d->status);
    } else if (waited) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "job %lld did not finish within %d s (it was %s); it was cancelled", d->job_id,
                 wait_s, d->status);
        cJSON_AddStringToObject(obj, "error", msg);
    }
}

int coord_delegate_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct field_error fe;
    struct plan_error pe;
    cJSON *data = NULL, *task = NULL;
    struct delegate_req req = {.priority = -1, .step = "delegate"};
    long wait = 0;
    if (json_get_object(payload, "data", true, &data, &fe) < 0)
        return bad_input(out, fe.message);
    if (json_get_object(data, "task", true, &task, &fe) < 0 ||
        json_get_string(task, "taskType", true, 1, 100, &req.target.task_type, &fe) < 0 ||
        json_get_int(data, "priority", false, 0, 4, &req.priority, &fe) < 0 ||
        json_get_int(data, "wait", false, 0, DELEGATE_MAX_WAIT_S, &wait, &fe) < 0 ||
        json_get_int(data, "timeoutSeconds", false, 1, 86400, &req.timeout_seconds, &fe) < 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "data.%s%s", strcmp(fe.field, "taskType") == 0 ? "task." : "",
                 fe.message);
        return bad_input(out, msg);
    }
    if (plan_read_target(data, "data", &req.target, &pe) < 0)
        return bad_input(out, pe.message);

    /* The task's fields other than taskType are the child's data. */
    cJSON *child_data = cJSON_Duplicate(task, 1);
    if (!child_data)
        return bad_input(out, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(child_data, "taskType");
    req.data = child_data;
    req.wait_s = (int)wait;

    struct delegation d;
    int rc = delegate_run(ctx, &req, &d, out);
    cJSON_Delete(child_data);
    if (rc == 0) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "delegatedTo", d.agent);
        cJSON_AddNumberToObject(r, "jobId", (double)d.job_id);
        add_outcome(r, &d, req.wait_s, false);
        cJSON_AddStringToObject(r, "reason", d.choice.reason);
        cJSON_AddBoolToObject(r, "reused", d.reused);
        out->result = r;
    }
    delegation_clear(&d);
    return rc;
}

int coord_workflow_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct plan *p = calloc(1, sizeof(*p));
    struct plan_error pe;
    struct field_error fe;
    cJSON *data = NULL;
    int rc;
    if (!p)
        return task_fail(out, true, "out of memory");
    if (json_get_object(payload, "data", true, &data, &fe) < 0)
        rc = bad_input(out, fe.message);
    else if (plan_read(data, p, &pe) < 0)
        rc = bad_input(out, pe.message);
    else
        rc = wfrun_run(ctx, p, out);
    free(p);
    return rc;
}
