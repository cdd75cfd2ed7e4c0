/* reportscan — the fast path for worker report batches against the general parser's answer.
 * Whenever report_scan accepts a body, the body must be one the general path accepts too
 * (json_parse_object, then each report read with the json_get_* checks outcomes.c applies),
 * and the columns it rendered must hold what the general path's columns hold: the same ids,
 * attempts and retryable flags (as text), and the same results and errors as JSON values, each
 * number the same decimal (PostgreSQL stores the digits, so 1.0 and 1 are equal but a number
 * rounded through a double is not). The input's first bytes pick the batch kind and limits. */
#include "tests/fuzz/fuzz.h"

#include <ctype.h>

#include "common/json.h"
#include "common/json_print.h"
#include "gateway/jobs/reportscan.h"

/* The general path's reading of the body into cols, or false where it refuses the body. */
static bool read_general(const char *text, size_t len, bool fail, const struct report_limits *lim,
                         struct report_columns *cols)
{
    struct field_error err;
    cJSON *body = json_parse_object(text, len, &err);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(body, "jobs"), *item;
    int n = cJSON_GetArraySize(jobs), k = 0;
    bool ok = body && cJSON_IsArray(jobs) && n >= 1 && n <= lim->max_reports;
    long long *ids = ok ? calloc((size_t)n, sizeof(*ids)) : NULL;
    const cJSON *reports = ok ? jobs : NULL;
    cJSON_ArrayForEach(item, reports)
    {
        long id = 0, attempt = 0;
        const char *error = NULL;
        bool retryable = true;
        ok = cJSON_IsObject(item) &&
             json_get_int(item, "id", true, 1, (long)lim->max_id, &id, &err) == 1 &&
             json_get_int(item, "attempt", true, 1, lim->max_attempt, &attempt, &err) == 1 &&
             (!fail || (json_get_string(item, "error", true, 1, (size_t)-1, &error, &err) == 1 &&
                        json_get_bool(item, "retryable", false, &retryable, &err) >= 0));
        size_t chars = 0;
        for (const char *p = error; p && *p; p++)
            chars += (*p & 0xc0) != 0x80;
        if (!ok || chars > lim->max_error_chars) {
            ok = false;
            break;
        }
        for (int j = 0; j < k; j++)
            if (ids[j] == id)
                ok = false;
        ids[k] = id;
        char id_text[24], attempt_text[24];
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(item, "result");
        char *result_text = result ? json_print(result) : NULL;
        char *error_text =
            fail ? json_print(cJSON_GetObjectItemCaseSensitive(item, "error")) : NULL;
        struct report_fields f = {.id = id_text,
                                  .attempt = attempt_text,
                                  .result = result_text,
                                  .error = error_text,
                                  .retryable = retryable};
        f.id_len = (size_t)snprintf(id_text, sizeof(id_text), "%ld", id);
        f.attempt_len = (size_t)snprintf(attempt_text, sizeof(attempt_text), "%ld", attempt);
        f.result_len = f.result ? strlen(f.result) : 0;
        f.error_len = f.error ? strlen(f.error) : 0;
        if (report_cols_add(cols->col, k++, &f, fail) < 0)
            abort();
        free(result_text);
        free(error_text);
        if (!ok)
            break;
    }
    if (ok && report_cols_close(cols->col, fail) < 0)
        abort();
    free(ids);
    cJSON_Delete(body);
    return ok;
}

/* A JSON number's value as sign, digits without leading or trailing zeros, and the power of
 * ten of the last digit, in out: "-0.250e-1" is "-25e-3"; every zero is "0". */
static void decimal(const char *p, const char *end, char *out, size_t len)
{
    bool negative = *p == '-';
    p += negative;
    char digits[64];
    size_t n = 0;
    long exp = 0;
    bool fraction = false;
    for (; p < end && (isdigit((unsigned char)*p) || *p == '.'); p++) {
        if (*p == '.') {
            fraction = true;
            continue;
        }
        if (n == sizeof(digits)) /* digits past the buffer: only their scale is kept */
            exp += !fraction;
        else if (n || *p != '0')
            digits[n++] = *p, exp -= fraction;
        else
            exp -= fraction;
    }
    if (p < end && (*p == 'e' || *p == 'E'))
        exp += strtol(p + 1, NULL, 10);
    while (n && digits[n - 1] == '0')
        n--, exp++;
    if (!n)
        snprintf(out, len, "0");
    else
        snprintf(out, len, "%s%.*se%ld", negative ? "-" : "", (int)n, digits, exp);
}

