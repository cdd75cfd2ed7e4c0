/* json: typed getters (present, absent, null, wrong type, out of range; field-named errors),
 * json_parse_object, json_is_identifier. Golden tables, one case per row. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/json_print.h"
#include "tests/unit/harness.h"

/* ---- getters ------------------------------------------------------------------------- */

enum getter { GET_STRING, GET_INT, GET_BOOL, GET_OBJECT, GET_STRARRAY };

static const char *const getter_names[] = {"string", "int", "bool", "object", "string_array"};

struct get_case {
    enum getter get;
    const char *json; /* the object the field is read from */
    const char *field;
    bool required;
    long lo, hi;      /* string: min/max length; int: bounds; string_array: max items and
                         max element length */
    int rc;           /* 1 present and valid, 0 absent/null, -1 error */
    const char *want; /* rc 1: the value (ints in decimal, bools, objects and arrays as
                         compact JSON); rc -1: a piece of the message */
};

#define REQ true
#define OPT false

/* clang-format off */
static const struct get_case get_cases[] = {
    /* strings */
    {GET_STRING, "{\"name\":\"bob\"}", "name", REQ, 1, 64, 1, "bob"},
    {GET_STRING, "{\"name\":\"bob\"}", "name", OPT, 1, 64, 1, "bob"},
    {GET_STRING, "{}", "name", OPT, 1, 64, 0, NULL},
    {GET_STRING, "{}", "name", REQ, 1, 64, -1, "name is required"},
    {GET_STRING, "{\"name\":null}", "name", OPT, 1, 64, 0, NULL},
    {GET_STRING, "{\"name\":null}", "name", REQ, 1, 64, -1, "name is required"},
    {GET_STRING, "{\"Name\":\"bob\"}", "name", OPT, 1, 64, 0, NULL},
    {GET_STRING, "{\"name\":42}", "name", REQ, 1, 64, -1, "name must be a string"},
    {GET_STRING, "{\"name\":true}", "name", REQ, 1, 64, -1, "name must be a string"},
    {GET_STRING, "{\"name\":{}}", "name", REQ, 1, 64, -1, "name must be a string"},
    {GET_STRING, "{\"name\":[\"x\"]}", "name", REQ, 1, 64, -1, "name must be a string"},
    {GET_STRING, "{\"name\":\"\"}", "name", REQ, 1, 64, -1, "name must not be empty"},
    {GET_STRING, "{\"name\":\"\"}", "name", REQ, 0, 64, 1, ""},
    {GET_STRING, "{\"name\":\"abcde\"}", "name", REQ, 1, 5, 1, "abcde"},
    {GET_STRING, "{\"name\":\"abcdef\"}", "name", REQ, 1, 5, -1, "name must be 1 to 5 characters"},
    {GET_STRING, "{\"name\":\"ab\"}", "name", REQ, 3, 5, -1, "name must be 3 to 5 characters"},
    {GET_STRING, "{\"name\":\"\\u00e9\"}", "name", REQ, 1, 1, -1, "1 to 1"}, /* 2 bytes */
    {GET_STRING, "{\"name\":\"a\\\"b\"}", "name", REQ, 1, 64, 1, "a\"b"},
    /* integers only */
    {GET_INT, "{\"n\":5}", "n", REQ, 0, 10, 1, "5"},
    {GET_INT, "{\"n\":0}", "n", REQ, 0, 10, 1, "0"},
    {GET_INT, "{\"n\":10}", "n", REQ, 0, 10, 1, "10"},
    {GET_INT, "{\"n\":-3}", "n", REQ, -5, 5, 1, "-3"},
    {GET_INT, "{\"n\":11}", "n", REQ, 0, 10, -1, "n must be an integer from 0 to 10"},
    {GET_INT, "{\"n\":-1}", "n", REQ, 0, 10, -1, "n must be an integer from 0 to 10"},
    {GET_INT, "{\"n\":2.5}", "n", REQ, 0, 10, -1, "n must be an integer"},
    {GET_INT, "{\"n\":0.1}", "n", REQ, 0, 10, -1, "n must be an integer"},
    {GET_INT, "{\"n\":\"2\"}", "n", REQ, 0, 10, -1, "n must be an integer"},
    {GET_INT, "{\"n\":1e300}", "n", REQ, 0, 10, -1, "n must be an integer"},
    {GET_INT, "{\"n\":-1e300}", "n", REQ, 0, 10, -1, "n must be an integer"},
    {GET_INT, "{\"n\":1e300}", "n", REQ, LONG_MIN / 2, LONG_MAX / 2, -1, "n must be an integer"},
    {GET_INT, "{\"n\":true}", "n", REQ, 0, 10, -1, "n must be an integer"},
    {GET_INT, "{\"n\":[1]}", "n", REQ, 0, 10, -1, "n must be an integer"},
    {GET_INT, "{\"n\":{}}", "n", REQ, 0, 10, -1, "n must be an integer"},
    {GET_INT, "{\"n\":null}", "n", OPT, 0, 10, 0, NULL},
    {GET_INT, "{\"n\":null}", "n", REQ, 0, 10, -1, "n is required"},
    {GET_INT, "{}", "n", OPT, 0, 10, 0, NULL},
    {GET_INT, "{}", "priority", REQ, 0, 4, -1, "priority is required"},
    {GET_INT, "{\"priority\":7}", "priority", REQ, 0, 4, -1,
     "priority must be an integer from 0 to 4"},
    {GET_INT, "{\"n\":4000000000}", "n", REQ, 0, 5000000000, 1, "4000000000"},
    {GET_INT, "{\"n\":1e19}", "n", REQ, LONG_MIN, LONG_MAX, -1, "n must be an integer"},
    /* 2^63 == (double)LONG_MAX must not pass the range check and overflow the cast */
    {GET_INT, "{\"n\":9223372036854775808}", "n", REQ, LONG_MIN, LONG_MAX, -1,
     "n must be an integer"},
    /* booleans */
    {GET_BOOL, "{\"b\":true}", "b", REQ, 0, 0, 1, "true"},
    {GET_BOOL, "{\"b\":false}", "b", REQ, 0, 0, 1, "false"},
    {GET_BOOL, "{\"b\":1}", "b", REQ, 0, 0, -1, "b must be true or false"},
    {GET_BOOL, "{\"b\":0}", "b", REQ, 0, 0, -1, "b must be true or false"},
    {GET_BOOL, "{\"b\":\"true\"}", "b", REQ, 0, 0, -1, "b must be true or false"},
    {GET_BOOL, "{\"b\":null}", "b", OPT, 0, 0, 0, NULL},
    {GET_BOOL, "{}", "b", OPT, 0, 0, 0, NULL},
    {GET_BOOL, "{}", "b", REQ, 0, 0, -1, "b is required"},
    /* objects */
    {GET_OBJECT, "{\"m\":{\"a\":1}}", "m", REQ, 0, 0, 1, "{\"a\":1}"},
    {GET_OBJECT, "{\"m\":{}}", "m", REQ, 0, 0, 1, "{}"},
    {GET_OBJECT, "{\"m\":[]}", "m", REQ, 0, 0, -1, "m must be an object"},
    {GET_OBJECT, "{\"m\":\"x\"}", "m", REQ, 0, 0, -1, "m must be an object"},
    {GET_OBJECT, "{\"m\":3}", "m", REQ, 0, 0, -1, "m must be an object"},
    {GET_OBJECT, "{\"m\":null}", "m", OPT, 0, 0, 0, NULL},
    {GET_OBJECT, "{}", "m", OPT, 0, 0, 0, NULL},
    {GET_OBJECT, "{}", "payload", REQ, 0, 0, -1, "payload is required"},
    /* arrays of strings */
    {GET_STRARRAY, "{\"t\":[\"a\",\"b\"]}", "t", REQ, 3, 5, 1, "[\"a\",\"b\"]"},
    {GET_STRARRAY, "{\"t\":[]}", "t", REQ, 3, 5, 1, "[]"},
    {GET_STRARRAY, "{\"t\":[\"a\",\"b\",\"c\"]}", "t", REQ, 3, 5, 1, "[\"a\",\"b\",\"c\"]"},
    {GET_STRARRAY, "{\"t\":[\"a\",\"b\",\"c\",\"d\"]}", "t", REQ, 3, 5, -1,
     "t may hold at most 3 items"},
    {GET_STRARRAY, "{\"t\":[\"abcde\"]}", "t", REQ, 3, 5, 1, "[\"abcde\"]"},
    {GET_STRARRAY, "{\"t\":[\"abcdef\"]}", "t", REQ, 3, 5, -1, "at most 5 characters"},
    {GET_STRARRAY, "{\"t\":[\"a\",\"\"]}", "t", REQ, 3, 5, -1, "t must be an array of non-empty"},
    {GET_STRARRAY, "{\"t\":[\"a\",1]}", "t", REQ, 3, 5, -1, "t must be an array"},
    {GET_STRARRAY, "{\"t\":[null]}", "t", REQ, 3, 5, -1, "t must be an array"},
    {GET_STRARRAY, "{\"t\":[[\"a\"]]}", "t", REQ, 3, 5, -1, "t must be an array"},
    {GET_STRARRAY, "{\"t\":\"a\"}", "t", REQ, 3, 5, -1, "t must be an array of strings"},
    {GET_STRARRAY, "{\"t\":{}}", "t", REQ, 3, 5, -1, "t must be an array of strings"},
    {GET_STRARRAY, "{\"t\":null}", "t", OPT, 3, 5, 0, NULL},
    {GET_STRARRAY, "{}", "t", OPT, 3, 5, 0, NULL},
    {GET_STRARRAY, "{}", "tags", REQ, 3, 5, -1, "tags is required"},
};
/* clang-format on */

