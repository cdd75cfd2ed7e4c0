/* wfrun — coordinate_workflow as a workflow run (see wfrun.h). */
#include "worker/agents/coordinator/wfrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/http_status.h"
#include "common/isotime.h"
#include "common/json.h"
#include "common/log.h"
#include "worker/agents/coordinator/choose.h"
#include "worker/agents/coordinator/delegate.h"
#include "worker/agents/coordinator/wfbuild.h"

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000

/* What the coordinator tracks of each step while it waits. */
struct watch {
    double deadline;     /* when the step's wait runs out (0: not seen running yet) */
    bool timed_out;      /* its job was cancelled for it */
    char job_status[16]; /* the job's status when last polled */
};

struct wait {
    struct task_ctx *ctx;
    const struct plan *p;
    long long run_id;
    cJSON *run; /* the run as last read */
    struct watch w[PLAN_MAX_STEPS];
};

/* The run's step with key, or NULL. */
static const cJSON *run_step(const cJSON *run, const char *key)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(run, "steps"))
    {
        const char *k = json_string_or_null(s, "key");
        if (k && strcmp(k, key) == 0)
            return s;
    }
    return NULL;
}

static bool str_is(const cJSON *obj, const char *name, const char *value)
{
    const char *s = json_string_or_null(obj, name);
    return s && strcmp(s, value) == 0;
}

/* Chooses every step's agent from one GET /agents. */
static int choose_agents(struct task_ctx *ctx, const struct plan *p, char agents[][CHOOSE_NAME_MAX],
                         struct task_outcome *out)
{
    int status;
    cJSON *list = delegate_call(ctx, "GET", "/agents", NULL, &status, out);
    if (!list)
        return -1;
    for (int i = 0; i < p->nsteps; i++) {
        struct choice c;
        const struct plan_target *t = &p->steps[i].target;
        if (choose_agent(list, t->task_type, t->agent, t->capability, &c) < 0) {
            cJSON_Delete(list);
            return task_fail(out, false, "data.steps[%d]: no agent for task %s: %s", i,
                             t->task_type, c.reason);
        }
        snprintf(agents[i], CHOOSE_NAME_MAX, "%s", c.agent);
    }
    cJSON_Delete(list);
    return 0;
}

/* Starts the run (or finds the one an earlier attempt started). */
static int start(struct wait *wt, bool *reused, struct task_outcome *out)
{
    char agents[PLAN_MAX_STEPS][CHOOSE_NAME_MAX];
    const char *names[PLAN_MAX_STEPS];
    if (choose_agents(wt->ctx, wt->p, agents, out) < 0)
        return -1;
    for (int i = 0; i < wt->p->nsteps; i++)
        names[i] = agents[i];
    char key[48];
    snprintf(key, sizeof(key), "coord-%lld", wt->ctx->job_id);
    cJSON *body = cJSON_CreateObject();
    cJSON *def = wfbuild_definition(wt->p, names);
    if (body && def) {
        cJSON_AddItemToObject(body, "definition", def);
        cJSON_AddItemToObject(
            body, "input", wt->p->input ? cJSON_Duplicate(wt->p->input, 1) : cJSON_CreateObject());
        cJSON_AddStringToObject(body, "idempotencyKey", key);
    } else {
        cJSON_Delete(body);
        cJSON_Delete(def);
        body = NULL;
    }
    int status;
    wt->run = delegate_post(wt->ctx, "/api/workflows/runs", body, &status, out);
    if (!wt->run)
        return -1;
    *reused = status == 200;
    wt->run_id = (long long)json_number_or(wt->run, "id", 0);
    return wt->run_id > 0 ? 0 : task_fail(out, true, "the gateway answered a run without id");
}

static bool settled(const cJSON *run)
{
    return str_is(run, "status", "completed") || str_is(run, "status", "failed") ||
           str_is(run, "status", "cancelled");
}

