/* schema — the validate_data task: checks data.records (or one data.record) against
 * data.schema, a JSON-Schema subset (type, properties, required, additionalProperties,
 * items, enum, const, minimum/maximum/exclusiveMinimum/exclusiveMaximum,
 * minLength/maxLength, pattern as a POSIX ERE, minItems/maxItems), and lists every
 * violation with its path ($[2].user.email), keyword and message.
 *
 * The schema is compiled first (types resolved, patterns built with regcomp), so a bad
 * schema fails the task with its path before any record is looked at. */
#ifndef FLOWSTATE_DP_SCHEMA_H
#define FLOWSTATE_DP_SCHEMA_H

#include <cjson/cJSON.h>

#include "worker/agents/data_processor/dperror.h"
#include "worker/agents/data_processor/jsonpath.h"

#define SCHEMA_MAX_VIOLATIONS 1000 /* listed in the result; all are counted */

struct schema;

/* Compiles schema (path names it in errors, e.g. "data.schema"). Returns 0 with *out set,
 * DP_BAD_INPUT or DP_NO_MEMORY with err filled. Free with schema_free. */
int schema_compile(const cJSON *schema, const struct jsonpath *path, struct schema **out,
                   struct dp_error *err) __attribute__((warn_unused_result));
/* Accepts NULL. */
void schema_free(struct schema *s);

/* Checks value against s, appending one {"path","keyword","message"} object per violation
 * to violations (when not NULL) while it holds fewer than SCHEMA_MAX_VIOLATIONS. path is
 * the value's ("$", "$[2]"). Returns the number of violations found (listed or not), or -1
 * when out of memory. */
long schema_check(const struct schema *s, const cJSON *value, const char *path, cJSON *violations);

/* The whole task over data (root: "data" or "payload"). Returns 0 with *result set,
 * DP_BAD_INPUT or DP_NO_MEMORY with err filled. */
int schema_run(const cJSON *data, const char *root, cJSON **result, struct dp_error *err)
    __attribute__((warn_unused_result));

#endif