/* Sentinels: a getter returning 0 or -1 must leave *out untouched. */
static const char sentinel_str[] = "untouched";
#define SENTINEL_INT 123456789L

static void get_case_run(const void *arg)
{
    const struct get_case *c = arg;
    cJSON *obj = cJSON_Parse(c->json);
    REQUIRE(obj != NULL);
    struct field_error err;
    memset(&err, 0, sizeof(err));
    int rc = -9;
    char got[256] = "";
    const char *s = sentinel_str;
    long n = SENTINEL_INT;
    bool b = false, b_set = true;
    cJSON *item = obj; /* sentinel: the root */

    switch (c->get) {
    case GET_STRING:
        rc = json_get_string(obj, c->field, c->required, (size_t)c->lo, (size_t)c->hi, &s, &err);
        if (rc == 1)
            snprintf(got, sizeof(got), "%s", s);
        if (rc != 1)
            CHECK(s == sentinel_str);
        break;
    case GET_INT:
        rc = json_get_int(obj, c->field, c->required, c->lo, c->hi, &n, &err);
        if (rc == 1)
            snprintf(got, sizeof(got), "%ld", n);
        else
            CHECK_LONG(n, SENTINEL_INT);
        break;
    case GET_BOOL:
        /* Run twice with opposite starting values to see that *out is untouched. */
        rc = json_get_bool(obj, c->field, c->required, &b, &err);
        if (rc == 1) {
            snprintf(got, sizeof(got), "%s", b ? "true" : "false");
        } else {
            CHECK(b == false);
            struct field_error err2;
            CHECK_LONG(json_get_bool(obj, c->field, c->required, &b_set, &err2), rc);
            CHECK(b_set == true);
        }
        break;
    case GET_OBJECT:
    case GET_STRARRAY:
        if (c->get == GET_OBJECT)
            rc = json_get_object(obj, c->field, c->required, &item, &err);
        else
            rc = json_get_string_array(obj, c->field, c->required, (size_t)c->lo, (size_t)c->hi,
                                       &item, &err);
        if (rc == 1) {
            char *text = cJSON_PrintUnformatted(item);
            snprintf(got, sizeof(got), "%s", text ? text : "(null)");
            free(text);
            /* The item is the field itself, owned by obj. */
            CHECK(item == cJSON_GetObjectItemCaseSensitive(obj, c->field));
        } else {
            CHECK(item == obj);
        }
        break;
    }

    CHECK_LONG(rc, c->rc);
    if (c->rc == 1 && rc == 1)
        CHECK_STR(got, c->want);
    if (c->rc == -1 && rc == -1) {
        CHECK_STR(err.field, c->field); /* the error names the field */
        CHECK_CONTAINS(err.message, c->want);
    }
    cJSON_Delete(obj);
}

