/* reportscan: the columns rendered for plain report batches (golden text), and every kind of
 * body it must leave to the general path: malformed JSON, unusual but valid shapes, values
 * out of range, repeated ids, numbers a double would change. Every body it accepts must
 * also be one the general path's parser accepts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "gateway/jobs/reportscan.h"
#include "tests/unit/harness.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static const struct report_limits limits = {3, 9007199254740991LL, 2147483647L, 4};

struct scan_case {
    const char *label;
    bool fail;
    const char *body;
    const char *columns; /* "ids | attempts | results[ | errors | retryable]"; NULL: general */
};

/* clang-format off */
#define OK(label, fail, body, columns) {label, fail, body, columns}
#define GENERAL(label, fail, body) {label, fail, body, NULL}
/* clang-format on */
#define C false /* complete */
#define F true  /* fail */

/* clang-format off */
static const struct scan_case scan_cases[] = {
    OK("one complete", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":{\"pong\":true}}]}",
       "{1} | {1} | [{\"pong\":true}]"),
    OK("whitespace everywhere, result copied as written", C,
       " {\n\"jobs\" :\t[ { \"id\" : 7 , \"attempt\" : 2 , \"result\" : [ 1 , \"a\" ] } ,"
       "{\"attempt\":1,\"id\":9}\r] } \n",
       "{7,9} | {2,1} | [[ 1 , \"a\" ],null]"),
    OK("no result", C, "{\"jobs\":[{\"id\":5,\"attempt\":3}]}", "{5} | {3} | [null]"),
    OK("null result", C, "{\"jobs\":[{\"id\":5,\"attempt\":3,\"result\":null}]}",
       "{5} | {3} | [null]"),
    OK("unknown keys skipped", C,
       "{\"jobs\":[{\"note\":{\"x\":[1,{}]},\"id\":1,\"Id\":2,\"attempt\":1,\"n\":1,\"n\":2}]}",
       "{1} | {1} | [null]"),
    OK("a complete ignores error and retryable", C,
       "{\"jobs\":[{\"id\":1,\"attempt\":1,\"error\":5,\"retryable\":null}]}",
       "{1} | {1} | [null]"),
    OK("string escapes", C,
       "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\"a\\\"b\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uFFFF\"}]}",
       "{1} | {1} | [\"a\\\"b\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uFFFF\"]"),
    OK("UTF-8 text", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":{\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}}]}",
       "{1} | {1} | [{\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}]"),
    OK("numbers a double holds", C,
       "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":[0,-0,-1,1.5,-0.25e-3,1E+10,2e280,"
       "123456789012345,0.000000000000000001]}]}",
       "{1} | {1} | [[0,-0,-1,1.5,-0.25e-3,1E+10,2e280,123456789012345,0.000000000000000001]]"),
    OK("literals and empty containers", C,
       "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":{\"t\":true,\"f\":false,\"n\":null,\"o\":{},\"a\":[]}}]}",
       "{1} | {1} | [{\"t\":true,\"f\":false,\"n\":null,\"o\":{},\"a\":[]}]"),
    OK("duplicate keys inside a result kept", C,
       "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":{\"a\":1,\"a\":2}}]}",
       "{1} | {1} | [{\"a\":1,\"a\":2}]"),
    OK("descending ids", C, "{\"jobs\":[{\"id\":3,\"attempt\":1},{\"id\":2,\"attempt\":1},{\"id\":1,\"attempt\":1}]}",
       "{3,2,1} | {1,1,1} | [null,null,null]"),
    OK("largest id and attempt", C,
       "{\"jobs\":[{\"id\":9007199254740991,\"attempt\":2147483647}]}",
       "{9007199254740991} | {2147483647} | [null]"),
    OK("fail, retryable by default", F, "{\"jobs\":[{\"id\":1,\"attempt\":2,\"error\":\"boom\"}]}",
       "{1} | {2} | [null] | [\"boom\"] | {t}"),
    OK("fail, not retryable, with a result", F,
       "{\"jobs\":[{\"retryable\":false,\"error\":\"b\\u00e9\\n\",\"result\":{\"partial\":1},\"attempt\":1,\"id\":4}]}",
       "{4} | {1} | [{\"partial\":1}] | [\"b\\u00e9\\n\"] | {f}"),
    OK("fail, two reports", F,
       "{\"jobs\":[{\"id\":8,\"attempt\":1,\"error\":\"a\",\"retryable\":true},"
       "{\"id\":6,\"attempt\":3,\"error\":\"b\",\"retryable\":false,\"result\":[]}]}",
       "{8,6} | {1,3} | [null,[]] | [\"a\",\"b\"] | {t,f}"),
    OK("fail, error at the character limit in multi-byte text", F,
       "{\"jobs\":[{\"id\":1,\"attempt\":1,\"error\":\"\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac\\t\",\"retryable\":true}]}",
       "{1} | {1} | [null] | [\"\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac\\t\"] | {t}"),

    /* malformed */
    GENERAL("empty", C, ""),
    GENERAL("an array", C, "[{\"id\":1,\"attempt\":1}]"),
    GENERAL("cut short", C, "{\"jobs\":[{\"id\":1,\"attempt\":1}]"),
    GENERAL("text after the object", C, "{\"jobs\":[{\"id\":1,\"attempt\":1}]} x"),
    GENERAL("two objects", C, "{\"jobs\":[{\"id\":1,\"attempt\":1}]}{}"),
    GENERAL("trailing comma in jobs", C, "{\"jobs\":[{\"id\":1,\"attempt\":1},]}"),
    GENERAL("trailing comma in an item", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,}]}"),
    GENERAL("unterminated string", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\"abc}]}"),
    GENERAL("raw tab in a string", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\"a\tb\"}]}"),
    GENERAL("bad escape", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\"\\x41\"}]}"),
    GENERAL("bad \\u digits", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\"\\u12G4\"}]}"),
    GENERAL("short \\u", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\"\\u12\"}]}"),
    GENERAL("\\u0000", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\"a\\u0000b\"}]}"),
    GENERAL("escaped surrogate pair", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\"\\ud83d\\ude00\"}]}"),
    GENERAL("lone surrogate", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\"\\udc00\"}]}"),
    GENERAL("invalid UTF-8", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\"\xff\"}]}"),
    GENERAL("leading zero", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":01}]}"),
    GENERAL("no fraction digits", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":1.}]}"),
    GENERAL("no integer digits", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":.5}]}"),
    GENERAL("a lone minus", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":-}]}"),
    GENERAL("no exponent digits", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":1e}]}"),
    GENERAL("plus sign", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":+1}]}"),
    GENERAL("cut literal", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":tru}]}"),
    GENERAL("capital literal", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":Null}]}"),
    GENERAL("member without value", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":{\"a\"}}]}"),
    GENERAL("number as key", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":{1:2}}]}"),
    GENERAL("trailing comma in a result", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":[1,]}]}"),
    GENERAL("form feed as whitespace", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\f1}]}"),

    /* valid JSON, but numbers a double would change */
    GENERAL("16 significant digits", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":1234567890123456}]}"),
    GENERAL("16 significant digits with a fraction", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":1.234567890123456}]}"),
    GENERAL("21 digits", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":0.00000000000000000001}]}"),
    GENERAL("large exponent", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":1e281}]}"),
    GENERAL("large negative exponent", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":1e-281}]}"),
    GENERAL("huge exponent", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":1e99999999999999999999}]}"),

    /* valid JSON of another shape */
    GENERAL("another top-level key after", C, "{\"jobs\":[{\"id\":1,\"attempt\":1}],\"x\":1}"),
    GENERAL("another top-level key before", C, "{\"x\":1,\"jobs\":[{\"id\":1,\"attempt\":1}]}"),
    GENERAL("escaped top-level key", C, "{\"job\\u0073\":[{\"id\":1,\"attempt\":1}]}"),
    GENERAL("jobs not an array", C, "{\"jobs\":{\"id\":1,\"attempt\":1}}"),
    GENERAL("no reports", C, "{\"jobs\":[]}"),
    GENERAL("more reports than the limit", C,
            "{\"jobs\":[{\"id\":1,\"attempt\":1},{\"id\":2,\"attempt\":1},{\"id\":3,\"attempt\":1},{\"id\":4,\"attempt\":1}]}"),
    GENERAL("a report not an object", C, "{\"jobs\":[1]}"),
    GENERAL("an empty report", C, "{\"jobs\":[{}]}"),
    GENERAL("escaped key", C, "{\"jobs\":[{\"\\u0069d\":1,\"attempt\":1}]}"),
    GENERAL("repeated key", C, "{\"jobs\":[{\"id\":1,\"id\":2,\"attempt\":1}]}"),
    GENERAL("repeated result", C, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":1,\"result\":2}]}"),
    GENERAL("repeated id, adjacent", C, "{\"jobs\":[{\"id\":1,\"attempt\":1},{\"id\":1,\"attempt\":2}]}"),
    GENERAL("repeated id, apart", C,
            "{\"jobs\":[{\"id\":2,\"attempt\":1},{\"id\":1,\"attempt\":1},{\"id\":2,\"attempt\":1}]}"),
    GENERAL("no id", C, "{\"jobs\":[{\"attempt\":1}]}"),
    GENERAL("no attempt", C, "{\"jobs\":[{\"id\":1}]}"),
    GENERAL("id 0", C, "{\"jobs\":[{\"id\":0,\"attempt\":1}]}"),
    GENERAL("id -1", C, "{\"jobs\":[{\"id\":-1,\"attempt\":1}]}"),
    GENERAL("id 1.0", C, "{\"jobs\":[{\"id\":1.0,\"attempt\":1}]}"),
    GENERAL("id 1e0", C, "{\"jobs\":[{\"id\":1e0,\"attempt\":1}]}"),
    GENERAL("id as a string", C, "{\"jobs\":[{\"id\":\"1\",\"attempt\":1}]}"),
    GENERAL("id with a leading zero", C, "{\"jobs\":[{\"id\":01,\"attempt\":1}]}"),
    GENERAL("id null", C, "{\"jobs\":[{\"id\":null,\"attempt\":1}]}"),
    GENERAL("id 2^53", C, "{\"jobs\":[{\"id\":9007199254740992,\"attempt\":1}]}"),
    GENERAL("id of 17 digits", C, "{\"jobs\":[{\"id\":12345678901234567,\"attempt\":1}]}"),
    GENERAL("attempt 0", C, "{\"jobs\":[{\"id\":1,\"attempt\":0}]}"),
    GENERAL("attempt 2^31", C, "{\"jobs\":[{\"id\":1,\"attempt\":2147483648}]}"),
    GENERAL("fail without error", F, "{\"jobs\":[{\"id\":1,\"attempt\":1}]}"),
    GENERAL("fail, empty error", F, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"error\":\"\"}]}"),
    GENERAL("fail, error not a string", F, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"error\":5}]}"),
    GENERAL("fail, error null", F, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"error\":null}]}"),
    GENERAL("fail, error over the limit", F, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"error\":\"abcde\"}]}"),
    GENERAL("fail, error over the limit by an escape", F,
            "{\"jobs\":[{\"id\":1,\"attempt\":1,\"error\":\"abcd\\n\"}]}"),
    GENERAL("fail, retryable null", F, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"error\":\"x\",\"retryable\":null}]}"),
    GENERAL("fail, retryable a string", F,
            "{\"jobs\":[{\"id\":1,\"attempt\":1,\"error\":\"x\",\"retryable\":\"yes\"}]}"),
};
/* clang-format on */

