/* sharedargs — the arguments of the shared-memory routes (shared.c), checked apart from any
 * I/O so the rules are unit-tested from a table: the path's scope, scope id and key, and
 * the expected version an If-Match header carries. */
#ifndef FLOWSTATE_SHAREDARGS_H
#define FLOWSTATE_SHAREDARGS_H

#include "common/json.h"

/* Scope ids and keys: 1..200 characters of [A-Za-z0-9_.-] (json_is_identifier), so they
 * need no escaping in a path or a cursor. */
#define SHAREDARGS_NAME_MAX 200
/* Expected versions: 0 (only while the key is absent) up to a bigint's maximum. */
#define SHAREDARGS_VERSION_MAX 0x7fffffffffffffffLL

/* Checks scope ("run" or "conversation"), scope_id and key (NULL: a route without a key).
 * Returns 0, or -1 with err naming the first bad one (field "scope", "scopeId" or "key"). */
int sharedargs_path(const char *scope, const char *scope_id, const char *key,
                    struct field_error *err);

/* Reads an If-Match header (NULL: none) as an expected version: one strong entity tag holding
 * a decimal version, `"7"` (as the routes' ETag headers send it), or the bare number `7`,
 * with blanks around it allowed. Returns 1 with *version set, 0 when header is NULL, or -1
 * with err filled (field "If-Match"): a weak tag (W/"7"), `*`, a list, leading zeros, a
 * sign, or a number over SHAREDARGS_VERSION_MAX. */
int sharedargs_if_match(const char *header, long long *version, struct field_error *err);

#endif
