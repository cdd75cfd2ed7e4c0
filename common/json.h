/* json — typed field access over cJSON objects that either yields a value or a
 * field-named error ready for a 400 response.
 *
 * Lookups return 1 when the field is present and valid (*out set), 0 when it is absent
 * or JSON null and not required (*out untouched), and -1 on error (err filled). */
#ifndef FLOWSTATE_JSON_H
#define FLOWSTATE_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct field_error {
    char field[64];
    char message[192];
};

/* Fills err with "field" and a printf-formatted message. Always returns -1. */
int field_error_set(struct field_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Puts prefix ("jobs[3].") before the field name in err's field and message (every message
 * starts with the field's name), for errors inside an array item. Always returns -1. */
int field_error_prefix(struct field_error *err, const char *prefix);

int json_get_string(const cJSON *obj, const char *name, bool required, size_t min_len,
                    size_t max_len, const char **out, struct field_error *err);
/* Integers only: 2.5 and "2" are errors. */
int json_get_int(const cJSON *obj, const char *name, bool required, long min, long max, long *out,
                 struct field_error *err);
int json_get_bool(const cJSON *obj, const char *name, bool required, bool *out,
                  struct field_error *err);
int json_get_object(const cJSON *obj, const char *name, bool required, cJSON **out,
                    struct field_error *err);
/* An array whose every element is a string of 1..max_len bytes, at most max_items long. */
int json_get_string_array(const cJSON *obj, const char *name, bool required, size_t max_items,
                          size_t max_len, cJSON **out, struct field_error *err);

/* Lenient reads of data we produced ourselves (e.g. a gateway answer): the number, or dflt
 * when the field is missing or not a number; the string, or NULL. */
double json_number_or(const cJSON *obj, const char *name, double dflt);
const char *json_string_or_null(const cJSON *obj, const char *name);

/* Parses text of length len as a JSON object. NULL (err filled, field "body") when it is
 * not JSON or not an object, or (err->field empty) when out of memory. The caller frees with
 * cJSON_Delete. A number whose double does not print back as its text (1e400, more than 15
 * digits, a fraction, an exponent, -0) keeps a copy of its text in valuestring, which
 * json_print writes, so what is stored is exactly what the client sent. Code that changes
 * such a number's value must clear valuestring. */
cJSON *json_parse_object(const char *text, size_t len, struct field_error *err);

/* The shape of a number json_scan_number read. */
struct json_number {
    int digits;      /* integer and fraction digits, leading zeros too */
    int significant; /* digits from the first nonzero one */
    int fraction;    /* digits after the point */
    int exponent;    /* its magnitude, capped at JSON_EXPONENT_CAP */
    bool exponent_negative;
    bool leading_zero; /* refused for a leading zero ("02") */
};
#define JSON_EXPONENT_CAP 1000000

/* Reads the number at p (before end) in RFC 8259's grammar, -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?:
 * the byte after it, with n filled; or NULL when it is not a number there. */
const char *json_scan_number(const char *p, const char *end, struct json_number *n);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or NUL bytes):
 * PostgreSQL rejects anything else, so it is checked before a query is built. */
bool json_is_utf8(const char *s, size_t len);

/* True when s (of length len) consists only of [A-Za-z0-9_.-] and is 1..max_len long. */
bool json_is_identifier(const char *s, size_t max_len);

#endif