/* The columns as one text, " | " between them (errors and retryable only for a fail batch). */
static char *joined(const struct report_columns *cols, bool fail)
{
    struct strbuf out = {0};
    const struct strbuf *parts = cols->col;
    for (int k = 0; k < report_cols_count(fail); k++) {
        if (k)
            strbuf_add(&out, " | ", 3);
        strbuf_add(&out, parts[k].p ? parts[k].p : "(none)", parts[k].p ? parts[k].len : 6);
    }
    return out.p;
}

static void scan_case_run(const void *arg)
{
    const struct scan_case *c = arg;
    struct report_columns cols = {0};
    int count = -1;
    enum report_scan rc = report_scan(c->body, strlen(c->body), c->fail, &limits, &cols, &count);
    if (c->columns) {
        CHECK_LONG(rc, REPORT_SCAN_OK);
        char *text = joined(&cols, c->fail);
        CHECK_STR(text, c->columns);
        free(text);
        int items = 1;
        for (const char *p = c->columns; *p != '}'; p++)
            items += *p == ',';
        CHECK_LONG(count, items);
        if (!c->fail)
            CHECK(cols.col[REPORT_COL_ERRORS].p == NULL &&
                  cols.col[REPORT_COL_RETRYABLE].p == NULL);
        /* never accepts what the general path's parser refuses */
        struct field_error err;
        cJSON *tree = json_parse_object(c->body, strlen(c->body), &err);
        CHECK(tree != NULL);
        cJSON_Delete(tree);
    } else {
        CHECK_LONG(rc, REPORT_SCAN_GENERAL);
        CHECK_LONG(count, -1);
    }
    report_columns_free(&cols);
}