/* field_error_set truncates long names and messages instead of overflowing. */
static void field_error_truncates(const void *arg)
{
    (void)arg;
    struct field_error err;
    char longname[200];
    memset(longname, 'f', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK(field_error_set(&err, longname, "%s %s", longname, longname) == -1);
    CHECK_LONG(strlen(err.field), sizeof(err.field) - 1);
    CHECK_LONG(strlen(err.message), sizeof(err.message) - 1);
    CHECK(field_error_set(&err, "x", "x is %d", 5) == -1);
    CHECK_STR(err.field, "x");
    CHECK_STR(err.message, "x is 5");
}

/* ---- json_parse_object --------------------------------------------------------------- */

struct parse_case {
    const char *label;
    const char *text;
    size_t len; /* 0 with a non-empty text: strlen(text) */
    bool ok;
    const char *err_has; /* !ok: a piece of the message */
    const char *key;     /* ok: a key the object must hold, or NULL */
};

/* clang-format off */
#define PARSE_OK(lbl, t, k) {lbl, t, 0, true, NULL, k}
#define PARSE_BAD(lbl, t, has) {lbl, t, 0, false, has, NULL}
#define PARSE_BAD_LEN(lbl, t, has) {lbl, t, sizeof(t) - 1, false, has, NULL}
/* clang-format on */

/* clang-format off */
static const struct parse_case parse_cases[] = {
    PARSE_OK("empty object", "{}", NULL),
    PARSE_OK("object", "{\"a\":1,\"b\":[true,null]}", "b"),
    PARSE_OK("surrounding whitespace", " \t\r\n{\"a\":1} \r\n\t ", "a"),
    PARSE_OK("nested", "{\"a\":{\"b\":{\"c\":\"d\"}}}", "a"),
    PARSE_BAD("trailing garbage", "{\"a\":1} x", "not valid JSON"),
    /* cJSON would decode \u0000 to a NUL and silently cut the string short */
    PARSE_BAD("\\u0000 in a string", "{\"name\":\"a\\u0000b\"}", "u0000"),
    PARSE_OK("escaped backslash before u0000", "{\"name\":\"a\\\\u0000b\"}", "name"),
    PARSE_BAD("leading zero", "{\"n\":02}", "leading zeros"),
    PARSE_BAD("negative leading zero", "{\"n\":-01}", "leading zeros"),
    PARSE_OK("zero and fraction", "{\"n\":0.5,\"m\":-0,\"e\":1e-3,\"E\":2E+2}", "n"),
    PARSE_BAD("trailing dot", "{\"n\":1.}", "bad number"),
    PARSE_BAD("leading dot", "{\"n\":.5}", "bad number"),
    PARSE_BAD("bare minus", "{\"n\":-}", "bad number"),
    PARSE_BAD("empty exponent", "{\"n\":1e}", "bad number"),
    /* what PostgreSQL's numeric cannot hold would fail the statement (and its group commit) */
    PARSE_OK("131072 integer digits", "{\"n\":1e131071}", "n"),
    PARSE_BAD("131073 integer digits", "{\"n\":1e131072}", "cannot be stored"),
    PARSE_BAD("131073 integer digits with a fraction", "{\"n\":10.5e131071}", "cannot be stored"),
    PARSE_OK("16383 fraction digits", "{\"n\":1e-16383}", "n"),
    PARSE_OK("fraction digits shifted left", "{\"n\":0.25e-16381}", "n"),
    PARSE_BAD("16384 fraction digits", "{\"n\":0.25e-16383}", "cannot be stored"),
    PARSE_BAD("huge exponent", "{\"a\":[1,{\"n\":1e99999999999999999999}]}", "cannot be stored"),
    PARSE_BAD("huge negative exponent of zero", "{\"n\":0e-99999}", "cannot be stored"),
    PARSE_OK("digits inside strings", "{\"s\":\"02 .5 1.\"}", "s"),
    PARSE_BAD("two objects", "{}{}", "not valid JSON"),
    PARSE_BAD("trailing comma token", "{},", "not valid JSON"),
    PARSE_BAD("array", "[1,2]", "must be a JSON object"),
    PARSE_BAD("empty array", "[]", "must be a JSON object"),
    PARSE_BAD("number", "42", "must be a JSON object"),
    PARSE_BAD("string", "\"{}\"", "must be a JSON object"),
    PARSE_BAD("null", "null", "must be a JSON object"),
    PARSE_BAD("true", "true", "must be a JSON object"),
    {"empty body", "", 0, false, "empty", NULL},
    PARSE_BAD("whitespace only", "   \n", "not valid JSON"),
    PARSE_BAD("unterminated", "{\"a\":1", "not valid JSON"),
    PARSE_BAD("missing value", "{\"a\":}", "not valid JSON"),
    PARSE_BAD("single quotes", "{'a':1}", "not valid JSON"),
    PARSE_BAD("trailing comma", "{\"a\":1,}", "not valid JSON"),
    PARSE_BAD("bare key", "{a:1}", "not valid JSON"),
    PARSE_BAD("unterminated string", "{\"a\":\"b}", "not valid JSON"),
    PARSE_BAD("plain text", "hello", "not valid JSON"),
    PARSE_BAD_LEN("NUL after the object", "{}\0", "not valid"),
    PARSE_BAD_LEN("NUL then garbage", "{}\0{\"x\":1}", "not valid"),
    PARSE_BAD_LEN("NUL inside a string", "{\"a\":\"b\0c\"}", "not valid"),
    PARSE_BAD_LEN("NUL before the object", "\0{}", "not valid"),
    PARSE_BAD_LEN("NUL between tokens", "{\"a\":\0 1}", "not valid"),
    /* bytes PostgreSQL would reject never reach a query */
    PARSE_BAD("invalid UTF-8 in a string", "{\"a\":\"\xff\"}", "not valid UTF-8"),
    PARSE_BAD("overlong UTF-8 in a string", "{\"a\":\"\xc0\xaf\"}", "not valid UTF-8"),
    PARSE_BAD("surrogate UTF-8 in a string", "{\"a\":\"\xed\xa0\x80\"}", "not valid UTF-8"),
    PARSE_BAD("truncated UTF-8 at the end", "{\"a\":1}\xc3", "not valid UTF-8"),
    PARSE_OK("UTF-8 in a string", "{\"caf\xc3\xa9\":\"\xf0\x9f\x98\x80\"}", "caf\xc3\xa9"),
    /* Only len bytes are read: the text after them does not count. */
    {"len stops before garbage", "{\"a\":1}garbage", 7, true, NULL, "a"},
    {"len cuts the object short", "{\"a\":1}", 6, false, "not valid JSON", NULL},
};
/* clang-format on */

static void parse_case_run(const void *arg)
{
    const struct parse_case *c = arg;
    size_t len = c->len ? c->len : strlen(c->text);
    /* A heap copy of exactly len bytes, so reading past len is an ASan error. */
    char *text = malloc(len ? len : 1);
    REQUIRE(text != NULL);
    memcpy(text, c->text, len);
    struct field_error err;
    memset(&err, 0, sizeof(err));
    cJSON *obj = json_parse_object(text, len, &err);
    if (c->ok) {
        if (CHECK(obj != NULL)) {
            CHECK(cJSON_IsObject(obj));
            if (c->key)
                CHECK(cJSON_GetObjectItemCaseSensitive(obj, c->key) != NULL);
        }
    } else {
        CHECK(obj == NULL);
        CHECK_STR(err.field, "body");
        CHECK_CONTAINS(err.message, c->err_has);
    }
    cJSON_Delete(obj);
    free(text);
}

/* Nesting far deeper than cJSON's limit is refused, not a stack overflow. */
static void parse_deep_nesting(const void *arg)
{
    (void)arg;
    enum { DEPTH = 100000 };
    size_t len = 0;
    char *text = malloc(DEPTH * 6 + 4);
    REQUIRE(text != NULL);
    for (int i = 0; i < DEPTH; i++) {
        memcpy(text + len, "{\"a\":", 5);
        len += 5;
    }
    text[len++] = '1';
    memset(text + len, '}', DEPTH);
    len += DEPTH;
    struct field_error err;
    cJSON *obj = json_parse_object(text, len, &err);
    CHECK(obj == NULL);
    cJSON_Delete(obj);
    free(text);
}

/* ---- numbers kept as written ----------------------------------------------------------- */

/* A body and what json_print writes for it: numbers a double cannot carry come out as the
 * client wrote them (PostgreSQL's jsonb then keeps every digit); small integers, which print
 * back alike, take no copy. */
struct numtext_case {
    const char *text;
    const char *printed;
};

/* clang-format off */
static const struct numtext_case numtext_cases[] = {
    {"{\"n\":1e400}", "{\"n\":1e400}"},
    {"{\"n\":123456789012345678901234567890}", "{\"n\":123456789012345678901234567890}"},
    {"{\"n\":0.1000000000000000000001}", "{\"n\":0.1000000000000000000001}"},
    {"{\"n\":-0}", "{\"n\":-0}"},
    {"{\"n\":1E+2}", "{\"n\":1E+2}"},
    {"{\"n\":1.50}", "{\"n\":1.50}"},
    {"{\"n\":-12,\"m\":123456789012345}", "{\"n\":-12,\"m\":123456789012345}"},
    /* strings with digits, escaped quotes and nested containers keep the numbers in step */
    {"{\"s\":\"1e9 \\\" -0\",\"a\":[1,{\"b\":2.50,\"c\":[-0.0,3]}],\"d\":1e400}",
     "{\"s\":\"1e9 \\\" -0\",\"a\":[1,{\"b\":2.50,\"c\":[-0.0,3]}],\"d\":1e400}"},
    {" { \"a\" : 1 , \"b\" : [ 9007199254740993 ] } ", "{\"a\":1,\"b\":[9007199254740993]}"},
};
/* clang-format on */

static void numtext_case_run(const void *arg)
{
    const struct numtext_case *c = arg;
    struct field_error err;
    cJSON *obj = json_parse_object(c->text, strlen(c->text), &err);
    REQUIRE(obj != NULL);
    char *printed = json_print(obj);
    CHECK_STR(printed, c->printed);
    /* Copies of the tree keep the text too (routes duplicate metadata). */
    cJSON *copy = cJSON_Duplicate(obj, true);
    char *copied = json_print(copy);
    CHECK_STR(copied, c->printed);
    free(copied);
    cJSON_Delete(copy);
    free(printed);
    cJSON_Delete(obj);
}

/* Small integers print back alike and are not copied. */
static void numtext_plain_not_copied(const void *arg)
{
    (void)arg;
    struct field_error err;
    const char *text = "{\"a\":1,\"b\":-2,\"c\":[300,123456789012345],\"d\":1.5}";
    cJSON *obj = json_parse_object(text, strlen(text), &err);
    REQUIRE(obj != NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(obj, "a")->valuestring == NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(obj, "b")->valuestring == NULL);
    CHECK(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(obj, "c"), 1)->valuestring == NULL);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(obj, "d")->valuestring, "1.5");
    cJSON_Delete(obj);
}

