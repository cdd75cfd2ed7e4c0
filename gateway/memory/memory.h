/* memory — what the memory routes (documents.c, cluster.c) share: the filters every memory
 * read takes (agent, type, tag, importance, time range), read from a query string or a JSON
 * body and validated with the field's name, the gateway's embedding provider, and the answer
 * when the work threads cannot take a request. */
#ifndef FLOWSTATE_MEMORY_H
#define FLOWSTATE_MEMORY_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "common/json.h"

struct request;
struct embed_provider;

/* The four memory types of the seed. */
bool memory_is_type(const char *s);

/* Filters as the six leading parameters of every memory query (NULL: no filter). The
 * strings point into the request (query or body) and live as long as it does. */
struct memory_filter {
    const char *params[6]; /* agentName, memoryType, tag, minImportance, since, until */
    char min_text[8];
};
#define MEMORY_FILTER_PARAMS 6

/* Reads agentName, memoryType, tag, minImportance, since and until from the query string.
 * Returns 0, or -1 having answered 400 naming the parameter. */
int memory_filter_from_query(struct request *r, struct memory_filter *f);
/* The same fields from a JSON object (strings, minImportance an integer). Returns 0, or -1
 * with err filled. */
int memory_filter_from_json(const cJSON *obj, struct memory_filter *f, struct field_error *err);

/* The embedding provider the embed-provider setting names (never NULL once the gateway
 * started: the setting only accepts providers that exist). */
const struct embed_provider *memory_provider(struct request *r);

/* 503 unavailable (with Retry-After): the work threads are busy and their queue is full, so
 * a clustering or a large scan was not started. */
void memory_work_busy(struct request *r);

#endif
