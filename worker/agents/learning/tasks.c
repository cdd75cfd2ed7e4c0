/* tasks — learn_from_feedback (a 'learning' memory plus feedback statistics in
 * the rated agent's state), identify_patterns and optimize_performance (both
 * read GET /api/stats/jobs and explain themselves with its numbers). Bad input
 * fails without retry, an unreachable gateway with retry. */
#include "worker/agents/learning/tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/json.h"
#include "worker/agents/learning/insights.h"

#define WINDOW_DEFAULT 3600
#define WINDOW_MAX 2592000
#define NAME_MAX_LEN 100
#define COMMENT_MAX 5000

static int bad_field(struct task_outcome *out, const struct field_error *err)
{
    return task_fail(out, false, "data.%s", err->message);
}

/* --- learn_from_feedback --- */

/* Stores the feedback as a 'learning' memory of agent; returns its id, or 0
 * (out filled). */
static double store_memory(struct task_ctx *ctx, const char *agent, const char *task, long job_id,
                           const struct feedback *f, const char *comment, int importance,
                           struct task_outcome *out)
{
    int outcome = feedback_outcome(f);
    const char *word = outcome == 1 ? "success" : outcome == 0 ? "failure" : "neutral";
    char content[COMMENT_MAX + 400], rating[32] = "";
    if (f->rating > 0)
        snprintf(rating, sizeof(rating), "rating %d/5, ", f->rating);
    snprintf(content, sizeof(content), "Feedback on %s%s%s: %s%s%s%s", agent, task ? "/" : "",
             task ? task : "", rating, word, comment ? ". " : "", comment ? comment : "");
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "content", content);
    cJSON *meta = cJSON_AddObjectToObject(doc, "metadata");
    cJSON_AddStringToObject(meta, "agentName", agent);
    cJSON_AddStringToObject(meta, "memoryType", "learning");
    cJSON_AddNumberToObject(meta, "importance", importance);
    cJSON *tags = cJSON_AddArrayToObject(meta, "tags");
    cJSON_AddItemToArray(tags, cJSON_CreateString("feedback"));
    cJSON_AddItemToArray(tags, cJSON_CreateString(word));
    if (task)
        cJSON_AddItemToArray(tags, cJSON_CreateString(task));
    if (f->rating > 0) {
        char tag[24];
        snprintf(tag, sizeof(tag), "rating-%d", f->rating);
        cJSON_AddItemToArray(tags, cJSON_CreateString(tag));
        cJSON_AddNumberToObject(meta, "rating", f->rating);
    }
    if (f->success >= 0)
        cJSON_AddBoolToObject(meta, "success", f->success);
    if (task)
        cJSON_AddStringToObject(meta, "taskType", task);
    if (job_id > 0)
        cJSON_AddNumberToObject(meta, "jobId", (double)job_id);
    cJSON_AddStringToObject(meta, "source", ctx->agent);
    int status;
    cJSON *stored = task_gateway_json(ctx, "POST", "/api/documents", doc, &status, out);
    cJSON_Delete(doc);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(stored, "id");
    double memory_id = status == 201 && cJSON_IsNumber(id) ? id->valuedouble : 0;
    if (status && memory_id <= 0)
        task_refused(out, "storing the feedback memory (POST /api/documents)", status, stored);
    cJSON_Delete(stored);
    return memory_id;
}

