/* json_print: the same text as cJSON_PrintUnformatted for a table of documents (cJSON is the
 * reference), explicit texts for the numbers where the two differ on purpose or where the rule
 * matters, and trees json_print must refuse. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_print.h"
#include "tests/unit/harness.h"

static const char *const same_as_cjson[] = {
    "{}",
    "[]",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "17",
    "2147483647",
    "-2147483648",
    "4294967296",
    "123456789012345",
    "0.1",
    "-2.5",
    "3.141592653589793",
    "1e-07",
    "6.02214076e+23",
    "5e-324",
    "\"\"",
    "\"plain\"",
    "\"quote \\\" backslash \\\\ slash /\"",
    "\"\\b\\f\\n\\r\\t\"",
    "\"\\u0001\\u001f\\u007f\"",
    "\"caf\\u00e9 \\u65e5\\u672c \\ud83d\\ude00\"",
    "{\"pong\":true,\"agent\":\"code_analyzer\",\"jobId\":17,\"attempt\":1,"
    "\"sleptMs\":0,"
    "\"startedAt\":\"2026-11-21T10:00:00.000Z\"}",
    "{\"a\":[1,[2,[3,{}]],{\"b\":null,\"c\":[]}],\"d\":{\"e\":{\"f\":-0.5}}}",
    "[{\"\":\"empty key\"},{\"k\\n\":\"escaped key\"}]",
    "{\"dup\":1,\"dup\":2}",
};

static void same_as_cjson_run(const void *arg)
{
    cJSON *doc = cJSON_Parse(arg);
    REQUIRE(doc != NULL);
    char *want = cJSON_PrintUnformatted(doc);
    char *got = json_print(doc);
    CHECK_STR(got, want);
    free(want);
    free(got);
    cJSON_Delete(doc);
}

struct number_case {
    double d;
    const char *want;
};

static const struct number_case number_cases[] = {
    {0.0, "0"},
    {-0.0, "-0"}, /* the sign survives, as with cJSON */
    {42.0, "42"},
    {-42.0, "-42"},
    /* Integers from 10^15 up to 2^53 in digits (cJSON: 1e+15, 9.00719925474099e+15 → 17g). */
    {1e15, "1000000000000000"},
    {9007199254740991.0, "9007199254740991"},
    {-9007199254740991.0, "-9007199254740991"},
    /* From 2^53 on, cJSON's rule. */
    {9007199254740992.0, "9007199254740992"},
    {1e20, "1e+20"},
    {0.1, "0.1"},
    /* Exact where cJSON rounds: its check accepts 15 digits within an epsilon, so it writes 0.3 and
     * 1.79769313486232e+308, which read back as other numbers. */
    {0.30000000000000004, "0.30000000000000004"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {1.0 / 3.0, "0.33333333333333331"},
    {NAN, "null"},
    {INFINITY, "null"},
    {-INFINITY, "null"},
};

static void number_run(const void *arg)
{
    const struct number_case *c = arg;
    char buf[JSON_NUMBER_MAX];
    size_t n = json_print_number(c->d, buf);
    CHECK_STR(buf, c->want);
    CHECK_LONG(n, strlen(c->want));
    if (!isnan(c->d) && !isinf(c->d))
        CHECK(strtod(buf, NULL) == c->d);
}

static void built_tree(const void *arg)
{
    (void)arg;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", 9007199254740991.0);
    cJSON_AddStringToObject(o, "s", "tab\there");
    cJSON_AddItemToObject(o, "raw", cJSON_CreateRaw("{\"x\":[1,2]}"));
    cJSON *a = cJSON_AddArrayToObject(o, "list");
    cJSON_AddItemToArray(a, cJSON_CreateNumber(-3));
    cJSON_AddItemToArray(a, cJSON_CreateBool(0));
    char *got = json_print(o);
    CHECK_STR(got, "{\"id\":9007199254740991,\"s\":\"tab\\there\",\"raw\":{\"x\":[1,2]},"
                   "\"list\":[-3,false]}");
    free(got);
    cJSON_Delete(o);
}

