/* fuzz_dp — one data_processor task over a fuzzed payload, for the schema, transform and
 * aggregate harnesses: the input is the job's payload as JSON text, read the way the agent
 * reads it (recordset_data, then the task), after dropping repeated keys as PostgreSQL's jsonb
 * does. Checks: success gives a result that prints, a
 * failure a message; and a second run over the same payload gives the same outcome (the tasks
 * are deterministic, so a difference means a read of uninitialised or freed state). */
#ifndef FLOWSTATE_FUZZ_DP_H
#define FLOWSTATE_FUZZ_DP_H

#include "tests/fuzz/fuzz.h"
#include "worker/agents/data_processor/recordset.h"

typedef int (*fuzz_dp_fn)(const cJSON *data, const char *root, cJSON **result,
                          struct dp_error *err);

/* The task's outcome as text: the printed result, or "error: <message>". */
static inline char *fuzz_dp_once(fuzz_dp_fn fn, const cJSON *payload)
{
    struct dp_error err = {""};
    const cJSON *data = NULL;
    const char *root = NULL;
    cJSON *result = NULL;
    int rc = recordset_data(payload, &data, &root, &err);
    FUZZ_CHECK(rc == 0 || rc == DP_BAD_INPUT, "recordset_data: rc %d (%s)", rc, err.message);
    rc = rc ? rc : fn(data, root, &result, &err);
    FUZZ_CHECK(rc == 0 ? result != NULL : rc == DP_BAD_INPUT && !result && err.message[0],
               "rc %d, result %p, message \"%s\"", rc, (void *)result, err.message);
    char *text = result ? cJSON_PrintUnformatted(result) : NULL;
    if (rc == 0)
        FUZZ_CHECK(text != NULL, "the result does not print");
    else if (asprintf(&text, "error: %s", err.message) < 0)
        abort();
    cJSON_Delete(result);
    return text;
}

/* Drops every member of v's objects that a later member of the same name replaces, as jsonb
 * does: payloads reach a worker from PostgreSQL, so they never repeat a key. */
static inline void fuzz_dp_unique_keys(cJSON *v)
{
    for (cJSON *c = v->child, *next; c; c = next) {
        next = c->next;
        bool replaced = false;
        for (const cJSON *later = next; cJSON_IsObject(v) && later && !replaced;
             later = later->next)
            replaced = strcmp(later->string, c->string) == 0;
        if (replaced)
            cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
        else
            fuzz_dp_unique_keys(c);
    }
}

static inline void fuzz_dp_run(fuzz_dp_fn fn, const uint8_t *data, size_t size)
{
    cJSON *payload = cJSON_ParseWithLength((const char *)data, size);
    if (!payload)
        return;
    fuzz_dp_unique_keys(payload);
    char *first = fuzz_dp_once(fn, payload), *second = fuzz_dp_once(fn, payload);
    FUZZ_CHECK(strcmp(first, second) == 0, "two runs differ:\n%s\n%s", first, second);
    free(first);
    free(second);
    cJSON_Delete(payload);
}

#endif