/* The coordinator job was told to stop: when that is a cancel, the run is cancelled too. */
static int stopped(struct wait *wt, struct task_outcome *out)
{
    char path[96];
    int status;
    snprintf(path, sizeof(path), "/api/jobs/%lld", wt->ctx->job_id);
    cJSON *self = delegate_call(wt->ctx, "GET", path, NULL, &status, out);
    const cJSON *cancel = cJSON_GetObjectItemCaseSensitive(self, "cancelRequested");
    if (self && (str_is(self, "status", "cancelled") || cJSON_IsTrue(cancel))) {
        snprintf(path, sizeof(path), "/api/workflows/runs/%lld/cancel", wt->run_id);
        cJSON_Delete(delegate_call(wt->ctx, "POST", path, "{}", &status, out));
        log_info("coordinator: job %lld cancelled: cancelled workflow run %lld (HTTP %d)",
                 wt->ctx->job_id, wt->run_id, status);
    }
    cJSON_Delete(self);
    return task_fail(out, true, "stopped while waiting for workflow run %lld", wt->run_id);
}

/* The running step whose wait ends first (-1: none has a job); steps seen running for the
 * first time start their wait now. */
static int next_step(struct wait *wt)
{
    int best = -1;
    double now = clock_now();
    for (int i = 0; i < wt->p->nsteps; i++) {
        const cJSON *s = run_step(wt->run, wt->p->steps[i].name);
        if (!str_is(s, "status", "running") || !cJSON_IsNumber(cJSON_GetObjectItem(s, "jobId")))
            continue;
        struct watch *w = &wt->w[i];
        if (w->deadline == 0)
            w->deadline = now + wt->p->steps[i].timeout_s;
        if (w->timed_out) /* cancelled and waiting for its worker to notice */
            w->deadline = now + DELEGATE_SLICE_S;
        if (best < 0 || w->deadline < wt->w[best].deadline)
            best = i;
    }
    return best;
}

/* Cancels step i's job: its wait ran out. */
static void time_out(struct wait *wt, int i, long long job_id)
{
    char path[96];
    struct task_outcome scratch = {0};
    int status;
    snprintf(path, sizeof(path), "/api/jobs/%lld/cancel", job_id);
    cJSON_Delete(delegate_call(wt->ctx, "POST", path, "{}", &status, &scratch));
    if (status != 200 && status != 202)
        log_warn("coordinator: cancelling job %lld: %s", job_id, scratch.error);
    wt->w[i].timed_out = true;
    if (!wt->w[i].job_status[0])
        snprintf(wt->w[i].job_status, sizeof(wt->w[i].job_status), "%s", "pending");
}

/* Waits for step i's job for at most the rest of its wait, then reads the run again. */
static int wait_once(struct wait *wt, int i, struct task_outcome *out)
{
    const cJSON *s = run_step(wt->run, wt->p->steps[i].name);
    long long job_id = (long long)json_number_or(s, "jobId", 0);
    int slice = delegate_slice(wt->w[i].deadline - clock_now());
    char path[96];
    int status;
    if (slice == 0 && !wt->w[i].timed_out) {
        time_out(wt, i, job_id);
    } else {
        snprintf(path, sizeof(path), "/api/jobs/%lld?wait=%d", job_id, slice ? slice : 1);
        cJSON *job = delegate_call(wt->ctx, "GET", path, NULL, &status, out);
        if (!job && status != 404)
            return -1;
        if (job && json_string_or_null(job, "status"))
            snprintf(wt->w[i].job_status, sizeof(wt->w[i].job_status), "%s",
                     json_string_or_null(job, "status"));
        cJSON_Delete(job);
    }
    snprintf(path, sizeof(path), "/api/workflows/runs/%lld", wt->run_id);
    cJSON *run = delegate_call(wt->ctx, "GET", path, NULL, &status, out);
    if (!run)
        return -1;
    cJSON_Delete(wt->run);
    wt->run = run;
    return 0;
}