/* ---- json_is_utf8 -------------------------------------------------------------------- */

struct utf8_case {
    const char *label;
    const char *s;
    size_t len; /* (size_t)-1: strlen(s) */
    bool want;
};

/* clang-format off */
#define U8(lbl, s, want) {lbl, s, (size_t)-1, want}
/* clang-format on */

/* clang-format off */
static const struct utf8_case utf8_cases[] = {
    U8("empty", "", true),
    U8("ASCII", "hello, world ~\x7f", true),
    U8("U+0080", "\xc2\x80", true),
    U8("U+00E9", "caf\xc3\xa9", true),
    U8("U+07FF", "\xdf\xbf", true),
    U8("U+0800", "\xe0\xa0\x80", true),
    U8("U+20AC", "\xe2\x82\xac", true),
    U8("U+D7FF", "\xed\x9f\xbf", true),
    U8("U+E000", "\xee\x80\x80", true),
    U8("U+FFFF", "\xef\xbf\xbf", true),
    U8("U+10000", "\xf0\x90\x80\x80", true),
    U8("U+1F600", "\xf0\x9f\x98\x80", true),
    U8("U+10FFFF", "\xf4\x8f\xbf\xbf", true),
    U8("lone continuation", "a\x80", false),
    U8("overlong NUL", "\xc0\x80", false),
    U8("overlong /", "\xc0\xaf", false),
    U8("overlong C1", "\xc1\xbf", false),
    U8("overlong 3-byte", "\xe0\x80\x80", false),
    U8("overlong U+07FF in 3 bytes", "\xe0\x9f\xbf", false),
    U8("overlong 4-byte", "\xf0\x8f\xbf\xbf", false),
    U8("surrogate D800", "\xed\xa0\x80", false),
    U8("surrogate DFFF", "\xed\xbf\xbf", false),
    U8("above U+10FFFF", "\xf4\x90\x80\x80", false),
    U8("lead F5", "\xf5\x80\x80\x80", false),
    U8("lead F8", "\xf8\x88\x80\x80\x80", false),
    U8("byte FE", "\xfe", false),
    U8("byte FF", "\xff", false),
    U8("truncated 2-byte", "a\xc3", false),
    U8("truncated 3-byte", "\xe2\x82", false),
    U8("truncated 4-byte", "\xf0\x9f\x98", false),
    U8("bad continuation", "\xc3\x41", false),
    U8("bad third byte", "\xe2\x28\xa1", false),
    U8("CESU-8 pair", "\xed\xa0\xbd\xed\xb8\x80", false),
    {"NUL byte", "a\0b", 3, false},
    {"only len bytes: valid prefix", "abc\xff", 3, true},
    {"only len bytes: cut sequence", "\xc3\xa9", 1, false},
    /* past the eight-bytes-at-a-time ASCII run */
    U8("ASCII, 8 bytes", "abcdefgh", true),
    U8("ASCII, 23 bytes", "abcdefghijklmnopqrstuvw", true),
    U8("U+00E9 after 8 ASCII", "abcdefgh\xc3\xa9", true),
    U8("U+00E9 inside a word", "abcde\xc3\xa9" "fghijklmnop", true),
    U8("U+1F600 after 16 ASCII", "abcdefghijklmnop\xf0\x9f\x98\x80xyz", true),
    U8("lone continuation after 8 ASCII", "abcdefgh\x80", false),
    U8("byte FF inside the second word", "abcdefghij\xffklmnop", false),
    U8("surrogate after 9 ASCII", "abcdefghi\xed\xa0\x80", false),
    {"NUL first in a word", "\0bcdefghijklmnop", 16, false},
    {"NUL last in a word", "abcdefg\0ijklmnop", 16, false},
    {"NUL in the second word", "abcdefghijklm\0op", 16, false},
    {"NUL in the tail", "abcdefghijk\0", 12, false},
    {"only len bytes: 16 of a longer string", "abcdefghijklmnop\xff", 16, true},
};
/* clang-format on */

