/* json — typed, validated field access over cJSON with field-named errors. */
#include "common/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/swar.h"

int field_error_set(struct field_error *err, const char *field, const char *fmt, ...)
{
    snprintf(err->field, sizeof(err->field), "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

int field_error_prefix(struct field_error *err, const char *prefix)
{
    if (!prefix[0] || !err->field[0])
        return -1;
    struct field_error e;
    int n = snprintf(e.field, sizeof(e.field), "%s%s", prefix, err->field);
    int m = snprintf(e.message, sizeof(e.message), "%s%s", prefix, err->message);
    if (n > 0 && m > 0)
        *err = e;
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
        return field_error_set(err, name, "%s must be %zu to %zu characters long", name, min_len,
                               max_len);
    }
    *out = item->valuestring;
    return 1;
}

int json_get_int(const cJSON *obj, const char *name, bool required, long min, long max, long *out,
                 struct field_error *err)
{
    int rc;
    cJSON *item = lookup(obj, name, required, &rc, err);
    if (!item)
        return rc;
    double v = item->valuedouble;
    /* 2^63 does not fit a long even though (double)LONG_MAX rounds up to it. */
    if (!cJSON_IsNumber(item) || !isfinite(v) || v != floor(v) || v < (double)min ||
        v > (double)max || v >= 9223372036854775808.0 || v < -9223372036854775808.0)
        return field_error_set(err, name, "%s must be an integer from %ld to %ld", name, min, max);
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
            return field_error_set(
                err, name, "%s must be an array of non-empty strings of at most %zu characters",
                name, max_len);
        if (++n > max_items)
            return field_error_set(err, name, "%s may hold at most %zu items", name, max_items);
    }
    *out = item;
    return 1;
}

