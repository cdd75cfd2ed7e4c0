/* rules — health problems, metric alerts and webhook bookkeeping for the
 * monitoring agent (see rules.h). Pure functions over the gateway's JSON. */
#include "worker/agents/monitoring/rules.h"

#include <stdio.h>
#include <string.h>

#include "common/json.h"

static cJSON *problem(cJSON *list, const char *kind, const char *severity, const char *agent,
                      const char *msg)
{
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddItemToArray(list, p))
        return cJSON_Delete(p), NULL;
    cJSON_AddStringToObject(p, "kind", kind);
    cJSON_AddStringToObject(p, "severity", severity);
    if (agent)
        cJSON_AddStringToObject(p, "agent", agent);
    cJSON_AddStringToObject(p, "message", msg);
    return p;
}

cJSON *monitor_health_problems(const cJSON *report, long max_queue_depth)
{
    char msg[300];
    cJSON *list = cJSON_CreateArray();
    if (!list)
        return NULL;
    const cJSON *stale = cJSON_GetObjectItemCaseSensitive(report, "stale_agents"), *it;
    cJSON_ArrayForEach(it, stale)
    {
        if (!cJSON_IsString(it))
            continue;
        snprintf(msg, sizeof(msg), "agent %s stopped sending heartbeats but is not offline",
                 it->valuestring);
        problem(list, "stale_agent", "warning", it->valuestring, msg);
    }
    const cJSON *queue = cJSON_GetObjectItemCaseSensitive(report, "queue");
    double expired = json_number_or(queue, "expired_leases", 0);
    if (expired > 0) {
        snprintf(msg, sizeof(msg), "%.0f running job%s hold an expired lease", expired,
                 expired == 1 ? "" : "s");
        cJSON *p = problem(list, "expired_leases", "error", NULL, msg);
        if (p)
            cJSON_AddNumberToObject(p, "count", expired);
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(report, "agents"))
    {
        const char *name = json_string_or_null(it, "agent_name");
        double pending = json_number_or(cJSON_GetObjectItemCaseSensitive(it, "jobs"), "pending", 0);
        if (!name || pending <= (double)max_queue_depth)
            continue;
        snprintf(msg, sizeof(msg), "agent %s has %.0f pending jobs (more than %ld)", name, pending,
                 max_queue_depth);
        cJSON *p = problem(list, "queue_depth", "warning", name, msg);
        if (p) {
            cJSON_AddNumberToObject(p, "pending", pending);
            cJSON_AddNumberToObject(p, "threshold", (double)max_queue_depth);
        }
    }
    return list;
}

/* value as an alert shows it: a rate with 4 significant digits, milliseconds
 * whole. */
static void show(char *buf, size_t len, double value, bool ms)
{
    if (ms)
        snprintf(buf, len, "%.0f ms", value);
    else
        snprintf(buf, len, "%.4g", value);
}

static void alert(cJSON *list, const cJSON *group, const char *metric, double value,
                  double threshold, bool ms)
{
    const char *agent = json_string_or_null(group, "agent"),
               *task = json_string_or_null(group, "taskType");
    char scope[256], msg[512], v[64], t[64];
    if (agent && task)
        snprintf(scope, sizeof(scope), "%s/%s", agent, task);
    else
        snprintf(scope, sizeof(scope), "%s", agent ? agent : "overall");
    show(v, sizeof(v), value, ms);
    show(t, sizeof(t), threshold, ms);
    snprintf(msg, sizeof(msg), "%s %s is %s, above the threshold %s", scope, metric, v, t);
    cJSON *a = cJSON_CreateObject();
    if (!a || !cJSON_AddItemToArray(list, a)) {
        cJSON_Delete(a);
        return;
    }
    cJSON_AddStringToObject(a, "metric", metric);
    cJSON_AddStringToObject(a, "scope", scope);
    if (agent)
        cJSON_AddStringToObject(a, "agent", agent);
    if (task)
        cJSON_AddStringToObject(a, "taskType", task);
    cJSON_AddNumberToObject(a, "value", value);
    cJSON_AddNumberToObject(a, "threshold", threshold);
    cJSON_AddStringToObject(a, "severity", value >= 2 * threshold ? "critical" : "warning");
    cJSON_AddStringToObject(a, "message", msg);
}

static void check_group(cJSON *list, const cJSON *group, const struct metric_limits *limits)
{
    if (!cJSON_IsObject(group))
        return;
    double finished = json_number_or(group, "finished", 0);
    double rate = json_number_or(group, "failureRate", 0);
    if (limits->max_error_rate >= 0 && finished > 0 && rate > limits->max_error_rate)
        alert(list, group, "errorRate", rate, limits->max_error_rate, false);
    const cJSON *p99 = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(group, "runTimeMs"), "p99");
    if (limits->max_p99_ms >= 0 && cJSON_IsNumber(p99) && p99->valuedouble > limits->max_p99_ms)
        alert(list, group, "p99RunTimeMs", p99->valuedouble, limits->max_p99_ms, true);
}

cJSON *monitor_metric_alerts(const cJSON *stats, const struct metric_limits *limits)
{
    cJSON *list = cJSON_CreateArray();
    if (!list)
        return NULL;
    check_group(list, cJSON_GetObjectItemCaseSensitive(stats, "overall"), limits);
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(stats, "byTask"))
        check_group(list, g, limits);
    return list;
}

int monitor_webhooks_parse(const char *list, char urls[][WEBHOOK_URL_MAX], int max, int *bad)
{
    int n = 0;
    const char *p = list ? list : "";
    while (*p && n < max) {
        size_t len = strcspn(p, ",");
        const char *s = p, *e = p + len;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            size_t ulen = (size_t)(e - s);
            bool scheme = (ulen > 7 && strncmp(s, "http://", 7) == 0) ||
                          (ulen > 8 && strncmp(s, "https://", 8) == 0);
            if (!scheme || ulen >= WEBHOOK_URL_MAX) {
                *bad = n;
                return -1;
            }
            memcpy(urls[n], s, ulen);
            urls[n][ulen] = '\0';
            n++;
        }
        p += len + (p[len] == ',');
    }
    return n;
}

void monitor_webhook_schedule(struct backoff *b, long delays[WEBHOOK_TRIES - 1])
{
    for (int i = 0; i < WEBHOOK_TRIES - 1; i++)
        delays[i] = backoff_next(b);
}
