/* choose — the delegation target: named agent, capability match or built-in map, then the
 * least loaded agent that is not offline (see choose.h). */
#include "worker/agents/coordinator/choose.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *task_type, *agent;
} default_agents[] = {
    {"analyze_code", "code_analyzer"},
    {"detect_bugs", "code_analyzer"},
    {"suggest_optimizations", "code_analyzer"},
    {"process_data", "data_processor"},
    {"validate_data", "data_processor"},
    {"transform_data", "data_processor"},
    {"learn_from_feedback", "learning"},
    {"identify_patterns", "learning"},
    {"optimize_performance", "learning"},
    {"health_check", "monitoring"},
    {"check_metrics", "monitoring"},
    {"send_alert", "monitoring"},
    {"delegate_task", "coordinator"},
    {"coordinate_workflow", "coordinator"},
};

const char *choose_default_agent(const char *task_type)
{
    for (size_t i = 0; task_type && i < sizeof(default_agents) / sizeof(default_agents[0]); i++)
        if (strcmp(default_agents[i].task_type, task_type) == 0)
            return default_agents[i].agent;
    return NULL;
}

static void reason_add(struct choice *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends to out->reason; a reason too long for the buffer ends in "...". */
static void reason_add(struct choice *out, const char *fmt, ...)
{
    size_t len = strlen(out->reason);
    if (len >= sizeof(out->reason) - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out->reason + len, sizeof(out->reason) - len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n >= sizeof(out->reason) - len)
        memcpy(out->reason + sizeof(out->reason) - 4, "...", 4);
}

static const char *str_of(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* pending + running from the entry's "jobs" object (missing counts are 0). */
static long queue_of(const cJSON *entry)
{
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(entry, "jobs");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(jobs, "pending");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(jobs, "running");
    return (cJSON_IsNumber(p) ? (long)p->valuedouble : 0) +
           (cJSON_IsNumber(r) ? (long)r->valuedouble : 0);
}

static bool has_capability(const cJSON *entry, const char *capability)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(
                              entry, "capabilities")) if (cJSON_IsString(c) &&
                                                          strcmp(c->valuestring, capability) ==
                                                              0) return true;
    return false;
}

static bool is_offline(const cJSON *entry)
{
    const char *status = str_of(entry, "status");
    return status && strcmp(status, "offline") == 0;
}

int choose_agent(const cJSON *agents, const char *task_type, const char *agent,
                 const char *capability, struct choice *out)
{
    memset(out, 0, sizeof(*out));
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(agents, "agents");
    const char *wanted = agent; /* an exact name, or NULL when matching by capability */
    if (agent) {
        reason_add(out, "named agent %s: ", agent);
    } else if (capability) {
        reason_add(out, "agents with capability %s: ", capability);
    } else {
        wanted = choose_default_agent(task_type);
        if (!wanted) {
            reason_add(out, "no agent or capability given, and task type '%s' has no default agent",
                       task_type ? task_type : "");
            return -1;
        }
        reason_add(out, "task type %s goes to %s: ", task_type, wanted);
    }

    const cJSON *best = NULL, *e;
    long best_queue = 0;
    int seen = 0;
    cJSON_ArrayForEach(e, list)
    {
        const char *name = str_of(e, "agent_name");
        if (!name || (wanted ? strcmp(name, wanted) != 0 : !has_capability(e, capability)))
            continue;
        long queue = queue_of(e);
        /* An agent asked for by name is used even when offline: its jobs wait for it. */
        bool skip = !agent && is_offline(e);
        reason_add(out, "%s%s (queue %ld%s)", seen++ ? ", " : "", name, queue,
                   skip ? ", offline" : "");
        if (skip)
            continue;
        if (!best || queue < best_queue ||
            (queue == best_queue && strcmp(name, str_of(best, "agent_name")) < 0)) {
            best = e;
            best_queue = queue;
        }
    }
    if (!best) {
        if (!seen)
            reason_add(out, "none registered");
        else
            reason_add(out, "; every one is offline");
        return -1;
    }
    snprintf(out->agent, sizeof(out->agent), "%s", str_of(best, "agent_name"));
    if (seen > 1)
        reason_add(out, "; chose %s (smallest queue)", out->agent);
    return 0;
}
