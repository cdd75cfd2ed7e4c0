/* tasks — running one job: picks the handler by payload.taskType (the built-ins ping,
 * inter_agent_message and send_message, or one of the agent's tasks), calls it, and turns
 * what it returns into the job's outcome.
 * Unknown task types fail without retry: another attempt cannot help. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/json_print.h"
#include "worker/runtime/runmsg.h"
#include "worker/runtime/shared.h"
#include "worker/runtime/sharedmem.h"

#define PING_SLEEP_MAX_MS 60000
#define STOP_CHECK_MS 20

bool task_should_stop(const struct task_ctx *ctx) { return *ctx->stop; }

bool task_sleep(const struct task_ctx *ctx, long ms)
{
    double end = clock_now() + (double)ms / 1000.0;
    for (;;) {
        if (task_should_stop(ctx))
            return false;
        double left = end - clock_now();
        if (left <= 0)
            return true;
        double step = left < STOP_CHECK_MS / 1000.0 ? left : STOP_CHECK_MS / 1000.0;
        struct timespec ts = {0, (long)(step * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
}

/* ping: {"taskType":"ping","sleepMs":N} — proves the path from queue to worker and back;
 * sleepMs (0..60000) stands in for real work. With "sharedCounter": {scope, scopeId, key}
 * it then adds 1 to that shared-memory counter (task_shared_add), as a workflow step that
 * counts its work would: its result's sharedCounter is the value its add wrote. Both are
 * read at the top level or, when neither is there, in data, where POST /agents/:name/task
 * and the coordinator put a task's fields. Its result
 * names the worker (the job row forgets it once the job is done) and echoes the job and attempt it
 * ran, so a result stored on the wrong job or from the wrong attempt shows; the agent and the times
 * are the row's own (targetAgent, startedAt, processedAt), and are not repeated. */
static int ping_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    long sleep_ms = 0;
    struct field_error err;
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(payload, "sleepMs") ||
                                cJSON_GetObjectItemCaseSensitive(payload, "sharedCounter")
                            ? payload
                            : task_data(payload);
    if (json_get_int(args, "sleepMs", false, 0, PING_SLEEP_MAX_MS, &sleep_ms, &err) < 0) {
        snprintf(out->error, sizeof(out->error), "%s", err.message);
        out->retryable = false;
        return -1;
    }
    cJSON *counter = NULL;
    const char *scope = NULL, *scope_id = NULL, *key = NULL;
    int has_counter = json_get_object(args, "sharedCounter", false, &counter, &err);
    if (has_counter > 0 &&
        (json_get_string(counter, "scope", true, 1, 20, &scope, &err) < 0 ||
         json_get_string(counter, "scopeId", true, 1, 200, &scope_id, &err) < 0 ||
         json_get_string(counter, "key", true, 1, 200, &key, &err) < 0))
        has_counter = field_error_prefix(&err, "sharedCounter.");
    if (has_counter < 0) {
        snprintf(out->error, sizeof(out->error), "%s", err.message);
        out->retryable = false;
        return -1;
    }
    if (sleep_ms > 0 && !task_sleep(ctx, sleep_ms)) {
        snprintf(out->error, sizeof(out->error), "stopped before the sleep ended");
        return -1;
    }
    double total = 0;
    if (counter && task_shared_add(ctx, scope, scope_id, key, 1, &total, out) < 0)
        return -1;
    cJSON *r = cJSON_CreateObject();
    if (!r) {
        snprintf(out->error, sizeof(out->error), "out of memory");
        out->retryable = true;
        return -1;
    }
    cJSON_AddBoolToObject(r, "pong", true);
    cJSON_AddStringToObject(r, "worker", ctx->worker);
    cJSON_AddNumberToObject(r, "jobId", (double)ctx->job_id);
    cJSON_AddNumberToObject(r, "attempt", ctx->attempt);
    cJSON_AddNumberToObject(r, "sleptMs", (double)sleep_ms);
    if (counter)
        cJSON_AddNumberToObject(r, "sharedCounter", total);
    out->result = r;
    return 0;
}

static task_fn find_task(const struct agent_def *agent, const char *type)
{
    if (strcmp(type, "ping") == 0)
        return ping_run;
    if (strcmp(type, "inter_agent_message") == 0)
        return message_task_run;
    if (strcmp(type, "send_message") == 0)
        return send_message_task_run;
    for (size_t i = 0; i < agent->ntasks; i++)
        if (strcmp(agent->tasks[i].name, type) == 0)
            return agent->tasks[i].run;
    return NULL;
}

static void describe_known(const struct agent_def *agent, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "ping, inter_agent_message, send_message");
    for (size_t i = 0; i < agent->ntasks && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, ", %s", agent->tasks[i].name);
}

void task_run(struct runtime *rt, struct job *job)
{
    struct task_ctx ctx = {rt->agent->name, rt->worker, job->id, job->attempt, &job->stop, rt};
    struct task_outcome out = {.result = NULL, .error = "", .retryable = true};
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(job->payload, "taskType");
    task_fn fn = cJSON_IsString(type) ? find_task(rt->agent, type->valuestring) : NULL;
    int rc;
    if (!fn) {
        char known[512];
        describe_known(rt->agent, known, sizeof(known));
        if (cJSON_IsString(type))
            snprintf(out.error, sizeof(out.error),
                     "unknown task '%.200s' for agent %s (it runs: %s)", type->valuestring,
                     rt->agent->name, known);
        else
            snprintf(out.error, sizeof(out.error),
                     "payload.taskType is missing or not a string (agent %s runs: %s)",
                     rt->agent->name, known);
        out.retryable = false;
        rc = -1;
    } else {
        rc = fn(&ctx, job->payload, &out);
    }
    if (rc == 0) {
        job->result = out.result ? json_print(out.result) : strdup("{}");
        if (!job->result) {
            snprintf(out.error, sizeof(out.error), "out of memory printing the task's result");
            out.retryable = true;
            rc = -1;
        }
    }
    cJSON_Delete(out.result);
    job->failed = rc != 0;
    job->retryable = out.retryable;
    if (rc != 0)
        job->error = strdup(out.error[0] ? out.error : "the task failed without saying why");
}