static void utf8_case_run(const void *arg)
{
    const struct utf8_case *c = arg;
    size_t len = c->len == (size_t)-1 ? strlen(c->s) : c->len;
    /* an exact-size heap copy, so a read past len is an ASan error */
    char *copy = malloc(len ? len : 1);
    REQUIRE(copy != NULL);
    memcpy(copy, c->s, len);
    CHECK(json_is_utf8(copy, len) == c->want);
    free(copy);
}

/* ---- json_is_identifier -------------------------------------------------------------- */

struct ident_case {
    const char *s;
    size_t max_len;
    bool want;
};

#define S64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* clang-format off */
static const struct ident_case ident_cases[] = {
    {"a", 64, true},
    {"agent-1", 64, true},
    {"agent_1.b-C", 64, true},
    {"0", 64, true},
    {"...", 64, true},
    {"-", 64, true},
    {"ABCxyz019", 64, true},
    {S64, 64, true},
    {S64 "a", 64, false},
    {"abc", 3, true},
    {"abcd", 3, false},
    {"", 64, false},
    {"a b", 64, false},
    {" a", 64, false},
    {"a/b", 64, false},
    {"a\\b", 64, false},
    {"a:b", 64, false},
    {"a@b", 64, false},
    {"a%2Eb", 64, false},
    {"a\tb", 64, false},
    {"a\nb", 64, false},
    {"caf\xc3\xa9", 64, false},
    {"a'b", 64, false},
    {"a\"b", 64, false},
    {"a;b", 64, false},
    {"a", 0, false},
};
/* clang-format on */

