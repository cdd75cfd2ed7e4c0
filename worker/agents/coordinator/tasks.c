/* tasks — payload reading and result building for delegate_task and coordinate_workflow;
 * the gateway work is in delegate.c, workflow validation in plan.c. Bad input fails at
 * once without retry; gateway trouble is retried, and a retry re-attaches to the child
 * jobs the failed attempt created (delegate.h). A child that fails is not a coordinator
 * failure: the result reports it (status "failed" with its error). */
#include "worker/agents/coordinator/tasks.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/json.h"
#include "worker/agents/coordinator/delegate.h"
#include "worker/agents/coordinator/plan.h"
#include "worker/agents/coordinator/refpath.h"

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

/* The step's data: its "data" object with each "input" field set to the value its
 * reference points at in scope ({"input": …, "steps": {name: {"result": …}}}). NULL with
 * why filled when a reference leads nowhere. */
static cJSON *step_data(const struct plan_step *st, const cJSON *scope, char *why, size_t len)
{
    cJSON *data = st->data ? cJSON_Duplicate(st->data, 1) : cJSON_CreateObject();
    const cJSON *m;
    cJSON_ArrayForEach(m, st->input)
    {
        const cJSON *v = refpath_get(scope, m->valuestring);
        if (!v) {
            snprintf(why, len, "input.%s: %s leads nowhere", m->string, m->valuestring);
            cJSON_Delete(data);
            return NULL;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(data, m->string);
        cJSON_AddItemToObject(data, m->string, cJSON_Duplicate(v, 1));
    }
    return data;
}

/* Runs step i and appends its entry to steps. Returns 1 when it completed, 0 when it
 * failed (its entry says why), -1 when the whole workflow must fail (out filled: gateway
 * trouble or told to stop, both retryable). */
static int run_step(struct task_ctx *ctx, const struct plan_step *st, cJSON *scope, cJSON *steps,
                    struct task_outcome *out)
{
    cJSON *entry = cJSON_CreateObject();
    cJSON_AddItemToArray(steps, entry);
    cJSON_AddStringToObject(entry, "name", st->name);
    double t0 = clock_now() * 1e3;
    char why[600];
    cJSON *data = step_data(st, scope, why, sizeof(why));
    if (!data) {
        cJSON_AddNullToObject(entry, "agent");
        cJSON_AddNullToObject(entry, "jobId");
        cJSON_AddStringToObject(entry, "status", "failed");
        cJSON_AddStringToObject(entry, "error", why);
        cJSON_AddNumberToObject(entry, "durationMs", 0);
        return 0;
    }
    char key[PLAN_NAME_MAX + 8];
    snprintf(key, sizeof(key), "step-%s", st->name);
    struct delegate_req req = {
        .target = st->target, .data = data, .priority = -1, .wait_s = st->timeout_s, .step = key};
    struct delegation d;
    struct task_outcome step_out = {0};
    int rc = delegate_run(ctx, &req, &d, &step_out);
    cJSON_Delete(data);
    if (rc < 0 && step_out.retryable) {
        *out = step_out;
        delegation_clear(&d);
        return -1;
    }
    int done = 0;
    if (rc < 0) { /* no agent for it */
        cJSON_AddNullToObject(entry, "agent");
        cJSON_AddNullToObject(entry, "jobId");
        cJSON_AddStringToObject(entry, "status", "failed");
        cJSON_AddStringToObject(entry, "error", step_out.error);
    } else {
        if (!delegate_finished(d.status))
            delegate_cancel(ctx, &d);
        cJSON_AddStringToObject(entry, "agent", d.agent);
        cJSON_AddNumberToObject(entry, "jobId", (double)d.job_id);
        add_outcome(entry, &d, st->timeout_s, true);
        if (strcmp(d.status, "completed") == 0) {
            cJSON *ref =
                cJSON_AddObjectToObject(cJSON_GetObjectItemCaseSensitive(scope, "steps"), st->name);
            cJSON_AddItemToObject(
                ref, "result",
                cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(entry, "result"), 1));
            done = 1;
        }
    }
    cJSON_AddNumberToObject(entry, "durationMs", (double)(long long)(clock_now() * 1e3 - t0));
    delegation_clear(&d);
    return done;
}

int coord_workflow_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct plan plan, *p = &plan;
    struct plan_error pe;
    struct field_error fe;
    cJSON *data = NULL;
    if (json_get_object(payload, "data", true, &data, &fe) < 0)
        return bad_input(out, fe.message);
    if (plan_read(data, p, &pe) < 0)
        return bad_input(out, pe.message);

    cJSON *scope = cJSON_CreateObject();
    cJSON_AddItemToObject(scope, "input",
                          p->input ? cJSON_Duplicate(p->input, 1) : cJSON_CreateObject());
    cJSON_AddObjectToObject(scope, "steps");
    cJSON *r = cJSON_CreateObject();
    cJSON *steps = cJSON_AddArrayToObject(r, "steps");
    bool failed = false, last_ok = false;
    int rc = 0;
    for (int i = 0; i < p->nsteps; i++) {
        if (failed && p->stop_on_failure) {
            cJSON *entry = cJSON_CreateObject();
            cJSON_AddStringToObject(entry, "name", p->steps[i].name);
            cJSON_AddStringToObject(entry, "status", "skipped");
            cJSON_AddItemToArray(steps, entry);
            last_ok = false;
            continue;
        }
        rc = run_step(ctx, &p->steps[i], scope, steps, out);
        if (rc < 0)
            break;
        last_ok = rc == 1;
        failed = failed || !last_ok;
    }
    if (rc >= 0) {
        const cJSON *last = cJSON_GetArrayItem(steps, p->nsteps - 1);
        const cJSON *output = last_ok ? cJSON_GetObjectItemCaseSensitive(last, "result") : NULL;
        cJSON_AddItemToObject(r, "output",
                              output ? cJSON_Duplicate(output, 1) : cJSON_CreateNull());
        cJSON_AddStringToObject(r, "status", failed ? "failed" : "completed");
        out->result = r;
        r = NULL;
    }
    cJSON_Delete(r);
    cJSON_Delete(scope);
    return rc < 0 ? -1 : 0;
}
