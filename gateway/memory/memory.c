/* memory — the shared memory filters (see memory.h): validation of agent names, memory
 * types, tags, importance and ISO 8601 time bounds, for query strings and JSON bodies; the
 * answer when the work threads are full. */
#include "gateway/memory/memory.h"

#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/embed.h"
#include "common/isotime.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/memory/embedder.h"

#define TAG_LEN_MAX 100
#define TIME_LEN_MAX 64

static const char *const memory_types[] = {"general", "conversation", "task_result", "learning"};

bool memory_is_type(const char *s)
{
    for (size_t i = 0; i < sizeof(memory_types) / sizeof(memory_types[0]); i++)
        if (strcmp(s, memory_types[i]) == 0)
            return true;
    return false;
}

/* Validates the string fields already in f->params. Returns 0, or -1 with err filled. */
static int check_filter(struct memory_filter *f, struct field_error *err)
{
    const char *agent = f->params[0], *type = f->params[1], *tag = f->params[2];
    if (agent && !json_is_identifier(agent, AGENT_NAME_MAX))
        return field_error_set(
            err, "agentName",
            "agentName must be 1 to %d characters of letters, digits, '_', '.' or '-'",
            AGENT_NAME_MAX);
    if (type && !memory_is_type(type))
        return field_error_set(
            err, "memoryType",
            "memoryType must be one of general, conversation, task_result, learning");
    if (tag && (!tag[0] || strlen(tag) > TAG_LEN_MAX))
        return field_error_set(err, "tag", "tag must be 1 to %d characters", TAG_LEN_MAX);
    static const char *const time_fields[2] = {"since", "until"};
    for (int i = 0; i < 2; i++) {
        const char *t = f->params[4 + i];
        double epoch;
        if (t && (strlen(t) > TIME_LEN_MAX || isotime_parse(t, &epoch) < 0))
            return field_error_set(
                err, time_fields[i],
                "%s must be an ISO 8601 timestamp with a zone, e.g. 2030-01-01T00:00:00Z",
                time_fields[i]);
    }
    return 0;
}

int memory_filter_from_query(struct request *r, struct memory_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->params[0] = request_query_param(r, "agentName");
    f->params[1] = request_query_param(r, "memoryType");
    f->params[2] = request_query_param(r, "tag");
    f->params[4] = request_query_param(r, "since");
    f->params[5] = request_query_param(r, "until");
    struct field_error err;
    if (check_filter(f, &err) < 0) {
        request_field_error(r, &err);
        return -1;
    }
    long min = 0;
    int has_min = request_query_int(r, "minImportance", 1, 10, &min);
    if (has_min < 0)
        return -1;
    if (has_min) {
        snprintf(f->min_text, sizeof(f->min_text), "%ld", min);
        f->params[3] = f->min_text;
    }
    return 0;
}

int memory_filter_from_json(const cJSON *obj, struct memory_filter *f, struct field_error *err)
{
    memset(f, 0, sizeof(*f));
    static const char *const names[6] = {"agentName", "memoryType", "tag", NULL, "since", "until"};
    for (int i = 0; i < 6; i++)
        if (names[i] && json_get_string(obj, names[i], false, 1, 1000, &f->params[i], err) < 0)
            return -1;
    long min = 0;
    int has_min = json_get_int(obj, "minImportance", false, 1, 10, &min, err);
    if (has_min < 0)
        return -1;
    if (has_min) {
        snprintf(f->min_text, sizeof(f->min_text), "%ld", min);
        f->params[3] = f->min_text;
    }
    return check_filter(f, err);
}

const struct embed_provider *memory_provider(struct request *r)
{
    return embedder_provider(r->gw->embedder);
}

void memory_work_busy(struct request *r)
{
    request_error(r, 503, "unavailable", NULL,
                  "the gateway's work threads are busy and %ld requests already wait for one; "
                  "retry later",
                  config_int(r->gw->cfg, CFG_WORK_QUEUE_MAX));
}