/* A NUL byte inside the body (its length counts past it). */
static void scan_nul_byte(const void *arg)
{
    (void)arg;
    static const char body[] = "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":\"a\0b\"}]}";
    struct report_columns cols = {0};
    int count = -1;
    CHECK_LONG(report_scan(body, sizeof(body) - 1, false, &limits, &cols, &count),
               REPORT_SCAN_GENERAL);
    report_columns_free(&cols);
}

/* Results nested as deep as the scan goes, and one level deeper. */
static void scan_depth(const void *arg)
{
    (void)arg;
    for (int extra = 0; extra < 2; extra++) {
        int levels = REPORT_SCAN_DEPTH - 1 + extra;
        struct strbuf body = {0};
        strbuf_add(&body, "{\"jobs\":[{\"id\":1,\"attempt\":1,\"result\":", 38);
        for (int k = 0; k < levels; k++)
            strbuf_add(&body, "[", 1);
        for (int k = 0; k < levels; k++)
            strbuf_add(&body, "]", 1);
        strbuf_add(&body, "}]}", 3);
        struct report_columns cols = {0};
        int count = 0;
        CHECK_LONG(report_scan(body.p, body.len, false, &limits, &cols, &count),
                   extra ? REPORT_SCAN_GENERAL : REPORT_SCAN_OK);
        free(body.p);
        report_columns_free(&cols);
    }
}

