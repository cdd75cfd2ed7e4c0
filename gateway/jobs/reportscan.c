/* reportscan — see reportscan.h. A cursor walks the body once; every check that fails
 * returns REPORT_SCAN_GENERAL, never an error of its own. */
#include "gateway/jobs/reportscan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/json_print.h"
#include "common/swar.h"

#define NUMBER_DIGITS_MAX 20      /* all digits of a number, leading zeros too */
#define NUMBER_SIGNIFICANT_MAX 15 /* exact through a double (DBL_DIG) */
#define NUMBER_EXPONENT_MAX 280   /* with the digits above, within 10^±300 */
#define INT_DIGITS_MAX 16         /* ids: 2^53 - 1 has 16 */
#define IDS_ON_STACK 512

struct cursor {
    const char *p, *end;
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

/* Skips whitespace, then ch if it is next. */
static bool eat(struct cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

static int hex_value(char h)
{
    if (h >= '0' && h <= '9')
        return h - '0';
    if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
        return (h | 0x20) - 'a' + 10;
    return -1;
}

/* The string whose opening quote is at c->p: moves past it and gives its length in characters
 * (code points, once decoded) and whether it has escapes. false when it is malformed or not
 * plain: a control character, \u0000 (cut short by cJSON, refused by the general path) or an
 * escaped surrogate. */
static bool scan_string(struct cursor *c, size_t *chars, bool *escaped)
{
    const unsigned char *p = (const unsigned char *)c->p + 1, *end = (const unsigned char *)c->end;
    size_t n = 0;
    bool esc = false;
    while (p < end) {
        /* Most text is plain ASCII: eight bytes at a time while none is a quote, a backslash,
         * a control character or non-ASCII (each byte one character). */
        while (end - p >= 8) {
            uint64_t v = swar_load(p);
            uint64_t special =
                swar_high(v) | swar_below(v, 0x20) | swar_equal(v, '"') | swar_equal(v, '\\');
            unsigned plain = special ? swar_first(special) : 8;
            p += plain;
            n += plain;
            if (special)
                break;
        }
        if (p >= end)
            break;
        unsigned ch = *p;
        if (ch == '"') {
            c->p = (const char *)p + 1;
            *chars = n;
            *escaped = esc;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            esc = true;
            if (end - p < 2)
                return false;
            if (p[1] == 'u') {
                if (end - p < 6)
                    return false;
                int v = 0;
                for (int i = 2; i < 6; i++) {
                    int h = hex_value((char)p[i]);
                    if (h < 0)
                        return false;
                    v = v << 4 | h;
                }
                if (v == 0 || (v >= 0xd800 && v <= 0xdfff))
                    return false;
                p += 6;
            } else if (p[1] && strchr("\"\\/bfnrt", p[1])) {
                p += 2;
            } else {
                return false;
            }
            n++;
            continue;
        }
        n += (ch & 0xc0) != 0x80; /* a UTF-8 lead byte or ASCII starts a character */
        p++;
    }
    return false;
}

/* A number at c->p in RFC 8259's grammar that a double holds exactly (see the limits above),
 * so PostgreSQL stores the value the general path would after its round trip through cJSON. */
static bool scan_number(struct cursor *c)
{
    struct json_number n;
    const char *after = json_scan_number(c->p, c->end, &n);
    if (!after || n.digits > NUMBER_DIGITS_MAX || n.significant > NUMBER_SIGNIFICANT_MAX ||
        n.exponent > NUMBER_EXPONENT_MAX)
        return false;
    c->p = after;
    return true;
}

static bool scan_literal(struct cursor *c, const char *word, size_t len)
{
    if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0)
        return false;
    c->p += len;
    return true;
}

static bool scan_value(struct cursor *c, int depth);

/* The members of an object or elements of an array after its opening bracket, and the
 * closing one. */
static bool scan_container(struct cursor *c, char close, int depth)
{
    if (depth >= REPORT_SCAN_DEPTH)
        return false;
    if (eat(c, close))
        return true;
    do {
        if (close == '}') {
            size_t chars;
            bool escaped;
            skip_ws(c);
            if (c->p >= c->end || *c->p != '"' || !scan_string(c, &chars, &escaped) || !eat(c, ':'))
                return false;
        }
        if (!scan_value(c, depth + 1))
            return false;
    } while (eat(c, ','));
    return eat(c, close);
}

/* Any JSON value, after optional whitespace. */
static bool scan_value(struct cursor *c, int depth)
{
    skip_ws(c);
    if (c->p >= c->end)
        return false;
    size_t chars;
    bool escaped;
    switch (*c->p) {
    case '"': return scan_string(c, &chars, &escaped);
    case '{': c->p++; return scan_container(c, '}', depth);
    case '[': c->p++; return scan_container(c, ']', depth);
    case 't': return scan_literal(c, "true", 4);
    case 'f': return scan_literal(c, "false", 5);
    case 'n': return scan_literal(c, "null", 4);
    default: return scan_number(c);
    }
}

/* A plain positive integer (digits, no sign, fraction or exponent) of at most max. Its text is
 * already canonical, so the row copies it. */
static bool scan_count(struct cursor *c, long long max, long long *out, const char **text,
                       size_t *len)
{
    skip_ws(c);
    const char *p = c->p;
    long long v = 0;
    while (p < c->end && is_digit(*p) && p - c->p < INT_DIGITS_MAX)
        v = v * 10 + (*p++ - '0');
    if (p == c->p || *c->p == '0' || v > max ||
        (p < c->end && (is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E')))
        return false;
    *out = v;
    *text = c->p;
    *len = (size_t)(p - c->p);
    c->p = p;
    return true;
}

/* One report: its fields as spans of the body, and the id's value. */
struct report {
    struct report_fields f;
    long long id;
};

enum { SEEN_ID = 1, SEEN_ATTEMPT = 2, SEEN_RESULT = 4, SEEN_ERROR = 8, SEEN_RETRYABLE = 16 };

static bool key_is(const char *key, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(key, name, len) == 0;
}

/* One member of a report object: its key (already scanned) decides which field it fills;
 * other keys are skipped, as the general path ignores them. */
static bool scan_member(struct cursor *c, const char *key, size_t key_len, bool fail,
                        const struct report_limits *lim, struct report *rep, unsigned *seen)
{
    unsigned bit = key_is(key, key_len, "id")          ? SEEN_ID
                   : key_is(key, key_len, "attempt")   ? SEEN_ATTEMPT
                   : key_is(key, key_len, "result")    ? SEEN_RESULT
                   : !fail                             ? 0
                   : key_is(key, key_len, "error")     ? SEEN_ERROR
                   : key_is(key, key_len, "retryable") ? SEEN_RETRYABLE
                                                       : 0;
    if (bit & *seen)
        return false; /* a repeated key: cJSON would take the first */
    *seen |= bit;
    switch (bit) {
    case SEEN_ID: return scan_count(c, lim->max_id, &rep->id, &rep->f.id, &rep->f.id_len);
    case SEEN_ATTEMPT: {
        long long attempt;
        return scan_count(c, lim->max_attempt, &attempt, &rep->f.attempt, &rep->f.attempt_len);
    }
    case SEEN_RESULT:
        skip_ws(c);
        rep->f.result = c->p;
        if (!scan_value(c, 1))
            return false;
        rep->f.result_len = (size_t)(c->p - rep->f.result);
        return true;
    case SEEN_ERROR: {
        skip_ws(c);
        size_t chars;
        bool escaped;
        rep->f.error = c->p;
        if (c->p >= c->end || *c->p != '"' || !scan_string(c, &chars, &escaped) || chars < 1 ||
            chars > lim->max_error_chars)
            return false;
        rep->f.error_len = (size_t)(c->p - rep->f.error);
        return true;
    }
    case SEEN_RETRYABLE:
        skip_ws(c);
        rep->f.retryable = scan_literal(c, "true", 4);
        return rep->f.retryable || scan_literal(c, "false", 5);
    default: return scan_value(c, 1);
    }
}

/* One report object, from its opening brace. */
static bool scan_report(struct cursor *c, bool fail, const struct report_limits *lim,
                        struct report *rep)
{
    *rep = (struct report){.f.retryable = true};
    unsigned seen = 0;
    if (!eat(c, '{') || eat(c, '}'))
        return false;
    do {
        skip_ws(c);
        const char *key = c->p + 1;
        size_t chars;
        bool escaped;
        if (c->p >= c->end || *c->p != '"' || !scan_string(c, &chars, &escaped) || escaped)
            return false;
        size_t key_len = (size_t)(c->p - key) - 1; /* up to the closing quote */
        if (!eat(c, ':') || !scan_member(c, key, key_len, fail, lim, rep, &seen))
            return false;
    } while (eat(c, ','));
    unsigned need = SEEN_ID | SEEN_ATTEMPT | (fail ? SEEN_ERROR : 0);
    return eat(c, '}') && (seen & need) == need;
}

static int compare_ids(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* Whether ids[0..n) holds a value twice. Workers report in claim order, so ascending ids are
 * the common case and need no sort. */
static bool has_repeat(long long *ids, int n, bool ascending)
{
    if (!ascending)
        qsort(ids, (size_t)n, sizeof(*ids), compare_ids);
    for (int k = 1; k < n; k++)
        if (ids[k] == ids[k - 1])
            return true;
    return false;
}

enum report_scan report_scan(const char *text, size_t len, bool fail,
                             const struct report_limits *limits, struct report_columns *cols,
                             int *count)
{
    if (!json_is_utf8(text, len))
        return REPORT_SCAN_GENERAL;
    struct cursor c = {text, text + len};
    if (!eat(&c, '{') || !eat(&c, '"') || !scan_literal(&c, "jobs\"", 5) || !eat(&c, ':') ||
        !eat(&c, '['))
        return REPORT_SCAN_GENERAL;
    long long stack_ids[IDS_ON_STACK], *ids = stack_ids;
    int cap = IDS_ON_STACK, n = 0;
    bool ascending = true;
    enum report_scan rc = REPORT_SCAN_GENERAL;
    do {
        struct report rep;
        if (n == limits->max_reports || !scan_report(&c, fail, limits, &rep))
            goto done;
        if (n == cap) {
            long long *more = malloc((size_t)cap * 2 * sizeof(*more));
            if (!more) {
                rc = REPORT_SCAN_NOMEM;
                goto done;
            }
            memcpy(more, ids, (size_t)n * sizeof(*ids));
            if (ids != stack_ids)
                free(ids);
            ids = more;
            cap *= 2;
        }
        ascending = ascending && (n == 0 || rep.id > ids[n - 1]);
        ids[n] = rep.id;
        if (report_cols_add(cols->col, n, &rep.f, fail) < 0) {
            rc = REPORT_SCAN_NOMEM;
            goto done;
        }
        n++;
    } while (eat(&c, ','));
    if (!eat(&c, ']') || !eat(&c, '}'))
        goto done;
    skip_ws(&c);
    if (c.p != c.end || has_repeat(ids, n, ascending))
        goto done;
    if (report_cols_close(cols->col, fail) < 0) {
        rc = REPORT_SCAN_NOMEM;
        goto done;
    }
    *count = n;
    rc = REPORT_SCAN_OK;
done:
    if (ids != stack_ids)
        free(ids);
    return rc;
}
