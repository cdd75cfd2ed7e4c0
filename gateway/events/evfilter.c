/* evfilter — parsing and matching event filters (see evfilter.h). */
#include "gateway/events/evfilter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seed 002's channels and the events each carries (docs/events.md lists them). agent-{id}
 * is the other form: every event of that agent. */
static const struct {
    const char *name;
    const char *patterns[4];
} channels[] = {
    {"agent-status", {"agent.*"}},
    {"agent-tasks", {"task.*", "job.*"}},
    {"agent-metrics", {"metrics.*"}},
    {"system-health", {"health.*", "alert", "alert.*"}},
    {"agent-updates", {"agent.*", "message.*", "memory.*"}},
};

static int fail(struct evfilter_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct evfilter_error *err, const char *field, const char *fmt, ...)
{
    err->field = field;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* 1..max characters of [A-Za-z0-9_.-] (a type, an agent name), optionally ending in '*' when
 * star (a type prefix). */
static bool is_name(const char *s, size_t len, size_t max, bool star)
{
    if (len == 0 || len > max + (star ? 1 : 0))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-' || (star && c == '*' && i == len - 1);
        if (!ok)
            return false;
    }
    return len <= max || s[len - 1] == '*';
}

static bool add_channel_pattern(struct evfilter *f, const char *p)
{
    for (int i = 0; i < f->nchannel; i++)
        if (strcmp(f->channel_patterns[i], p) == 0)
            return true;
    if (f->nchannel == EVFILTER_PATTERNS_MAX)
        return false;
    f->channel_patterns[f->nchannel++] = p;
    return true;
}

static int set_agent(struct evfilter *f, const char *name, size_t len, const char *field,
                     struct evfilter_error *err)
{
    if (!is_name(name, len, EVFILTER_AGENT_MAX, false))
        return fail(err, field,
                    "%s must name an agent: 1 to %d characters of letters, digits, '_', '.' or '-'",
                    field, EVFILTER_AGENT_MAX);
    if (f->agent[0] && (strlen(f->agent) != len || strncmp(f->agent, name, len) != 0))
        return fail(err, field, "agent and agent-{name} channels must name the same agent");
    memcpy(f->agent, name, len);
    f->agent[len] = '\0';
    return 0;
}

/* The comma-separated channel names of list: their type patterns, or agent-{name}'s agent. */
static int parse_channels(struct evfilter *f, const char *list, struct evfilter_error *err)
{
    f->has_channel = true;
    for (const char *p = list;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool known = false;
        for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++) {
            if (strlen(channels[i].name) != len || strncmp(channels[i].name, p, len) != 0)
                continue;
            known = true;
            for (int k = 0; k < 4 && channels[i].patterns[k]; k++)
                if (!add_channel_pattern(f, channels[i].patterns[k]))
                    return fail(err, "channel", "too many channels");
        }
        if (!known) {
            if (len > 6 && strncmp(p, "agent-", 6) == 0) {
                if (set_agent(f, p + 6, len - 6, "channel", err) < 0)
                    return -1;
            } else {
                return fail(err, "channel",
                            "channel must be a comma-separated list of agent-status, agent-tasks, "
                            "agent-metrics, system-health, agent-updates or agent-{name}");
            }
        }
        if (!end)
            return 0;
        p = end + 1;
    }
}

static int parse_types(struct evfilter *f, const char *list, struct evfilter_error *err)
{
    for (const char *p = list;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!is_name(p, len, EVFILTER_TYPE_MAX, true))
            return fail(err, "type",
                        "type must be a comma-separated list of event types (1 to %d characters "
                        "of letters, digits, '_', '.' or '-'), each optionally ending in '*' to "
                        "match a prefix",
                        EVFILTER_TYPE_MAX);
        if (f->ntype == EVFILTER_PATTERNS_MAX)
            return fail(err, "type", "type may list at most %d patterns", EVFILTER_PATTERNS_MAX);
        memcpy(f->type_patterns[f->ntype], p, len);
        f->type_patterns[f->ntype++][len] = '\0';
        if (!end)
            return 0;
        p = end + 1;
    }
}

static int copy_id(char *dst, const char *src, const char *field, struct evfilter_error *err)
{
    size_t len = strlen(src);
    if (len == 0 || len > EVFILTER_ID_MAX)
        return fail(err, field, "%s must be 1 to %d characters", field, EVFILTER_ID_MAX);
    memcpy(dst, src, len + 1);
    return 0;
}

int evfilter_parse(struct evfilter *f, const struct evfilter_params *p, struct evfilter_error *err)
{
    memset(f, 0, sizeof(*f));
    err->field = NULL;
    err->message[0] = '\0';
    if (p->channel && parse_channels(f, p->channel, err) < 0)
        return -1;
    if (p->type && parse_types(f, p->type, err) < 0)
        return -1;
    if (p->agent && set_agent(f, p->agent, strlen(p->agent), "agent", err) < 0)
        return -1;
    if (p->job_id) {
        char *end;
        errno = 0;
        long long v = strtoll(p->job_id, &end, 10);
        if (errno || end == p->job_id || *end || v <= 0 || p->job_id[0] == '+' ||
            p->job_id[0] == ' ')
            return fail(err, "jobId", "jobId must be a positive integer");
        f->job_id = v;
    }
    if (p->run_id && copy_id(f->run_id, p->run_id, "runId", err) < 0)
        return -1;
    if (p->conversation_id &&
        copy_id(f->conversation_id, p->conversation_id, "conversationId", err) < 0)
        return -1;
    return 0;
}

static bool type_matches(const char *type, const char *pattern)
{
    size_t len = strlen(pattern);
    if (len > 0 && pattern[len - 1] == '*')
        return strncmp(type, pattern, len - 1) == 0;
    return strcmp(type, pattern) == 0;
}

static bool str_eq(const char *want, const char *got)
{
    return !want[0] || (got && strcmp(want, got) == 0);
}

bool evfilter_match(const struct evfilter *f, const struct evfilter_event *e)
{
    const char *type = e->type ? e->type : "";
    if (f->nchannel > 0) {
        bool any = false;
        for (int i = 0; i < f->nchannel && !any; i++)
            any = type_matches(type, f->channel_patterns[i]);
        if (!any)
            return false;
    }
    if (f->ntype > 0) {
        bool any = false;
        for (int i = 0; i < f->ntype && !any; i++)
            any = type_matches(type, f->type_patterns[i]);
        if (!any)
            return false;
    }
    return str_eq(f->agent, e->agent) && (f->job_id == 0 || f->job_id == e->job_id) &&
           str_eq(f->run_id, e->run_id) && str_eq(f->conversation_id, e->conversation_id);
}

const char *evfilter_sql_array(const struct evfilter *f, int which, char *buf, size_t len)
{
    int n = which == 0 ? f->nchannel : f->ntype;
    if (n == 0)
        return NULL;
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        /* The patterns hold only [A-Za-z0-9_.*-], so they need no quoting. */
        const char *p = which == 0 ? f->channel_patterns[i] : f->type_patterns[i];
        int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "{", p);
        if (w < 0 || (size_t)w >= len - used)
            return NULL;
        used += (size_t)w;
    }
    if (used + 2 > len)
        return NULL;
    buf[used++] = '}';
    buf[used] = '\0';
    return buf;
}