/* More reports than fit the id list kept on the stack, in and out of order, with and without a
 * repeated id at the very end. */
static void scan_many(const void *arg)
{
    (void)arg;
    const struct report_limits many = {10000, 9007199254740991LL, 2147483647L, 10};
    const int n = 1500;
    for (int variant = 0; variant < 4; variant++) {
        bool descending = variant & 1, repeat = variant & 2;
        struct strbuf body = {0};
        strbuf_add(&body, "{\"jobs\":[", 9);
        for (int k = 0; k < n; k++) {
            char item[96];
            long id = descending ? n - k : k + 1;
            if (repeat && k == n - 1)
                id = descending ? n : 1;
            int len =
                snprintf(item, sizeof(item), "%s{\"id\":%ld,\"attempt\":1,\"result\":{\"k\":%d}}",
                         k ? "," : "", id, k);
            strbuf_add(&body, item, (size_t)len);
        }
        strbuf_add(&body, "]}", 2);
        struct report_columns cols = {0};
        int count = 0;
        enum report_scan rc = report_scan(body.p, body.len, false, &many, &cols, &count);
        CHECK_LONG(rc, repeat ? REPORT_SCAN_GENERAL : REPORT_SCAN_OK);
        if (!repeat) {
            CHECK_LONG(count, n);
            CHECK_STR(strrchr(cols.col[REPORT_COL_IDS].p, ',') + 1, descending ? "1}" : "1500}");
            cJSON *results = cJSON_Parse(cols.col[REPORT_COL_RESULTS].p);
            CHECK(cJSON_GetArraySize(results) == n);
            CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(results, n - 1), "k")->valueint == n - 1);
            cJSON_Delete(results);
        }
        free(body.p);
        report_columns_free(&cols);
    }
}

/* A fail's error with one special piece (an escape, a multi-byte character, DEL, a raw tab) at
 * every offset across the eight-byte steps the string scan takes: its characters are counted
 * exactly (accepted at the count, general path one below), and a raw tab is never accepted. */
static void scan_error_offsets(const void *arg)
{
    (void)arg;
    static const struct {
        const char *text;
        int chars; /* 0: not allowed raw */
    } pieces[] = {
        {"\\\"", 1}, {"\\\\", 1}, {"\\u00e9", 1}, {"\xc3\xa9", 1}, {"\xf0\x9f\x98\x80", 1},
        {"\x7f", 1}, {"\t", 0}};
    for (size_t k = 0; k < COUNT_OF(pieces); k++) {
        for (int before = 0; before < 17; before++) {
            char error[64], body[160];
            int len = snprintf(error, sizeof(error), "%.*s%s%.*s", before, "aaaaaaaaaaaaaaaaa",
                               pieces[k].text, 9, "bbbbbbbbb");
            snprintf(body, sizeof(body), "{\"jobs\":[{\"id\":1,\"attempt\":1,\"error\":\"%s\"}]}",
                     error);
            size_t chars = (size_t)before + (size_t)pieces[k].chars + 9;
            for (int over = 0; over < 2; over++) {
                struct report_limits lim = limits;
                lim.max_error_chars = chars - (size_t)over;
                struct report_columns cols = {0};
                int count = 0;
                enum report_scan want =
                    pieces[k].chars && !over ? REPORT_SCAN_OK : REPORT_SCAN_GENERAL;
                if (!CHECK_LONG(report_scan(body, strlen(body), true, &lim, &cols, &count), want))
                    fprintf(stderr, "  piece %zu at %d (error %.*s)\n", k, before, len, error);
                report_columns_free(&cols);
            }
        }
    }
}

void register_reportscan_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(scan_cases); i++)
        test_addf(scan_case_run, &scan_cases[i], "reportscan %s: %s", scan_cases[i].label,
                  scan_cases[i].columns ? "columns" : "general path");
    test_add("reportscan NUL byte: general path", scan_nul_byte, NULL);
    test_add("reportscan nesting depth", scan_depth, NULL);
    test_add("reportscan 1500 reports", scan_many, NULL);
    test_add("reportscan error characters at every offset", scan_error_offsets, NULL);
}