/* The next number in JSON text at *p (strings skipped), as decimal() writes it; false at the
 * end. */
static bool next_number(const char **p, const char *end, char *out, size_t len)
{
    for (const char *s = *p; s < end; s++) {
        if (*s == '"') {
            for (s++; s < end && *s != '"'; s++)
                s += *s == '\\';
        } else if (*s == '-' || isdigit((unsigned char)*s)) {
            const char *e = s + 1;
            while (e < end && (isdigit((unsigned char)*e) || strchr(".eE+-", *e)))
                e++;
            decimal(s, e, out, len);
            *p = e;
            return true;
        }
    }
    return false;
}

/* Deep equality that keeps members in order, repeated keys too (cJSON_Compare looks members up
 * by name, so it finds only the first of a repeated key). Numbers are compared as decimals
 * apart (same_json). */
static bool same_tree(const cJSON *a, const cJSON *b)
{
    if ((a->type & 0xff) != (b->type & 0xff) || (a->string == NULL) != (b->string == NULL) ||
        (a->string && strcmp(a->string, b->string) != 0) ||
        (cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring) != 0))
        return false;
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
        if (!same_tree(x, y))
            return false;
    return !x && !y;
}

/* Two JSON columns hold the same values: equal as trees, and each number (in order) the same
 * decimal. */
static void same_json(const struct strbuf *fast, const struct strbuf *general, const char *what)
{
    cJSON *a = cJSON_ParseWithLength(fast->p, fast->len);
    cJSON *b = cJSON_ParseWithLength(general->p, general->len);
    FUZZ_CHECK(a && b && same_tree(a, b), "%s differ:\n%s\n%s", what, fast->p, general->p);
    cJSON_Delete(a);
    cJSON_Delete(b);
    const char *p = fast->p, *q = general->p;
    char x[96], y[96];
    for (;;) {
        bool more = next_number(&p, fast->p + fast->len, x, sizeof(x));
        if (!next_number(&q, general->p + general->len, y, sizeof(y)) && !more)
            break;
        FUZZ_CHECK(more && strcmp(x, y) == 0, "%s: a number differs (%s, %s):\n%s\n%s", what,
                   more ? x : "none", y, fast->p, general->p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned mode = fuzz_byte(&data, &size), sizes = fuzz_byte(&data, &size);
    bool fail = mode & 1;
    const struct report_limits lim = {
        .max_reports = 1 + (int)(sizes & 15),
        .max_id = mode & 2 ? 9007199254740991LL : 1000,
        .max_attempt = mode & 4 ? 2147483647L : 100,
        .max_error_chars = 1 + (sizes >> 4),
    };
    const char *text = (const char *)data;
    struct report_columns fast = {{{0}}}, general = {{{0}}};
    int count = -1;
    enum report_scan rc = report_scan(text, size, fail, &lim, &fast, &count);
    FUZZ_CHECK(rc != REPORT_SCAN_NOMEM, "out of memory");
    if (rc == REPORT_SCAN_OK) {
        FUZZ_CHECK(read_general(text, size, fail, &lim, &general),
                   "report_scan accepted a body the general path refuses");
        FUZZ_CHECK(count >= 1 && count <= lim.max_reports, "count %d", count);
        static const char *const names[REPORT_COLS] = {"ids", "attempts", "results", "errors",
                                                       "retryable"};
        for (int k = 0; k < report_cols_count(fail); k++) {
            const struct strbuf *f = &fast.col[k], *g = &general.col[k];
            if (k == REPORT_COL_RESULTS || k == REPORT_COL_ERRORS)
                same_json(f, g, names[k]);
            else
                FUZZ_CHECK(f->len == g->len && memcmp(f->p, g->p, f->len) == 0,
                           "%s differ: %s / %s", names[k], f->p, g->p);
        }
        if (!fail)
            FUZZ_CHECK(!fast.col[REPORT_COL_ERRORS].p && !fast.col[REPORT_COL_RETRYABLE].p,
                       "a completion rendered fail columns");
    }
    report_columns_free(&fast);
    report_columns_free(&general);
    return 0;
}
