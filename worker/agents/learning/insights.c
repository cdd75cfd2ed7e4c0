/* insights — feedback statistics, patterns and recommendations for the learning
 * agent (see insights.h). Pure functions over cJSON. */
#include "worker/agents/learning/insights.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

int feedback_outcome(const struct feedback *f)
{
    if (f->success >= 0)
        return f->success ? 1 : 0;
    if (f->rating >= 4)
        return 1;
    if (f->rating >= 1 && f->rating <= 2)
        return 0;
    return -1;
}

int feedback_importance(const struct feedback *f)
{
    if (f->rating >= 1 && f->rating <= 5)
        return 4 + 2 * abs(f->rating - 3);
    return feedback_outcome(f) == 0 ? 7 : 5;
}

/* obj[name] as an object, replaced by a new one when absent or of another type.
 */
static cJSON *child_object(cJSON *obj, const char *name)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (cJSON_IsObject(c))
        return c;
    c = cJSON_CreateObject();
    if (!c)
        return NULL;
    if (cJSON_GetObjectItemCaseSensitive(obj, name)
            ? !cJSON_ReplaceItemInObjectCaseSensitive(obj, name, c)
            : !cJSON_AddItemToObject(obj, name, c)) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

static void set_num(cJSON *obj, const char *name, double v)
{
    cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (cJSON_IsNumber(n))
        cJSON_SetNumberValue(n, v);
    else if (n)
        cJSON_ReplaceItemInObjectCaseSensitive(obj, name, cJSON_CreateNumber(v));
    else
        cJSON_AddNumberToObject(obj, name, v);
}

static void set_rate(cJSON *obj, const char *name, double num_, double den)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
    if (den > 0)
        cJSON_AddNumberToObject(obj, name, round(num_ / den * 10000) / 10000);
    else
        cJSON_AddNullToObject(obj, name);
}

static int fold(cJSON *s, const struct feedback *f)
{
    if (!s)
        return -1;
    int outcome = feedback_outcome(f);
    double count = json_number_or(s, "count", 0) + 1,
           successes = json_number_or(s, "successes", 0) + (outcome == 1);
    double failures = json_number_or(s, "failures", 0) + (outcome == 0);
    double ratings = json_number_or(s, "ratings", 0) + (f->rating > 0),
           sum = json_number_or(s, "ratingSum", 0) + f->rating;
    set_num(s, "count", count);
    set_num(s, "successes", successes);
    set_num(s, "failures", failures);
    set_num(s, "ratings", ratings);
    set_num(s, "ratingSum", sum);
    set_rate(s, "averageRating", sum, ratings);
    set_rate(s, "successRate", successes, successes + failures);
    return 0;
}

int feedback_merge(cJSON *feedback, const char *task, const struct feedback *f)
{
    cJSON *by = child_object(feedback, "byTaskType");
    if (fold(child_object(feedback, "total"), f) < 0 || !by)
        return -1;
    return fold(child_object(by, task ? task : "unspecified"), f);
}

/* --- patterns and recommendations --- */

static double sub(const cJSON *g, const char *obj, const char *name)
{
    return json_number_or(cJSON_GetObjectItemCaseSensitive(g, obj), name, -1);
}

static const char *top_error(const cJSON *g)
{
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g, "topErrors"), 0);
    return json_string_or_null(first, "error");
}

static void scope_of(const cJSON *g, char *buf, size_t len)
{
    const char *a = json_string_or_null(g, "agent"), *t = json_string_or_null(g, "taskType");
    snprintf(buf, len, "%s/%s", a ? a : "?", t && t[0] ? t : "(no taskType)");
}

/* Appends {kind|action fields...}: the common head of a pattern or
 * recommendation. */
static cJSON *item(cJSON *list, const cJSON *g, const char *key, const char *value)
{
    cJSON *it = cJSON_CreateObject();
    if (!it || !cJSON_AddItemToArray(list, it))
        return cJSON_Delete(it), NULL;
    cJSON_AddStringToObject(it, key, value);
    const char *a = json_string_or_null(g, "agent"), *t = json_string_or_null(g, "taskType");
    if (a)
        cJSON_AddStringToObject(it, "agent", a);
    if (t)
        cJSON_AddStringToObject(it, "taskType", t);
    return it;
}

static cJSON *evidence(cJSON *it) { return it ? cJSON_AddObjectToObject(it, "evidence") : NULL; }

/* Sorts list (an array of objects) by the number key descending, keeping ties
 * in order: an insertion sort over the detached items, which are then appended
 * back. */