static void refuses_invalid(const void *arg)
{
    (void)arg;
    CHECK(json_print(NULL) == NULL);
    cJSON *o = cJSON_CreateObject();
    cJSON *bad = cJSON_CreateNull();
    bad->type = cJSON_Invalid;
    cJSON_AddItemToObject(o, "bad", bad);
    CHECK(json_print(o) == NULL);
    cJSON *s = cJSON_CreateString("x");
    free(s->valuestring);
    s->valuestring = NULL;
    CHECK(json_print(s) == NULL);
    cJSON_Delete(s);
    cJSON_Delete(o);
}

static void long_string(const void *arg)
{
    (void)arg;
    size_t n = 100000;
    char *s = malloc(n + 1);
    REQUIRE(s != NULL);
    for (size_t i = 0; i < n; i++)
        s[i] = i % 1000 == 999 ? '\n' : 'a';
    s[n] = '\0';
    cJSON *str = cJSON_CreateString(s);
    char *want = cJSON_PrintUnformatted(str);
    char *got = json_print(str);
    CHECK(got && want && strcmp(got, want) == 0);
    free(got);
    free(want);
    cJSON_Delete(str);
    free(s);
}

/* Every byte that needs an escape (and a few that do not: DEL, UTF-8), at every offset across
 * the eight-byte steps of the string scan and with text after it: the same as cJSON. */
static void escapes_at_every_offset(const void *arg)
{
    (void)arg;
    static const char *const pieces[] = {"\"", "\\",   "\x01",     "\x1f", "\n",
                                         "\t", "\x7f", "\xc3\xa9", "/"};
    int failures = 0;
    for (size_t k = 0; k < COUNT_OF(pieces) && failures < 5; k++) {
        for (int before = 0; before < 18; before++) {
            for (int after = 0; after < 10; after += 9) {
                char text[64];
                snprintf(text, sizeof(text), "%.*s%s%.*s", before, "abcdefghijklmnopqr", pieces[k],
                         after, "stuvwxyz0");
                cJSON *str = cJSON_CreateString(text);
                char *want = cJSON_PrintUnformatted(str), *got = json_print(str);
                if (!CHECK(got && want && strcmp(got, want) == 0)) {
                    fprintf(stderr, "  piece %zu at %d: got %s, cJSON %s\n", k, before, got, want);
                    failures++;
                }
                free(got);
                free(want);
                cJSON_Delete(str);
            }
        }
    }
}

static void appends(const void *arg)
{
    (void)arg;
    struct strbuf b = {0};
    REQUIRE(strbuf_add(&b, "[", 1) == 0);
    cJSON *n = cJSON_CreateNumber(17);
    CHECK_LONG(json_print_append(&b, n), 0);
    CHECK_STR(b.p, "[17");
    cJSON *bad = cJSON_CreateArray();
    cJSON *invalid = cJSON_CreateNull();
    invalid->type = cJSON_Invalid;
    cJSON_AddItemToArray(bad, cJSON_CreateString("written, then dropped"));
    cJSON_AddItemToArray(bad, invalid);
    CHECK_LONG(json_print_append(&b, bad), -1);
    CHECK_STR(b.p, "[17"); /* as it was */
    CHECK_LONG(b.len, 3);
    free(b.p);
    cJSON_Delete(n);
    cJSON_Delete(bad);
}

void register_json_print_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(same_as_cjson); i++)
        test_addf(same_as_cjson_run, same_as_cjson[i], "json_print same as cJSON %zu", i);
    for (size_t i = 0; i < COUNT_OF(number_cases); i++)
        test_addf(number_run, &number_cases[i], "json_print number %s", number_cases[i].want);
    test_add("json_print built tree with raw", built_tree, NULL);
    test_add("json_print refuses invalid items", refuses_invalid, NULL);
    test_add("json_print long string", long_string, NULL);
    test_add("json_print escapes at every offset", escapes_at_every_offset, NULL);
    test_add("json_print_append keeps or restores the buffer", appends, NULL);
}
