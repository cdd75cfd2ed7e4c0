/* jsonpath — building the path of a value inside a JSON document as a string, one step at
 * a time: "data.records[3].amount" for input errors, "$[2].user.email" for schema
 * violations. Keys that are not plain identifiers are written in brackets as JSON strings
 * (["first name"]), so every path reads back unambiguously. */
#ifndef FLOWSTATE_DP_JSONPATH_H
#define FLOWSTATE_DP_JSONPATH_H

#include <stddef.h>

#define JSONPATH_LEN 256

/* A path under construction. Paths longer than JSONPATH_LEN end in "..." (still
 * NUL-terminated). */
struct jsonpath {
    char text[JSONPATH_LEN];
    size_t len;
};

/* Starts the path at root (e.g. "data", "$"; "" starts an empty path). */
void jsonpath_init(struct jsonpath *p, const char *root);
/* Appends .key (or ["key"] when key is not an identifier, or just key on an empty path).
 * Returns the previous length, for jsonpath_pop. */
size_t jsonpath_key(struct jsonpath *p, const char *key);
/* Appends [index]. Returns the previous length. */
size_t jsonpath_index(struct jsonpath *p, size_t index);
/* Cuts the path back to len (a value returned by jsonpath_key / jsonpath_index). */
void jsonpath_pop(struct jsonpath *p, size_t len);

#endif