int learning_feedback_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct field_error err;
    const cJSON *data = task_data(payload);
    const char *agent = NULL, *task = NULL, *comment = NULL;
    long job_id = 0, rating = 0;
    bool success = false;
    int has_success;
    if (json_get_string(data, "agentName", true, 1, NAME_MAX_LEN, &agent, &err) < 0 ||
        json_get_string(data, "taskType", false, 1, NAME_MAX_LEN, &task, &err) < 0 ||
        json_get_int(data, "jobId", false, 1, 0x7fffffffffffffffL, &job_id, &err) < 0 ||
        json_get_int(data, "rating", false, 1, 5, &rating, &err) < 0 ||
        (has_success = json_get_bool(data, "success", false, &success, &err)) < 0 ||
        json_get_string(data, "comment", false, 1, COMMENT_MAX, &comment, &err) < 0)
        return bad_field(out, &err);
    if (!json_is_identifier(agent, NAME_MAX_LEN))
        return task_fail(out, false,
                         "data.agentName must be 1 to %d characters of letters, "
                         "digits, '_', '.' or '-'",
                         NAME_MAX_LEN);
    if (rating == 0 && !has_success)
        return task_fail(out, false,
                         "data.rating (1 to 5) or data.success (true or false) is required");
    struct feedback f = {(int)rating, has_success ? success : -1};

    /* 1. The agent's current state (it must exist: feedback on an unknown agent
     * is a typo). */
    char path[160];
    snprintf(path, sizeof(path), "/api/agents/%s", agent);
    int status;
    cJSON *current = task_gateway_json(ctx, "GET", path, NULL, &status, out);
    if (status == 0)
        return -1;
    if (status == 404) {
        cJSON_Delete(current);
        return task_fail(out, false, "data.agentName: agent %s is not registered", agent);
    }
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(current, "state");
    if (status != 200 || !cJSON_IsObject(state)) {
        int rc =
            task_refused(out, "reading the agent state (GET /api/agents/:name)", status, current);
        cJSON_Delete(current);
        return rc;
    }

    /* 2. The memory. */
    int importance = feedback_importance(&f);
    double memory_id = store_memory(ctx, agent, task, job_id, &f, comment, importance, out);
    if (memory_id <= 0) {
        cJSON_Delete(current);
        return -1;
    }

    /* 3. The statistics: read, fold, write back with merge (last writer wins; see
     * docs). */
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(state, "feedback");
    cJSON *feedback = cJSON_IsObject(old) ? cJSON_Duplicate(old, true) : cJSON_CreateObject();
    cJSON_Delete(current);
    cJSON *put = cJSON_CreateObject(), *st = put ? cJSON_AddObjectToObject(put, "state") : NULL;
    if (!feedback || !st || feedback_merge(feedback, task, &f) < 0 ||
        !cJSON_AddItemToObject(st, "feedback", feedback)) {
        if (!st || !cJSON_GetObjectItemCaseSensitive(st, "feedback"))
            cJSON_Delete(feedback);
        cJSON_Delete(put);
        return task_fail(out, true, "out of memory");
    }
    cJSON_AddBoolToObject(put, "merge", true);
    cJSON *updated = task_gateway_json(ctx, "PUT", path, put, &status, out);
    cJSON_Delete(updated);
    if (status != 200) {
        cJSON_Delete(put);
        return status ? task_refused(out, "updating the agent state (PUT /api/agents/:name)",
                                     status, NULL)
                      : -1;
    }

    int outcome = feedback_outcome(&f);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "agentName", agent);
    if (task)
        cJSON_AddStringToObject(r, "taskType", task);
    else
        cJSON_AddNullToObject(r, "taskType");
    cJSON_AddStringToObject(r, "outcome",
                            outcome == 1   ? "success"
                            : outcome == 0 ? "failure"
                                           : "neutral");
    cJSON_AddNumberToObject(r, "memoryId", memory_id);
    cJSON_AddNumberToObject(r, "importance", importance);
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(feedback, "byTaskType");
    cJSON_AddItemToObject(
        r, "taskStats",
        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(by, task ? task : "unspecified"), true));
    cJSON_AddItemToObject(
        r, "totals", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(feedback, "total"), true));
    char summary[400];
    snprintf(summary, sizeof(summary),
             "stored %s feedback on %s%s%s as memory %.0f (importance %d) and "
             "updated its "
             "statistics",
             outcome == 1   ? "positive"
             : outcome == 0 ? "negative"
                            : "neutral",
             agent, task ? "/" : "", task ? task : "", memory_id, importance);
    cJSON_AddStringToObject(r, "summary", summary);
    cJSON_Delete(put);
    out->result = r;
    return 0;
}

/* --- identify_patterns and optimize_performance --- */

/* Reads data.{window, agent, minSamples} and GET /api/stats/jobs. Returns the
 * answer (caller frees) or NULL (out filled). */
static cJSON *read_stats(struct task_ctx *ctx, const cJSON *data, long *window, const char **agent,
                         long *min_samples, struct task_outcome *out)
{
    struct field_error err;
    *window = WINDOW_DEFAULT;
    *agent = NULL;
    *min_samples = 1;
    if (json_get_int(data, "window", false, 1, WINDOW_MAX, window, &err) < 0 ||
        json_get_string(data, "agent", false, 1, NAME_MAX_LEN, agent, &err) < 0 ||
        json_get_int(data, "minSamples", false, 1, 1000000, min_samples, &err) < 0)
        return bad_field(out, &err), NULL;
    if (*agent && !json_is_identifier(*agent, NAME_MAX_LEN))
        return task_fail(out, false, "data.agent must be letters, digits, '_', '.' or '-'"), NULL;
    char path[200];
    snprintf(path, sizeof(path), "/api/stats/jobs?window=%ld%s%s", *window, *agent ? "&agent=" : "",
             *agent ? *agent : "");
    int status;
    cJSON *stats = task_gateway_json(ctx, "GET", path, NULL, &status, out);
    if (status == 0)
        return NULL;
    if (status != 200 || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(stats, "overall"))) {
        task_refused(out, "GET /api/stats/jobs", status, stats);
        cJSON_Delete(stats);
        return NULL;
    }
    return stats;
}

