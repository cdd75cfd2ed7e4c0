/* documents — agent memories: storing them with validated metadata and their embedding,
 * reading them back (by id, or listed with filters and a sort), and searching them by
 * keyword, by meaning (semantic) or both (hybrid), or by likeness to one document.
 * Clustering is in cluster.c; the shared filters in memory.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/embed.h"
#include "common/isotime.h"
#include "common/log.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/memory.h"
#include "gateway/queries.h"
#include "gateway/request.h"

#define TAGS_MAX 64
#define TAG_LEN_MAX 100

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
    if (has_type && !memory_is_type(type)) {
        field_error_set(err, "memoryType",
                        "memoryType must be one of general, conversation, task_result, learning");
        goto fail;
    }
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(obj, "timestamp");
    double epoch;
    if (prefix[0] && ts &&
        (!cJSON_IsString(ts) || strlen(ts->valuestring) > 64 || isotime_parse(ts->valuestring, &epoch) < 0)) {
        field_error_set(err, "timestamp",
                        "timestamp must be an ISO 8601 timestamp with a zone, e.g. 2030-01-01T00:00:00Z");
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
    /* The local provider is pure CPU (microseconds for a normal document, and it reads at
     * most EMBED_TEXT_MAX bytes), so it runs here on the loop. */
    const struct embed_provider *p = memory_provider(r);
    float vec[EMBED_DIMS_MAX];
    char *vec_text = NULL;
    if (embed_text(p, content, strlen(content), vec) == 0)
        vec_text = embed_to_pg_array(vec, p->dims);
    else
        log_warn("msg=\"embedding failed; stored without one\" req_id=%s provider=%s", r->id, p->name);
    const char *params[4] = {content, meta_text, vec_text, vec_text ? p->model : NULL};
    request_query_body(r, Q_DOCUMENT_INSERT, 4, params, 201);
    free(vec_text);
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

void documents_list(struct request *r)
{
    struct memory_filter f;
    if (memory_filter_from_query(r, &f) < 0)
        return;
    const char *sort = request_query_param(r, "sort");
    long limit = 20, offset = 0;
    if (sort && strcmp(sort, "recent") != 0 && strcmp(sort, "importance") != 0) {
        request_error(r, 400, "invalid_field", "sort", "sort must be recent or importance");
        return;
    }
    if (request_query_int(r, "limit", 1, 100, &limit) < 0 ||
        request_query_int(r, "cursor", 0, 1000000, &offset) < 0)
        return;
    char offset_text[16], limit_text[16];
    snprintf(offset_text, sizeof(offset_text), "%ld", offset);
    snprintf(limit_text, sizeof(limit_text), "%ld", limit);
    const char *params[9] = {f.params[0], f.params[1], f.params[2], f.params[3], f.params[4],
                             f.params[5], sort ? sort : "recent", offset_text, limit_text};
    request_query_body(r, Q_DOCUMENTS_LIST, 9, params, 200);
}

/* Reads a hybrid weight (a decimal from 0 to 100) into out, the setting's value when absent.
 * Returns 0, or -1 having answered 400. */
static int query_weight(struct request *r, const char *name, enum config_id setting, double *out)
{
    const char *v = request_query_param(r, name);
    if (!v) {
        *out = (double)config_int(r->gw->cfg, setting);
        return 0;
    }
    char *end = NULL;
    double w = strtod(v, &end);
    if (end == v || *end || !(w >= 0 && w <= 100)) {
        request_error(r, 400, "invalid_field", name, "%s must be a number from 0 to 100", name);
        return -1;
    }
    *out = w;
    return 0;
}

/* Semantic candidates each side of a hybrid search contributes before fusion. */
#define HYBRID_DEPTH 100

void documents_search(struct request *r)
{
    const char *q = request_query_param(r, "q");
    const char *mode = request_query_param(r, "mode");
    long limit = 10;
    double wk = 0, ws = 0;
    struct memory_filter f;
    if (!q || !q[0] || strlen(q) > 1000) {
        request_error(r, 400, "invalid_field", "q", "q (the search text, 1 to 1000 characters) is required");
        return;
    }
    if (!mode)
        mode = "keyword";
    if (strcmp(mode, "keyword") != 0 && strcmp(mode, "semantic") != 0 && strcmp(mode, "hybrid") != 0) {
        request_error(r, 400, "invalid_field", "mode", "mode must be keyword, semantic or hybrid");
        return;
    }
    if (memory_filter_from_query(r, &f) < 0 || request_query_int(r, "limit", 1, 100, &limit) < 0 ||
        query_weight(r, "wKeyword", CFG_HYBRID_KEYWORD_WEIGHT, &wk) < 0 ||
        query_weight(r, "wSemantic", CFG_HYBRID_SEMANTIC_WEIGHT, &ws) < 0)
        return;
    if (wk == 0 && ws == 0) {
        request_error(r, 400, "invalid_field", "wSemantic", "wKeyword and wSemantic cannot both be 0");
        return;
    }
    char limit_text[16], depth_text[16], wk_text[32], ws_text[32];
    snprintf(limit_text, sizeof(limit_text), "%ld", limit);
    if (strcmp(mode, "keyword") == 0) {
        const char *params[8] = {f.params[0], f.params[1], f.params[2], f.params[3],
                                 f.params[4], f.params[5], q, limit_text};
        request_query_body(r, Q_DOCUMENTS_SEARCH, 8, params, 200);
        return;
    }
    const struct embed_provider *p = memory_provider(r);
    float vec[EMBED_DIMS_MAX];
    char *vec_text = NULL;
    if (embed_text(p, q, strlen(q), vec) < 0 || !(vec_text = embed_to_pg_array(vec, p->dims))) {
        request_error(r, 503, "unavailable", NULL, "the embedding provider %s failed; retry later", p->name);
        return;
    }
    if (strcmp(mode, "semantic") == 0) {
        const char *params[9] = {f.params[0], f.params[1], f.params[2], f.params[3], f.params[4],
                                 f.params[5], vec_text, p->model, limit_text};
        request_query_body(r, Q_DOCUMENTS_SEMANTIC, 9, params, 200);
    } else {
        snprintf(depth_text, sizeof(depth_text), "%d", HYBRID_DEPTH);
        snprintf(wk_text, sizeof(wk_text), "%.6g", wk);
        snprintf(ws_text, sizeof(ws_text), "%.6g", ws);
        const char *params[13] = {f.params[0], f.params[1], f.params[2], f.params[3], f.params[4],
                                  f.params[5], q, vec_text, p->model, limit_text, depth_text,
                                  wk_text, ws_text};
        request_query_body(r, Q_DOCUMENTS_HYBRID, 13, params, 200);
    }
    free(vec_text);
}

void documents_similar(struct request *r)
{
    char id[24], limit_text[16];
    long limit = 10;
    struct memory_filter f;
    if (request_path_id(r, "id", id, sizeof(id)) < 0 || memory_filter_from_query(r, &f) < 0 ||
        request_query_int(r, "limit", 1, 100, &limit) < 0)
        return;
    snprintf(limit_text, sizeof(limit_text), "%ld", limit);
    const char *params[8] = {f.params[0], f.params[1], f.params[2], f.params[3],
                             f.params[4], f.params[5], id, limit_text};
    request_query_body(r, Q_DOCUMENT_SIMILAR, 8, params, 200);
}
