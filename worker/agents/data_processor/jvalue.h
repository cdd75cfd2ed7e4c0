/* jvalue — JSON values compared, tested for equality and rendered the same way everywhere
 * in the data_processor: one total order (so sorts, group keys and dedupe agree with each
 * other and never depend on the order of an object's keys), and one canonical text.
 *
 * The order: missing < null < false < true < numbers (by value) < strings (bytewise, which
 * for UTF-8 is code-point order) < arrays (element by element, then shorter first) <
 * objects (key/value pairs in sorted key order, compared pairwise, then fewer keys first).
 * A NULL pointer stands for a missing value. */
#ifndef FLOWSTATE_DP_JVALUE_H
#define FLOWSTATE_DP_JVALUE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* <0, 0 or >0 as a sorts before, equal to, or after b in the order above. */
int jvalue_compare(const cJSON *a, const cJSON *b);
/* jvalue_compare(a, b) == 0: deep equality, 1 equals 1.0, key order ignored. */
bool jvalue_equal(const cJSON *a, const cJSON *b);

/* The canonical JSON text of v: no spaces, object keys sorted bytewise, numbers in the
 * shortest of %.15g / %.17g that reads back exactly. NULL (missing) renders as "~". Returns
 * a malloc'd string the caller frees, or NULL when out of memory. */
char *jvalue_render(const cJSON *v);

/* "null", "boolean", "number", "string", "array", "object", or "missing" for NULL. */
const char *jvalue_type_name(const cJSON *v);

/* Nesting depth: 0 for scalars, 1 for an empty or flat array/object, and so on. */
int jvalue_depth(const cJSON *v);

/* The member name of obj, or NULL when obj is not an object or lacks it. */
const cJSON *jvalue_member(const cJSON *obj, const char *name);

#endif
