/* documents — agent memories: storing them with validated metadata, reading them back,
 * and keyword (full-text) search with filters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/queries.h"
#include "gateway/request.h"

#define TAGS_MAX 64
#define TAG_LEN_MAX 100

static const char *const memory_types[] = {"general", "conversation", "task_result", "learning"};

static bool is_memory_type(const char *s)
{
    for (size_t i = 0; i < sizeof(memory_types) / sizeof(memory_types[0]); i++)
        if (strcmp(s, memory_types[i]) == 0)
            return true;
    return false;
}

/* Sets meta[name] = item, replacing any earlier value. */
static void set_field(cJSON *meta, const char *name, cJSON *item)
{
    cJSON_DeleteItemFromObjectCaseSensitive(meta, name);
    cJSON_AddItemToObject(meta, name, item);
}

/* Validates the memory fields found in obj (the body, or its metadata when prefix is
 * "metadata.") and copies them into meta. Returns 0, or -1 with err filled. */
static int take_memory_fields(const cJSON *obj, cJSON *meta, const char *prefix,
                              struct field_error *err)
{
    const char *agent = NULL, *type = NULL;
    long importance = 0;
    cJSON *tags = NULL;
    int has_agent, has_type, has_importance, has_tags;
    if ((has_agent = json_get_string(obj, "agentName", false, 1, AGENT_NAME_MAX, &agent, err)) < 0 ||
        (has_type = json_get_string(obj, "memoryType", false, 1, 32, &type, err)) < 0 ||
        (has_importance = json_get_int(obj, "importance", false, 1, 10, &importance, err)) < 0 ||
        (has_tags = json_get_string_array(obj, "tags", false, TAGS_MAX, TAG_LEN_MAX, &tags, err)) < 0)
        goto fail;
    if (has_agent && !json_is_identifier(agent, AGENT_NAME_MAX)) {
        field_error_set(err, "agentName",
                        "agentName must be 1 to %d characters of letters, digits, '_', '.' or '-'",
                        AGENT_NAME_MAX);
        goto fail;
    }
    if (has_type && !is_memory_type(type)) {
        field_error_set(err, "memoryType",
                        "memoryType must be one of general, conversation, task_result, learning");
        goto fail;
    }
    if (has_agent)
        set_field(meta, "agentName", cJSON_CreateString(agent));
    if (has_type)
        set_field(meta, "memoryType", cJSON_CreateString(type));
    if (has_importance)
        set_field(meta, "importance", cJSON_CreateNumber((double)importance));
    if (has_tags)
        set_field(meta, "tags", cJSON_Duplicate(tags, true));
    return 0;
fail:
    if (prefix[0]) {
        char field[sizeof(err->field)];
        snprintf(field, sizeof(field), "%s%s", prefix, err->field);
        memcpy(err->field, field, sizeof(field));
    }
    return -1;
}

void documents_create(struct request *r)
{
    struct field_error err;
    const char *content = NULL;
    cJSON *given = NULL;
    if (json_get_string(r->body, "content", true, 1, (size_t)r->gw->body_limit, &content, &err) < 0 ||
        json_get_object(r->body, "metadata", false, &given, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    cJSON *meta = given ? cJSON_Duplicate(given, true) : cJSON_CreateObject();
    if (!meta) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    /* Memory fields may sit inside metadata or at the top level (which wins). */
    if ((given && take_memory_fields(given, meta, "metadata.", &err) < 0) ||
        take_memory_fields(r->body, meta, "", &err) < 0) {
        cJSON_Delete(meta);
        request_field_error(r, &err);
        return;
    }
    char *meta_text = cJSON_PrintUnformatted(meta);
    cJSON_Delete(meta);
    if (!meta_text) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    const char *params[2] = {content, meta_text};
    request_query_body(r, Q_DOCUMENT_INSERT, 2, params, 201);
    free(meta_text);
}

void documents_get(struct request *r)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    const char *params[1] = {id};
    request_query_body(r, Q_DOCUMENT_GET, 1, params, 200);
}

void documents_search(struct request *r)
{
    const char *q = request_query_param(r, "q");
    const char *agent = request_query_param(r, "agentName");
    const char *type = request_query_param(r, "memoryType");
    const char *tag = request_query_param(r, "tag");
    long min_importance = 0, limit = 10;
    if (!q || !q[0] || strlen(q) > 1000) {
        request_error(r, 400, "invalid_field", "q", "q (the search text, 1 to 1000 characters) is required");
        return;
    }
    if (agent && request_check_agent_name(r, agent, "agentName") < 0)
        return;
    if (type && !is_memory_type(type)) {
        request_error(r, 400, "invalid_field", "memoryType",
                      "memoryType must be one of general, conversation, task_result, learning");
        return;
    }
    int has_min;
    if ((has_min = request_query_int(r, "minImportance", 1, 10, &min_importance)) < 0 ||
        request_query_int(r, "limit", 1, 100, &limit) < 0)
        return;
    char min_text[8], limit_text[8];
    snprintf(min_text, sizeof(min_text), "%ld", min_importance);
    snprintf(limit_text, sizeof(limit_text), "%ld", limit);
    const char *params[6] = {q, agent, type, tag, has_min ? min_text : NULL, limit_text};
    request_query_body(r, Q_DOCUMENTS_SEARCH, 6, params, 200);
}
