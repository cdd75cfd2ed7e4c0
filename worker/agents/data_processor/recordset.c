/* recordset — finding and checking a data_processor task's input (see recordset.h). */
#include "worker/agents/data_processor/recordset.h"

#include <math.h>
#include <string.h>

#include "worker/agents/data_processor/jvalue.h"

int recordset_data(const cJSON *payload, const cJSON **data, const char **root,
                   struct dp_error *err)
{
    const cJSON *d = jvalue_member(payload, "data");
    if (!cJSON_IsObject(payload))
        return dperror_set(err, "payload must be an object");
    if (d && !cJSON_IsNull(d)) {
        if (!cJSON_IsObject(d))
            return dperror_set(err, "data must be an object, not %s", jvalue_type_name(d));
        *data = d;
        *root = "data";
        return 0;
    }
    *data = payload;
    *root = "payload";
    return 0;
}

/* The shared prologue of the getters: looks up parent.name into *item and writes its path
 * into at. Returns 1 when present, 0 when absent and optional, DP_BAD_INPUT otherwise. */
static int lookup(const cJSON *parent, const char *name, const struct jsonpath *path, bool required,
                  const cJSON **item, struct jsonpath *at, struct dp_error *err)
{
    *at = *path;
    jsonpath_key(at, name);
    *item = jvalue_member(parent, name);
    if (!*item || cJSON_IsNull(*item))
        return required ? dperror_set(err, "%s is required", at->text) : 0;
    return 1;
}

int recordset_records(const cJSON *parent, const char *name, const struct jsonpath *path,
                      bool required, bool objects_only, const cJSON **out, struct dp_error *err)
{
    const cJSON *item;
    struct jsonpath at;
    int rc = lookup(parent, name, path, required, &item, &at, err);
    if (rc <= 0)
        return rc;
    if (!cJSON_IsArray(item))
        return dperror_set(err, "%s must be an array, not %s", at.text, jvalue_type_name(item));
    int n = cJSON_GetArraySize(item);
    if (n > RECORDSET_MAX_RECORDS)
        return dperror_set(err, "%s has %d records; at most %d are allowed", at.text, n,
                           RECORDSET_MAX_RECORDS);
    size_t i = 0;
    for (const cJSON *r = item->child; r; r = r->next, i++) {
        if (objects_only && !cJSON_IsObject(r)) {
            jsonpath_index(&at, i);
            return dperror_set(err, "%s must be an object, not %s", at.text, jvalue_type_name(r));
        }
        if (jvalue_depth(r) > RECORDSET_MAX_DEPTH) {
            jsonpath_index(&at, i);
            return dperror_set(err, "%s nests deeper than %d levels", at.text, RECORDSET_MAX_DEPTH);
        }
    }
    *out = item;
    return 1;
}

int recordset_names(const cJSON *parent, const char *name, const struct jsonpath *path,
                    bool required, bool allow_single, struct name_list *out, struct dp_error *err)
{
    const cJSON *item;
    struct jsonpath at;
    int rc = lookup(parent, name, path, required, &item, &at, err);
    if (rc <= 0)
        return rc;
    out->n = 0;
    if (allow_single && cJSON_IsString(item)) {
        if (!item->valuestring[0])
            return dperror_set(err, "%s must not be empty", at.text);
        out->names[out->n++] = item->valuestring;
        return 1;
    }
    if (!cJSON_IsArray(item))
        return dperror_set(err, "%s must be %s, not %s", at.text,
                           allow_single ? "a field name or an array of them"
                                        : "an array of field names",
                           jvalue_type_name(item));
    if (!item->child)
        return dperror_set(err, "%s must not be empty", at.text);
    size_t i = 0;
    for (const cJSON *c = item->child; c; c = c->next, i++) {
        if (i >= RECORDSET_MAX_NAMES)
            return dperror_set(err, "%s has more than %d names", at.text, RECORDSET_MAX_NAMES);
        size_t mark = jsonpath_index(&at, i);
        if (!cJSON_IsString(c))
            return dperror_set(err, "%s must be a string, not %s", at.text, jvalue_type_name(c));
        if (!c->valuestring[0])
            return dperror_set(err, "%s must not be empty", at.text);
        for (size_t j = 0; j < out->n; j++)
            if (strcmp(out->names[j], c->valuestring) == 0)
                return dperror_set(err, "%s repeats the name \"%.100s\"", at.text, c->valuestring);
        jsonpath_pop(&at, mark);
        out->names[out->n++] = c->valuestring;
    }
    return 1;
}

int recordset_string(const cJSON *parent, const char *name, const struct jsonpath *path,
                     bool required, const char **out, struct dp_error *err)
{
    const cJSON *item;
    struct jsonpath at;
    int rc = lookup(parent, name, path, required, &item, &at, err);
    if (rc <= 0)
        return rc;
    if (!cJSON_IsString(item))
        return dperror_set(err, "%s must be a string, not %s", at.text, jvalue_type_name(item));
    if (!item->valuestring[0])
        return dperror_set(err, "%s must not be empty", at.text);
    *out = item->valuestring;
    return 1;
}

int recordset_int(const cJSON *parent, const char *name, const struct jsonpath *path, bool required,
                  long min, long max, long *out, struct dp_error *err)
{
    const cJSON *item;
    struct jsonpath at;
    int rc = lookup(parent, name, path, required, &item, &at, err);
    if (rc <= 0)
        return rc;
    double v = item->valuedouble;
    if (!cJSON_IsNumber(item) || v != floor(v) || v < (double)min || v > (double)max)
        return dperror_set(err, "%s must be an integer from %ld to %ld", at.text, min, max);
    *out = (long)v;
    return 1;
}

int recordset_bool(const cJSON *parent, const char *name, const struct jsonpath *path,
                   bool required, bool *out, struct dp_error *err)
{
    const cJSON *item;
    struct jsonpath at;
    int rc = lookup(parent, name, path, required, &item, &at, err);
    if (rc <= 0)
        return rc;
    if (!cJSON_IsBool(item))
        return dperror_set(err, "%s must be true or false", at.text);
    *out = cJSON_IsTrue(item);
    return 1;
}
