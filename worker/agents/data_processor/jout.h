/* jout — building a task's result without checking every allocation: each adder records a
 * failure in the builder (and tolerates a NULL parent left by an earlier failure), so the
 * caller checks once, at the end, whether the result is complete. */
#ifndef FLOWSTATE_DP_JOUT_H
#define FLOWSTATE_DP_JOUT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

struct jout {
    bool failed; /* some allocation failed: the result is incomplete, discard it */
};

/* Adds name: value to obj (or appends value to obj when obj is an array and name is NULL).
 * Non-finite numbers are added as null. */
void jout_num(struct jout *o, cJSON *obj, const char *name, double value);
void jout_str(struct jout *o, cJSON *obj, const char *name, const char *value);
void jout_bool(struct jout *o, cJSON *obj, const char *name, bool value);
void jout_null(struct jout *o, cJSON *obj, const char *name);
/* Adds item (owned from now on; freed when it cannot be added). item may be NULL (a failed
 * allocation), which marks the builder failed. Returns item, or NULL. */
cJSON *jout_item(struct jout *o, cJSON *obj, const char *name, cJSON *item);
/* Adds a new empty object / array and returns it (NULL on failure). */
cJSON *jout_obj(struct jout *o, cJSON *obj, const char *name);
cJSON *jout_arr(struct jout *o, cJSON *obj, const char *name);

#endif
