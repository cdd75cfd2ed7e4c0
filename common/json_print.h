/* json_print — fast compact JSON text of a cJSON tree (a drop-in for cJSON_PrintUnformatted; see
 * json_print.c for why). */
#ifndef FLOWSTATE_JSON_PRINT_H
#define FLOWSTATE_JSON_PRINT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"

/* Room for any number json_print_number writes, with its NUL. */
#define JSON_NUMBER_MAX 32

/* The text of item, malloc'ed (the caller frees it), or NULL when out of memory or the tree holds
 * an invalid item. Same text as cJSON_PrintUnformatted, except that integers of 10^15 and more
 * (below 2^53) are written out in digits instead of exponent form, and numbers cJSON would round
 * (it accepts 15 digits that are merely close) are written exactly. A number with a valuestring
 * (json_parse_object keeps the text of numbers a double cannot carry) is written as that text. */
char *json_print(const cJSON *item);

/* Appends the same text to b. 0, or -1 (b as it was) when out of memory or invalid. */
int json_print_append(struct strbuf *b, const cJSON *item);

/* Appends s as a JSON string: quoted, with quotes, backslashes and control characters escaped
 * and other bytes as they are, the escapes PostgreSQL's JSON output uses too. 0, or -1 (b as
 * it was). */
int json_print_string(struct strbuf *b, const char *s);

/* Writes d as JSON into buf (NaN and infinities as null); returns its length. */
size_t json_print_number(double d, char buf[JSON_NUMBER_MAX]);

#endif
