/* refpath — the tiny JSON path language of workflow input references: "$" followed by
 * ".key" and "[index]" steps, e.g. "$.steps.clean.result.records[0].id". A key runs to the
 * next '.' or '[' (so keys holding those characters cannot be reached); an index is a
 * decimal array position. No wildcards, filters or quoting. */
#ifndef FLOWSTATE_COORD_REFPATH_H
#define FLOWSTATE_COORD_REFPATH_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define REFPATH_MAX 512 /* longest accepted path, in bytes */

/* Checks that path is well formed. Returns 0, or -1 with why (a short phrase such as
 * "an empty key at byte 8") written to why[0..len). */
int refpath_check(const char *path, char *why, size_t len);

/* The value path points at inside root ("$" is root itself), or NULL when the path is
 * malformed or leads nowhere (a missing key, an index past the end, a step into a
 * scalar). The result points into root. */
const cJSON *refpath_get(const cJSON *root, const char *path);

/* Splits the first segment off path (after "$", or after a previous call): *key gets the
 * key (NUL-terminated, in buf of size bufsize) or NULL and *index the index for "[n]".
 * Returns the rest of the path, or NULL when the path is malformed or at its end (*key
 * NULL and *index -1 then). For callers that check a path's prefix (workflow validation). */
const char *refpath_next(const char *path, char *buf, size_t bufsize, const char **key,
                         long *index);

#endif
