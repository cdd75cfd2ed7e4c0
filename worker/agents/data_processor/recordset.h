/* recordset — where a data_processor task finds its input: the data object of the payload,
 * the records array (bounded in count and depth), lists of field names and typed options.
 * Every error names the field by its path from the payload ("data.records[3]",
 * "data.steps[1].count").
 *
 * Getters return 1 when the field is present and valid (*out set), 0 when it is absent or
 * JSON null and not required (*out untouched), DP_BAD_INPUT with err filled otherwise. */
#ifndef FLOWSTATE_DP_RECORDSET_H
#define FLOWSTATE_DP_RECORDSET_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "worker/agents/data_processor/dperror.h"
#include "worker/agents/data_processor/jsonpath.h"

#define RECORDSET_MAX_RECORDS 100000 /* records in one task */
#define RECORDSET_MAX_DEPTH 32       /* nesting inside one record (or schema) */
#define RECORDSET_MAX_NAMES 64       /* names in one list (fields, groupBy, sort keys) */

/* A list of field names; the strings belong to the payload. */
struct name_list {
    const char *names[RECORDSET_MAX_NAMES];
    size_t n;
};

/* The task's arguments: payload.data when present (it must then be an object; *root is
 * "data"), else the payload itself (the worker-route form; *root is "payload"). */
int recordset_data(const cJSON *payload, const cJSON **data, const char **root,
                   struct dp_error *err) __attribute__((warn_unused_result));

/* parent.name as an array of at most RECORDSET_MAX_RECORDS values, each at most
 * RECORDSET_MAX_DEPTH deep and, when objects_only, each an object. path is parent's. */
int recordset_records(const cJSON *parent, const char *name, const struct jsonpath *path,
                      bool required, bool objects_only, const cJSON **out, struct dp_error *err)
    __attribute__((warn_unused_result));

/* parent.name as a list of distinct non-empty field names: an array of strings, or (when
 * allow_single) one string. An empty array is an error. */
int recordset_names(const cJSON *parent, const char *name, const struct jsonpath *path,
                    bool required, bool allow_single, struct name_list *out, struct dp_error *err)
    __attribute__((warn_unused_result));

/* parent.name as a non-empty string. */
int recordset_string(const cJSON *parent, const char *name, const struct jsonpath *path,
                     bool required, const char **out, struct dp_error *err)
    __attribute__((warn_unused_result));
/* parent.name as an integer from min to max (2.5 and "2" are errors). */
int recordset_int(const cJSON *parent, const char *name, const struct jsonpath *path, bool required,
                  long min, long max, long *out, struct dp_error *err)
    __attribute__((warn_unused_result));
/* parent.name as true or false. */
int recordset_bool(const cJSON *parent, const char *name, const struct jsonpath *path,
                   bool required, bool *out, struct dp_error *err)
    __attribute__((warn_unused_result));

#endif