static int wait_run(struct wait *wt, struct task_outcome *out)
{
    long backoff = BACKOFF_MIN_MS;
    while (!settled(wt->run)) {
        if (task_should_stop(wt->ctx))
            return stopped(wt, out);
        int i = next_step(wt);
        int rc;
        if (i >= 0) {
            rc = wait_once(wt, i, out);
            backoff = BACKOFF_MIN_MS;
        } else { /* nothing running (a paused run): read it again after a while */
            task_sleep(wt->ctx, backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            char path[96];
            int status;
            snprintf(path, sizeof(path), "/api/workflows/runs/%lld", wt->run_id);
            cJSON *run = delegate_call(wt->ctx, "GET", path, NULL, &status, out);
            rc = run ? 0 : -1;
            if (run) {
                cJSON_Delete(wt->run);
                wt->run = run;
            }
        }
        if (rc < 0) {
            if (!out->retryable)
                return -1;
            log_warn("coordinator: waiting for workflow run %lld: %s; trying again", wt->run_id,
                     out->error);
            task_sleep(wt->ctx, 1000);
        }
    }
    return 0;
}

/* Milliseconds from the step's start (or queueing) to its finish; 0 when unknown. */
static long long duration_ms(const cJSON *s)
{
    const char *from = json_string_or_null(s, "startedAt");
    const char *to = json_string_or_null(s, "finishedAt");
    double a, b;
    if (!from)
        from = json_string_or_null(s, "queuedAt");
    if (!from || !to || isotime_parse(from, &a) < 0 || isotime_parse(to, &b) < 0 || b < a)
        return 0;
    return (long long)((b - a) * 1e3);
}

/* The result entry of step i; *ok false when it did not complete (skipped counts as ok). */
static cJSON *step_entry(const struct wait *wt, int i, bool *ok)
{
    const struct plan_step *st = &wt->p->steps[i];
    const cJSON *s = run_step(wt->run, st->name);
    const char *status = s ? json_string_or_null(s, "status") : NULL;
    const cJSON *job = s ? cJSON_GetObjectItemCaseSensitive(s, "jobId") : NULL;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", st->name);
    *ok = status && (strcmp(status, "completed") == 0 || strcmp(status, "skipped") == 0);
    if (!status || strcmp(status, "skipped") == 0 || !cJSON_IsNumber(job)) {
        /* Never started: its `when` was false, or the run failed before it. */
        cJSON_AddStringToObject(e, "status", "skipped");
        return e;
    }
    cJSON_AddStringToObject(e, "agent", json_string_or_null(s, "agent"));
    cJSON_AddNumberToObject(e, "jobId", job->valuedouble);
    bool timed_out = wt->w[i].timed_out && strcmp(status, "completed") != 0;
    cJSON_AddStringToObject(e, "status", timed_out ? "timed_out" : status);
    if (strcmp(status, "completed") == 0) {
        const cJSON *output = cJSON_GetObjectItemCaseSensitive(s, "output");
        cJSON_AddItemToObject(e, "result",
                              output ? cJSON_Duplicate(output, 1) : cJSON_CreateNull());
    } else if (timed_out) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "job %lld did not finish within %d s (it was %s); it was cancelled",
                 (long long)job->valuedouble, st->timeout_s, wt->w[i].job_status);
        cJSON_AddStringToObject(e, "error", msg);
    } else {
        const char *error = json_string_or_null(s, "error");
        cJSON_AddStringToObject(e, "error", error ? error : status);
    }
    cJSON_AddNumberToObject(e, "durationMs", (double)duration_ms(s));
    return e;
}

static cJSON *result(const struct wait *wt, bool reused)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *steps = cJSON_AddArrayToObject(r, "steps");
    bool all_ok = true, ok = false;
    cJSON *last = NULL;
    for (int i = 0; i < wt->p->nsteps; i++) {
        last = step_entry(wt, i, &ok);
        cJSON_AddItemToArray(steps, last);
        all_ok = all_ok && ok;
    }
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(last, "result");
    cJSON_AddItemToObject(r, "output", output ? cJSON_Duplicate(output, 1) : cJSON_CreateNull());
    const char *run_status = json_string_or_null(wt->run, "status");
    const char *status = all_ok && str_is(wt->run, "status", "completed") ? "completed"
                         : str_is(wt->run, "status", "cancelled")         ? "cancelled"
                                                                          : "failed";
    cJSON_AddStringToObject(r, "status", status);
    cJSON_AddNumberToObject(r, "runId", (double)wt->run_id);
    cJSON_AddStringToObject(r, "runStatus", run_status ? run_status : "unknown");
    const char *error = json_string_or_null(wt->run, "error");
    if (error)
        cJSON_AddStringToObject(r, "error", error);
    cJSON_AddBoolToObject(r, "reused", reused);
    return r;
}

int wfrun_run(struct task_ctx *ctx, const struct plan *p, struct task_outcome *out)
{
    struct wait *wt = calloc(1, sizeof(*wt));
    if (!wt)
        return task_fail(out, true, "out of memory");
    wt->ctx = ctx;
    wt->p = p;
    bool reused = false;
    int rc = start(wt, &reused, out);
    if (rc == 0)
        rc = wait_run(wt, out);
    if (rc == 0)
        out->result = result(wt, reused);
    cJSON_Delete(wt->run);
    free(wt);
    return rc;
}
