/* data_check — running data_processor modules and matching results in unit tests. */
#include "tests/unit/data_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int data_check_run(data_task_fn fn, const char *data_json, cJSON **result, struct dp_error *err)
{
    cJSON *data = cJSON_Parse(data_json);
    if (!data) {
        snprintf(err->message, sizeof(err->message), "test data does not parse: %s", data_json);
        return -100;
    }
    *result = NULL;
    int rc = fn(data, "data", result, err);
    cJSON_Delete(data);
    return rc;
}

static bool mismatch(const cJSON *want, const cJSON *got, const char *path, char *where, size_t len)
{
    char *w = cJSON_PrintUnformatted(want), *g = got ? cJSON_PrintUnformatted(got) : NULL;
    snprintf(where, len, "at %s: want %.200s, got %.200s", path[0] ? path : "(top)", w ? w : "?",
             g ? g : "(missing)");
    free(w);
    free(g);
    return false;
}

static bool match(const cJSON *want, const cJSON *got, char *path, size_t plen, char *where,
                  size_t len)
{
    if (!got)
        return mismatch(want, got, path, where, len);
    if (cJSON_IsNumber(want)) {
        if (!cJSON_IsNumber(got))
            return mismatch(want, got, path, where, len);
        double a = want->valuedouble, b = got->valuedouble;
        if (fabs(a - b) > 1e-9 * fmax(1.0, fabs(a)))
            return mismatch(want, got, path, where, len);
        return true;
    }
    if (cJSON_IsObject(want)) {
        if (!cJSON_IsObject(got))
            return mismatch(want, got, path, where, len);
        size_t used = strlen(path);
        for (const cJSON *c = want->child; c; c = c->next) {
            snprintf(path + used, plen - used, ".%s", c->string);
            if (!match(c, cJSON_GetObjectItemCaseSensitive(got, c->string), path, plen, where, len))
                return false;
            path[used] = '\0';
        }
        return true;
    }
    if (cJSON_IsArray(want)) {
        if (!cJSON_IsArray(got) || cJSON_GetArraySize(want) != cJSON_GetArraySize(got))
            return mismatch(want, got, path, where, len);
        size_t used = strlen(path);
        int i = 0;
        for (const cJSON *c = want->child, *d = got->child; c; c = c->next, d = d->next, i++) {
            snprintf(path + used, plen - used, "[%d]", i);
            if (!match(c, d, path, plen, where, len))
                return false;
            path[used] = '\0';
        }
        return true;
    }
    if (!cJSON_Compare(want, got, true))
        return mismatch(want, got, path, where, len);
    return true;
}

bool data_check_match(const cJSON *want, const cJSON *got, char *where, size_t len)
{
    char path[512] = "";
    where[0] = '\0';
    return match(want, got, path, sizeof(path), where, len);
}
