/* sharedmem — shared memory for tasks, over the gateway's routes (see sharedmem.h). */
#include "worker/runtime/sharedmem.h"

#include <stdio.h>
#include <string.h>

#include "common/json.h"

#define SHARED_NAME_MAX 200

/* Checks the arguments and writes the entry's path. Returns 0, or -1 with out filled. */
static int entry_path(const char *scope, const char *scope_id, const char *key, char *path,
                      size_t len, struct task_outcome *out)
{
    if (!scope || (strcmp(scope, "run") != 0 && strcmp(scope, "conversation") != 0))
        return task_fail(out, false, "shared memory: scope must be run or conversation");
    if (!scope_id || !json_is_identifier(scope_id, SHARED_NAME_MAX) || !key ||
        !json_is_identifier(key, SHARED_NAME_MAX))
        return task_fail(out, false,
                         "shared memory: scope id and key must be 1 to %d characters of letters, "
                         "digits, '_', '.' or '-'",
                         SHARED_NAME_MAX);
    snprintf(path, len, "/api/memory/shared/%s/%s/%s", scope, scope_id, key);
    return 0;
}

static long long version_of(const cJSON *obj, const char *name)
{
    return (long long)json_number_or(obj, name, 0);
}

/* An answer other than the ones expected: task_refused naming the request. Returns -1. */
static int refused(struct task_outcome *out, const char *method, const char *path, int status,
                   const cJSON *answer)
{
    char what[760];
    snprintf(what, sizeof(what), "%s %s", method, path);
    return task_refused(out, what, status, answer);
}

int task_shared_get(const struct task_ctx *ctx, const char *scope, const char *scope_id,
                    const char *key, cJSON **value, long long *version, struct task_outcome *out)
{
    char path[700];
    if (entry_path(scope, scope_id, key, path, sizeof(path), out) < 0)
        return -1;
    int status;
    cJSON *answer = task_gateway_json(ctx, "GET", path, NULL, &status, out);
    int rc = -1;
    if (status == 404) {
        rc = 0;
    } else if (status == 200 && cJSON_GetObjectItemCaseSensitive(answer, "value")) {
        *value = cJSON_DetachItemFromObjectCaseSensitive(answer, "value");
        if (version)
            *version = version_of(answer, "version");
        rc = 1;
    } else if (status) {
        refused(out, "GET", path, status, answer);
    }
    cJSON_Delete(answer);
    return rc;
}

int task_shared_put(const struct task_ctx *ctx, const char *scope, const char *scope_id,
                    const char *key, const cJSON *value, long long expected, long long *version,
                    struct task_outcome *out)
{
    char path[700];
    if (entry_path(scope, scope_id, key, path, sizeof(path), out) < 0)
        return -1;
    cJSON *body = cJSON_CreateObject();
    cJSON *copy = cJSON_Duplicate(value, true);
    if (!body || !copy) {
        cJSON_Delete(body);
        cJSON_Delete(copy);
        return task_fail(out, true, "out of memory");
    }
    cJSON_AddItemToObject(body, "value", copy);
    if (expected != TASK_SHARED_ANY)
        cJSON_AddNumberToObject(body, "expectedVersion", (double)expected);
    cJSON_AddStringToObject(body, "updatedBy", ctx->agent);
    int status;
    cJSON *answer = task_gateway_json(ctx, "PUT", path, body, &status, out);
    cJSON_Delete(body);
    int rc = -1;
    if (status == 200 || status == 201) {
        if (version)
            *version = version_of(answer, "version");
        rc = 0;
    } else if (status == 409) {
        if (version)
            *version =
                version_of(cJSON_GetObjectItemCaseSensitive(answer, "error"), "currentVersion");
        rc = -2;
    } else if (status) {
        refused(out, "PUT", path, status, answer);
    }
    cJSON_Delete(answer);
    return rc;
}

int task_shared_add(const struct task_ctx *ctx, const char *scope, const char *scope_id,
                    const char *key, double delta, double *total, struct task_outcome *out)
{
    for (int i = 0; i < TASK_SHARED_ADD_TRIES; i++) {
        if (task_should_stop(ctx))
            return task_fail(out, true, "stopped while adding to shared memory key %s", key);
        cJSON *value = NULL;
        long long version = 0;
        int found = task_shared_get(ctx, scope, scope_id, key, &value, &version, out);
        if (found < 0)
            return -1;
        if (found && !cJSON_IsNumber(value)) {
            cJSON_Delete(value);
            return task_fail(out, false, "shared memory key %s holds no number", key);
        }
        double sum = (found ? value->valuedouble : 0) + delta;
        cJSON_Delete(value);
        cJSON *next = cJSON_CreateNumber(sum);
        if (!next)
            return task_fail(out, true, "out of memory");
        /* version 0 when absent: only the first of concurrent creators may create it */
        int rc = task_shared_put(ctx, scope, scope_id, key, next, found ? version : 0, NULL, out);
        cJSON_Delete(next);
        if (rc == 0) {
            if (total)
                *total = sum;
            return 0;
        }
        if (rc == -1)
            return -1;
    }
    return task_fail(out, true, "shared memory key %s: %d conflicting writes in a row", key,
                     TASK_SHARED_ADD_TRIES);
}