static void sort_desc(cJSON *list, const char *key)
{
    int n = cJSON_GetArraySize(list);
    if (n < 2)
        return;
    cJSON **items = calloc((size_t)n, sizeof(*items));
    if (!items)
        return; /* unsorted, but complete */
    for (int i = 0; i < n; i++) {
        cJSON *it = cJSON_DetachItemFromArray(list, 0);
        int j = i;
        while (j > 0 && json_number_or(items[j - 1], key, 0) < json_number_or(it, key, 0)) {
            items[j] = items[j - 1];
            j--;
        }
        items[j] = it;
    }
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(list, items[i]);
    free(items);
}

cJSON *learning_patterns(const cJSON *stats, const struct advice_limits *lim)
{
    cJSON *list = cJSON_CreateArray();
    if (!list)
        return NULL;
    const cJSON *g;
    char scope[256], msg[700];
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(stats, "byTask"))
    {
        double finished = json_number_or(g, "finished", 0),
               failed = json_number_or(g, "failed", -1), total = json_number_or(g, "total", 0);
        const cJSON *counts = cJSON_GetObjectItemCaseSensitive(g, "counts");
        if (failed < 0)
            failed = json_number_or(counts, "failed", 0);
        double rate = json_number_or(g, "failureRate", 0),
               retries = json_number_or(g, "retries", 0);
        scope_of(g, scope, sizeof(scope));
        if (failed > 0 && finished >= (double)lim->min_samples) {
            const char *err = top_error(g);
            snprintf(msg, sizeof(msg),
                     "%s fails %.0f%% of the time (%.0f of %.0f finished)%s%.300s%s", scope,
                     rate * 100, failed, finished, err ? ", mostly with \"" : "", err ? err : "",
                     err ? "\"" : "");
            cJSON *it = item(list, g, "kind", "failure_rate"), *ev = evidence(it);
            cJSON_AddNumberToObject(it, "score", round(rate * 10000) / 10000);
            cJSON_AddStringToObject(it, "message", msg);
            cJSON_AddNumberToObject(ev, "failureRate", rate);
            cJSON_AddNumberToObject(ev, "failed", failed);
            cJSON_AddNumberToObject(ev, "finished", finished);
            if (err)
                cJSON_AddStringToObject(ev, "topError", err);
        }
        if (retries > 0 && total > 0) {
            double score = retries / total > 1 ? 0.5 : retries / total * 0.5;
            snprintf(msg, sizeof(msg), "%s needed %.0f retr%s across %.0f job%s", scope, retries,
                     retries == 1 ? "y" : "ies", total, total == 1 ? "" : "s");
            cJSON *it = item(list, g, "kind", "retries"), *ev = evidence(it);
            cJSON_AddNumberToObject(it, "score", round(score * 10000) / 10000);
            cJSON_AddStringToObject(it, "message", msg);
            cJSON_AddNumberToObject(ev, "retries", retries);
            cJSON_AddNumberToObject(ev, "total", total);
        }
        double p50 = sub(g, "runTimeMs", "p50"), p99 = sub(g, "runTimeMs", "p99");
        if (p50 > 0 && p99 >= 3 * p50) {
            snprintf(msg, sizeof(msg),
                     "%s has a slow tail: run time p99 %.0f ms is %.1fx its median "
                     "%.0f ms",
                     scope, p99, p99 / p50, p50);
            cJSON *it = item(list, g, "kind", "slow_tail"), *ev = evidence(it);
            cJSON_AddNumberToObject(it, "score", 0.25);
            cJSON_AddStringToObject(it, "message", msg);
            cJSON_AddNumberToObject(ev, "p50RunTimeMs", p50);
            cJSON_AddNumberToObject(ev, "p99RunTimeMs", p99);
        }
    }
    sort_desc(list, "score");
    int rank = 1;
    cJSON *it;
    cJSON_ArrayForEach(it, list) cJSON_AddNumberToObject(it, "rank", rank++);
    return list;
}

static const char *const priorities[] = {"high", "medium", "low"};

static cJSON *recommend(cJSON *list, const cJSON *g, const char *action, int prio,
                        const char *reason)
{
    cJSON *it = item(list, g, "action", action);
    if (it) {
        cJSON_AddStringToObject(it, "priority", priorities[prio]);
        cJSON_AddNumberToObject(it, "rank_", 3 - prio); /* sort key, removed before returning */
        cJSON_AddStringToObject(it, "reason", reason);
    }
    return it;
}

