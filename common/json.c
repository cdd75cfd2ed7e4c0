/* json — typed, validated field access over cJSON with field-named errors. */
#include "common/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int field_error_set(struct field_error *err, const char *field, const char *fmt, ...)
{
    snprintf(err->field, sizeof(err->field), "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* Shared prologue: finds the field, handles absent/null. Returns NULL when the caller should
 * return *rc right away. */
static cJSON *lookup(const cJSON *obj, const char *name, bool required, int *rc,
                           struct field_error *err)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!item || cJSON_IsNull(item)) {
        *rc = required ? field_error_set(err, name, "%s is required", name) : 0;
        return NULL;
    }
    return item;
}

int json_get_string(const cJSON *obj, const char *name, bool required, size_t min_len,
                    size_t max_len, const char **out, struct field_error *err)
{
    int rc;
    cJSON *item = lookup(obj, name, required, &rc, err);
    if (!item)
        return rc;
    if (!cJSON_IsString(item))
        return field_error_set(err, name, "%s must be a string", name);
    size_t len = strlen(item->valuestring);
    if (len < min_len || len > max_len) {
        if (min_len > 0 && len == 0)
            return field_error_set(err, name, "%s must not be empty", name);
        return field_error_set(err, name, "%s must be %zu to %zu characters long", name,
                               min_len, max_len);
    }
    *out = item->valuestring;
    return 1;
}

int json_get_int(const cJSON *obj, const char *name, bool required, long min, long max,
                 long *out, struct field_error *err)
{
    int rc;
    cJSON *item = lookup(obj, name, required, &rc, err);
    if (!item)
        return rc;
    double v = item->valuedouble;
    if (!cJSON_IsNumber(item) || !isfinite(v) || v != floor(v) || v < (double)min ||
        v > (double)max)
        return field_error_set(err, name, "%s must be an integer from %ld to %ld", name, min,
                               max);
    *out = (long)v;
    return 1;
}

int json_get_bool(const cJSON *obj, const char *name, bool required, bool *out,
                  struct field_error *err)
{
    int rc;
    cJSON *item = lookup(obj, name, required, &rc, err);
    if (!item)
        return rc;
    if (!cJSON_IsBool(item))
        return field_error_set(err, name, "%s must be true or false", name);
    *out = cJSON_IsTrue(item);
    return 1;
}

int json_get_object(const cJSON *obj, const char *name, bool required, cJSON **out,
                    struct field_error *err)
{
    int rc;
    cJSON *item = lookup(obj, name, required, &rc, err);
    if (!item)
        return rc;
    if (!cJSON_IsObject(item))
        return field_error_set(err, name, "%s must be an object", name);
    *out = item;
    return 1;
}

int json_get_string_array(const cJSON *obj, const char *name, bool required, size_t max_items,
                          size_t max_len, cJSON **out, struct field_error *err)
{
    int rc;
    cJSON *item = lookup(obj, name, required, &rc, err);
    if (!item)
        return rc;
    if (!cJSON_IsArray(item))
        return field_error_set(err, name, "%s must be an array of strings", name);
    size_t n = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, item)
    {
        if (!cJSON_IsString(el) || el->valuestring[0] == '\0' || strlen(el->valuestring) > max_len)
            return field_error_set(err, name, "%s must be an array of non-empty strings of at most %zu characters",
                                   name, max_len);
        if (++n > max_items)
            return field_error_set(err, name, "%s may hold at most %zu items", name, max_items);
    }
    *out = item;
    return 1;
}

cJSON *json_parse_object(const char *text, size_t len, struct field_error *err)
{
    if (len == 0) {
        field_error_set(err, "body", "the request body is empty; a JSON object is required");
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!root) {
        field_error_set(err, "body", "the request body is not valid JSON");
        return NULL;
    }
    /* Only whitespace may follow the value. */
    for (const char *p = end; p && p < text + len; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            cJSON_Delete(root);
            field_error_set(err, "body", "the request body is not valid JSON");
            return NULL;
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        field_error_set(err, "body", "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

bool json_is_identifier(const char *s, size_t max_len)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return n >= 1 && n <= max_len;
}