static void add_scope(cJSON *r, long window, const char *agent)
{
    cJSON_AddNumberToObject(r, "window", (double)window);
    if (agent)
        cJSON_AddStringToObject(r, "agent", agent);
    else
        cJSON_AddNullToObject(r, "agent");
}

/* A projection of each byTask group: agent, taskType and the named members. */
static cJSON *project(const cJSON *stats, const char *const *names)
{
    cJSON *list = cJSON_CreateArray();
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(stats, "byTask"))
    {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(list, o);
        cJSON_AddItemToObject(o, "agent",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(g, "agent"), true));
        cJSON_AddItemToObject(
            o, "taskType", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(g, "taskType"), true));
        for (const char *const *n = names; *n; n++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(g, *n);
            const cJSON *c =
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g, "counts"), *n);
            cJSON_AddItemToObject(o, *n, cJSON_Duplicate(v ? v : c, true));
        }
    }
    return list;
}

static const char *const rate_fields[] = {"total",       "finished", "failed",
                                          "failureRate", "retries",  NULL};
static const char *const duration_fields[] = {"queueWaitMs", "runTimeMs", NULL};

int learning_patterns_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    long window, min_samples;
    const char *agent;
    cJSON *stats = read_stats(ctx, task_data(payload), &window, &agent, &min_samples, out);
    if (!stats)
        return -1;
    struct advice_limits lim = {.min_samples = min_samples};
    cJSON *patterns = learning_patterns(stats, &lim);
    cJSON *r = cJSON_CreateObject();
    if (!patterns || !r) {
        cJSON_Delete(patterns), cJSON_Delete(r), cJSON_Delete(stats);
        return task_fail(out, true, "out of memory");
    }
    add_scope(r, window, agent);
    cJSON_AddItemToObject(r, "failureRates", project(stats, rate_fields));
    cJSON_AddItemToObject(
        r, "commonErrors",
        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(
                            cJSON_GetObjectItemCaseSensitive(stats, "overall"), "topErrors"),
                        true));
    cJSON_AddItemToObject(r, "durations", project(stats, duration_fields));
    int n = cJSON_GetArraySize(patterns);
    const cJSON *first = cJSON_GetArrayItem(patterns, 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(first, "message");
    cJSON_AddItemToObject(r, "patterns", patterns);
    char summary[900];
    snprintf(summary, sizeof(summary), "%d pattern%s in the last %lds%s%.700s", n,
             n == 1 ? "" : "s", window, cJSON_IsString(msg) ? "; first: " : "",
             cJSON_IsString(msg) ? msg->valuestring : "");
    cJSON_AddStringToObject(r, "summary", summary);
    cJSON_Delete(stats);
    out->result = r;
    return 0;
}

int learning_optimize_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct field_error err;
    const cJSON *data = task_data(payload);
    long lease = config_int(task_config(ctx), CFG_LEASE), wait_ms = 5000, rate_pct = 25;
    if (json_get_int(data, "leaseSeconds", false, 1, 86400, &lease, &err) < 0 ||
        json_get_int(data, "maxQueueWaitMs", false, 1, 86400000L, &wait_ms, &err) < 0 ||
        json_get_int(data, "maxFailurePercent", false, 1, 100, &rate_pct, &err) < 0)
        return bad_field(out, &err);
    long window, min_samples;
    const char *agent;
    cJSON *stats = read_stats(ctx, data, &window, &agent, &min_samples, out);
    if (!stats)
        return -1;
    struct advice_limits lim = {.lease_s = (double)lease,
                                .lease_ratio = 0.8,
                                .max_wait_p90_ms = (double)wait_ms,
                                .max_failure_rate = (double)rate_pct / 100,
                                .min_samples = min_samples};
    cJSON *recs = learning_recommendations(stats, &lim);
    cJSON *r = cJSON_CreateObject();
    if (!recs || !r) {
        cJSON_Delete(recs), cJSON_Delete(r), cJSON_Delete(stats);
        return task_fail(out, true, "out of memory");
    }
    add_scope(r, window, agent);
    cJSON *used = cJSON_AddObjectToObject(r, "limits");
    cJSON_AddNumberToObject(used, "leaseSeconds", (double)lease);
    cJSON_AddNumberToObject(used, "leaseRatio", lim.lease_ratio);
    cJSON_AddNumberToObject(used, "maxQueueWaitMs", (double)wait_ms);
    cJSON_AddNumberToObject(used, "maxFailureRate", lim.max_failure_rate);
    cJSON_AddNumberToObject(used, "minSamples", (double)min_samples);
    int n = cJSON_GetArraySize(recs);
    cJSON_AddItemToObject(r, "recommendations", recs);
    char summary[200];
    snprintf(summary, sizeof(summary), "%d recommendation%s from the jobs of the last %lds", n,
             n == 1 ? "" : "s", window);
    cJSON_AddStringToObject(r, "summary", summary);
    cJSON_Delete(stats);
    out->result = r;
    return 0;
}