static void ident_case_run(const void *arg)
{
    const struct ident_case *c = arg;
    CHECK(json_is_identifier(c->s, c->max_len) == c->want);
}

/* ---- registration -------------------------------------------------------------------- */

void register_json_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(get_cases); i++) {
        const struct get_case *c = &get_cases[i];
        test_addf(get_case_run, c, "json get_%s %s %s %s", getter_names[c->get], c->field,
                  c->required ? "required" : "optional", c->json);
    }
    test_add("json field_error_set truncates", field_error_truncates, NULL);
    for (size_t i = 0; i < COUNT_OF(parse_cases); i++)
        test_addf(parse_case_run, &parse_cases[i], "json parse_object %s", parse_cases[i].label);
    test_add("json parse_object deep nesting", parse_deep_nesting, NULL);
    for (size_t i = 0; i < COUNT_OF(numtext_cases); i++)
        test_addf(numtext_case_run, &numtext_cases[i], "json parse_object keeps number text %s",
                  numtext_cases[i].text);
    test_add("json parse_object copies no plain integer", numtext_plain_not_copied, NULL);
    for (size_t i = 0; i < COUNT_OF(utf8_cases); i++)
        test_addf(utf8_case_run, &utf8_cases[i], "json is_utf8 %s -> %s", utf8_cases[i].label,
                  utf8_cases[i].want ? "valid" : "invalid");
    for (size_t i = 0; i < COUNT_OF(ident_cases); i++)
        test_addf(ident_case_run, &ident_cases[i], "json is_identifier #%zu (max %zu) %s", i,
                  ident_cases[i].max_len, ident_cases[i].want ? "valid" : "invalid");
}