bool json_is_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        /* Most text is ASCII: eight bytes at a time while none has its high bit set and
         * none is NUL. */
        while (end - p >= 8) {
            uint64_t v = swar_load(p);
            if (swar_high(v) | swar_below(v, 1))
                break;
            p += 8;
        }
        if (p >= end)
            break;
        unsigned c = *p;
        size_t n;
        unsigned min;
        if (c == 0)
            return false;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (p[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

const char *json_scan_number(const char *p, const char *end, struct json_number *n)
{
    *n = (struct json_number){0};
    if (p < end && *p == '-')
        p++;
    if (p >= end || !is_digit(*p))
        return NULL;
    if (*p == '0' && p + 1 < end && is_digit(p[1])) {
        n->leading_zero = true;
        return NULL;
    }
    for (bool fraction = false;; fraction = true) {
        for (; p < end && is_digit(*p); p++) {
            n->digits++;
            n->fraction += fraction;
            n->significant += n->significant > 0 || *p != '0';
        }
        if (fraction || p >= end || *p != '.')
            break;
        if (++p >= end || !is_digit(*p))
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-'))
            n->exponent_negative = *p++ == '-';
        if (p >= end || !is_digit(*p))
            return NULL;
        for (; p < end && is_digit(*p); p++)
            if (n->exponent < JSON_EXPONENT_CAP)
                n->exponent = n->exponent * 10 + (*p - '0');
    }
    return p;
}

/* PostgreSQL's numeric (which jsonb stores numbers in) holds at most this many digits before
 * the decimal point and after it; a number beyond either fails the statement. */
#define NUMERIC_INTEGER_DIGITS_MAX 131072
#define NUMERIC_FRACTION_DIGITS_MAX 16383

/* True when PostgreSQL can store the number (its integer digits bounded from above). */
static bool number_fits_numeric(const struct json_number *n)
{
    long integer = n->digits - n->fraction, fraction = n->fraction;
    if (integer == 1 && n->significant <= n->fraction)
        integer = 0; /* "0.xxx" or "0": the zero before the point is no digit */
    if (n->exponent_negative)
        fraction += n->exponent;
    else
        integer += n->exponent, fraction = fraction > n->exponent ? fraction - n->exponent : 0;
    return integer <= NUMERIC_INTEGER_DIGITS_MAX && fraction <= NUMERIC_FRACTION_DIGITS_MAX;
}

/* True when a number's text is what json_print writes for its double (a plain integer of
 * at most 15 digits, not -0), so it needs no copy of its text to be stored exactly. */
static bool number_prints_back(const char *start, const char *stop, const struct json_number *n)
{
    if (n->digits > 15 || stop - start != n->digits + (*start == '-'))
        return false;
    return !(*start == '-' && n->significant == 0);
}

/* cJSON is lenient where RFC 8259 is not (numbers such as 02, 1. or .5) and decodes
 * \u0000 into a NUL that silently cuts strings short. This pass rejects both before
 * parsing, and tells (*inexact) whether a number's text differs from what its double
 * prints back. Returns NULL when the text is acceptable, else a message. */
static const char *strict_scan(const char *p, const char *end, bool *inexact)
{
    while (p < end) {
        if (*p == '"') {
            for (p++; p < end && *p != '"'; p++) {
                if (*p != '\\')
                    continue;
                if (++p < end && *p == 'u' && end - p >= 5 && !strncmp(p + 1, "0000", 4))
                    return "\\u0000 is not allowed in strings";
            }
            p++;
        } else if (*p == '-' || is_digit(*p)) {
            struct json_number n;
            const char *start = p;
            p = json_scan_number(p, end, &n);
            if (!p)
                return n.leading_zero
                           ? "the request body is not valid JSON (numbers may not have leading zeros)"
                           : "the request body is not valid JSON (bad number)";
            if (!number_fits_numeric(&n))
                return "a number in the request body cannot be stored (PostgreSQL keeps at most "
                       "131072 digits before the decimal point and 16383 after it)";
            *inexact |= !number_prints_back(start, p, &n);
        } else if (*p == '.') {
            return "the request body is not valid JSON (bad number)";
        } else {
            p++;
        }
    }
    return NULL;
}

/* The start of the next number in text at or after *p (outside strings); *p moves past it.
 * The text is known to be valid, so every byte that starts a number is '-' or a digit. */
static const char *next_number(const char **p, const char *end, const char **stop)
{
    for (const char *q = *p; q < end; q++) {
        if (*q == '"') {
            for (q++; q < end && *q != '"'; q++)
                q += *q == '\\';
        } else if (*q == '-' || is_digit(*q)) {
            struct json_number n;
            *stop = json_scan_number(q, end, &n);
            *p = *stop;
            return q;
        }
    }
    return NULL;
}

/* Gives every number of item (in document order, as they appear in text from *p) whose text
 * its double does not print back a copy of that text in valuestring, which json_print
 * writes instead of the double. Returns 0, or -1 when out of memory. */
static int keep_number_text(cJSON *item, const char **p, const char *end)
{
    for (; item; item = item->next) {
        if (cJSON_IsNumber(item)) {
            const char *stop, *start = next_number(p, end, &stop);
            struct json_number n;
            if (!start || !json_scan_number(start, end, &n))
                return -1;
            if (!number_prints_back(start, stop, &n) &&
                !(item->valuestring = strndup(start, (size_t)(stop - start))))
                return -1;
        } else if (item->child && keep_number_text(item->child, p, end) < 0) {
            return -1;
        }
    }
    return 0;
}

cJSON *json_parse_object(const char *text, size_t len, struct field_error *err)
{
    if (len == 0) {
        field_error_set(err, "body", "the request body is empty; a JSON object is required");
        return NULL;
    }
    if (!json_is_utf8(text, len)) {
        field_error_set(err, "body", "the request body is not valid UTF-8");
        return NULL;
    }
    bool inexact = false;
    const char *problem = strict_scan(text, text + len, &inexact);
    if (problem) {
        field_error_set(err, "body", "%s", problem);
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
    /* Numbers reach PostgreSQL as the client wrote them (jsonb keeps every digit), not as the
     * doubles cJSON read them into: 1e400, a 30-digit integer or 0.10 would otherwise be
     * stored as null or rounded. Bodies of small integers only skip this. */
    const char *p = text;
    if (inexact && keep_number_text(root, &p, text + len) < 0) {
        cJSON_Delete(root);
        err->field[0] = '\0';
        snprintf(err->message, sizeof(err->message), "out of memory");
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

double json_number_or(const cJSON *obj, const char *name, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

const char *json_string_or_null(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