cJSON *learning_recommendations(const cJSON *stats, const struct advice_limits *lim)
{
    cJSON *list = cJSON_CreateArray();
    if (!list)
        return NULL;
    const cJSON *g;
    char scope[256], msg[700];
    double lease_ms = lim->lease_s * 1000;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(stats, "byTask"))
    {
        scope_of(g, scope, sizeof(scope));
        double p99 = sub(g, "runTimeMs", "p99");
        if (lease_ms > 0 && p99 >= lim->lease_ratio * lease_ms) {
            snprintf(msg, sizeof(msg),
                     "%s run time p99 is %.0f ms, %.0f%% of the %.0f s lease: raise "
                     "its timeoutSeconds",
                     scope, p99, p99 / lease_ms * 100, lim->lease_s);
            cJSON *it = recommend(list, g, "raise_timeout", p99 >= lease_ms ? 0 : 1, msg),
                  *ev = evidence(it);
            cJSON_AddNumberToObject(ev, "p99RunTimeMs", p99);
            cJSON_AddNumberToObject(ev, "leaseSeconds", lim->lease_s);
            cJSON *s = it ? cJSON_AddObjectToObject(it, "suggestion") : NULL;
            cJSON_AddNumberToObject(s, "timeoutSeconds", ceil(p99 * 2 / 1000));
        }
        const cJSON *counts = cJSON_GetObjectItemCaseSensitive(g, "counts");
        double failed = json_number_or(counts, "failed", 0),
               retries = json_number_or(g, "retries", -1);
        double finished = json_number_or(g, "finished", 0),
               rate = json_number_or(g, "failureRate", 0);
        if (failed > 0 && retries == 0) {
            snprintf(msg, sizeof(msg),
                     "%s: all %.0f failures ended on their first attempt "
                     "(non-retryable errors): lower maxAttempts to 1",
                     scope, failed);
            cJSON *it = recommend(list, g, "lower_max_attempts", 2, msg), *ev = evidence(it);
            cJSON_AddNumberToObject(ev, "failed", failed);
            cJSON_AddNumberToObject(ev, "retries", 0);
            cJSON *s = it ? cJSON_AddObjectToObject(it, "suggestion") : NULL;
            cJSON_AddNumberToObject(s, "maxAttempts", 1);
        }
        if (failed > 0 && finished >= (double)lim->min_samples && rate >= lim->max_failure_rate) {
            const char *err = top_error(g);
            snprintf(msg, sizeof(msg),
                     "%s fails %.0f%% of the time%s%.300s%s: fix the cause before "
                     "adding capacity",
                     scope, rate * 100, err ? ", mostly with \"" : "", err ? err : "",
                     err ? "\"" : "");
            cJSON *it = recommend(list, g, "fix_failures", 0, msg), *ev = evidence(it);
            cJSON_AddNumberToObject(ev, "failureRate", rate);
            cJSON_AddNumberToObject(ev, "failed", failed);
            cJSON_AddNumberToObject(ev, "finished", finished);
            if (err)
                cJSON_AddStringToObject(ev, "topError", err);
        }
    }
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(stats, "byAgent"))
    {
        double p90 = sub(g, "queueWaitMs", "p90");
        if (lim->max_wait_p90_ms > 0 && p90 >= lim->max_wait_p90_ms) {
            const char *a = json_string_or_null(g, "agent");
            snprintf(msg, sizeof(msg),
                     "%s jobs wait %.0f ms in the queue at p90 (limit %.0f ms): add "
                     "workers",
                     a ? a : "?", p90, lim->max_wait_p90_ms);
            cJSON *it =
                recommend(list, g, "add_workers", p90 >= 2 * lim->max_wait_p90_ms ? 0 : 1, msg);
            cJSON *ev = evidence(it);
            cJSON_AddNumberToObject(ev, "p90QueueWaitMs", p90);
            cJSON_AddNumberToObject(ev, "thresholdMs", lim->max_wait_p90_ms);
            cJSON_AddNumberToObject(
                ev, "pending",
                json_number_or(cJSON_GetObjectItemCaseSensitive(g, "counts"), "pending", 0));
            cJSON *s = it ? cJSON_AddObjectToObject(it, "suggestion") : NULL;
            cJSON_AddNumberToObject(s, "addProcesses", 1);
        }
    }
    sort_desc(list, "rank_");
    cJSON *it;
    cJSON_ArrayForEach(it, list) cJSON_DeleteItemFromObjectCaseSensitive(it, "rank_");
    return list;
}
