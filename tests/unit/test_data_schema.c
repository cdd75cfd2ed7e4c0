/* data_processor validate_data: each keyword of the schema subset with the exact paths of
 * its violations, valid records with none, the messages, the counts, the single-record
 * form, and every invalid-schema and bad-input error with its schema path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/data_check.h"
#include "tests/unit/harness.h"
#include "worker/agents/data_processor/recordset.h"
#include "worker/agents/data_processor/schema.h"

struct violation_case {
    const char *label;
    const char *schema;
    const char *records; /* data.records, or data.record when single */
    bool single;
    const char *want; /* "path keyword" per violation, joined by " | "; "" when valid */
};

/* clang-format off */
static const struct violation_case violation_cases[] = {
    {"type string", "{\"type\":\"string\"}", "[\"a\",1,null]", false, "$[1] type | $[2] type"},
    {"type list", "{\"type\":[\"string\",\"null\"]}", "[\"a\",null,1]", false, "$[2] type"},
    {"type integer (1.0 is one)", "{\"type\":\"integer\"}", "[1,1.0,-7,1.5,\"1\"]", false, "$[3] type | $[4] type"},
    {"type number takes integers", "{\"type\":\"number\"}", "[1,2.5,true]", false, "$[2] type"},
    {"type boolean", "{\"type\":\"boolean\"}", "[true,false,0]", false, "$[2] type"},
    {"type null", "{\"type\":\"null\"}", "[null,0,\"\"]", false, "$[1] type | $[2] type"},
    {"type array", "{\"type\":\"array\"}", "[[],{}]", false, "$[1] type"},
    {"type object", "{\"type\":\"object\"}", "[{},[]]", false, "$[1] type"},
    {"nested properties",
     "{\"type\":\"object\",\"properties\":{\"user\":{\"type\":\"object\",\"properties\":"
     "{\"email\":{\"type\":\"string\",\"pattern\":\"^[^@]+@[^@]+$\"}}}}}",
     "[{\"user\":{\"email\":\"a@b\"}},{\"user\":{\"email\":\"nope\"}},{\"user\":{\"email\":5}},{\"user\":7}]", false,
     "$[1].user.email pattern | $[2].user.email type | $[3].user type"},
    {"required", "{\"required\":[\"id\",\"name\"]}", "[{\"id\":1,\"name\":\"x\"},{\"id\":2},{},{\"id\":null,\"name\":0}]",
     false, "$[1].name required | $[2].id required | $[2].name required"},
    {"required ignores non-objects", "{\"required\":[\"id\"]}", "[5,\"x\"]", false, ""},
    {"additionalProperties false",
     "{\"properties\":{\"a\":{}},\"additionalProperties\":false}", "[{\"a\":1},{\"a\":1,\"b\":2,\"first name\":3}]",
     false, "$[1].b additionalProperties | $[1][\"first name\"] additionalProperties"},
    {"additionalProperties true", "{\"properties\":{\"a\":{}},\"additionalProperties\":true}", "[{\"b\":1}]", false,
     ""},
    {"items", "{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"minimum\":0}}", "[[1,2],[1,-1,\"x\"]]", false,
     "$[1][1] minimum | $[1][2] type"},
    {"items of objects", "{\"items\":{\"required\":[\"k\"]}}", "[[{\"k\":1},{}]]", false, "$[0][1].k required"},
    {"enum (deep equality)", "{\"enum\":[\"a\",\"b\",1,{\"k\":[1]}]}", "[\"a\",1.0,{\"k\":[1]},\"c\",2,{\"k\":[2]}]",
     false, "$[3] enum | $[4] enum | $[5] enum"},
    {"const (key order ignored)", "{\"const\":{\"x\":1,\"y\":[true]}}", "[{\"y\":[true],\"x\":1},{\"x\":1}]", false,
     "$[1] const"},
    {"minimum maximum", "{\"minimum\":1,\"maximum\":10}", "[1,10,0,11,5.5,\"str\"]", false,
     "$[2] minimum | $[3] maximum"},
    {"exclusive bounds", "{\"exclusiveMinimum\":1,\"exclusiveMaximum\":10}", "[1,10,1.5,9.99]", false,
     "$[0] exclusiveMinimum | $[1] exclusiveMaximum"},
    /* lengths in characters: e-acute is 2 bytes, each CJK character 3 */
    {"minLength maxLength in characters", "{\"minLength\":2,\"maxLength\":3}",
     "[\"a\",\"ab\",\"abc\",\"abcd\",\"\\u00e9\",\"\\u00e9\\u00e9\",\"\\u65e5\\u672c\\u8a9e\","
     "\"\\u65e5\\u672c\\u8a9e!\",7]",
     false, "$[0] minLength | $[3] maxLength | $[4] minLength | $[7] maxLength"},
    {"repeated pattern: the last counts", "{\"pattern\":\"^a\",\"pattern\":\"^b\"}", "[\"a\",\"b\"]", false, "$[0] pattern"},
    {"pattern is unanchored", "{\"pattern\":\"b+\"}", "[\"abc\",\"xyz\",5]", false, "$[1] pattern"},
    {"pattern POSIX classes", "{\"pattern\":\"^[[:digit:]]{3}-[[:digit:]]{4}$\"}", "[\"555-1234\",\"5551234\"]",
     false, "$[1] pattern"},
    {"pattern with many plain repetitions", "{\"pattern\":\"^((\\\\w+) ){1,20}[a-z]{2,200}(-[0-9]+)*[[:alpha:]]?$\"}",
     "[\"ab cd efg\",\"1\"]", false, "$[1] pattern"},
    {"minItems maxItems", "{\"minItems\":1,\"maxItems\":2}", "[[],[1],[1,2],[1,2,3]]", false,
     "$[0] minItems | $[3] maxItems"},
    {"false schema", "{\"properties\":{\"secret\":false}}", "[{\"secret\":1},{}]", false, "$[0].secret false"},
    {"true schema", "true", "[1,\"x\",null]", false, ""},
    {"several keywords on one value", "{\"type\":\"string\",\"minLength\":5,\"pattern\":\"^a\"}", "[\"bcd\"]", false,
     "$[0] minLength | $[0] pattern"},
    {"annotations are ignored", "{\"title\":\"t\",\"description\":\"d\",\"format\":\"email\",\"type\":\"string\"}",
     "[\"x\"]", false, ""},
    {"valid records",
     "{\"type\":\"object\",\"required\":[\"id\",\"email\"],\"additionalProperties\":false,\"properties\":{"
     "\"id\":{\"type\":\"integer\",\"minimum\":1},\"email\":{\"type\":\"string\",\"pattern\":\"@\"},"
     "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]},\"maxItems\":2},"
     "\"score\":{\"type\":[\"number\",\"null\"],\"exclusiveMaximum\":100}}}",
     "[{\"id\":1,\"email\":\"a@x\"},{\"id\":2,\"email\":\"b@y\",\"tags\":[\"a\",\"b\"],\"score\":99.5},"
     "{\"id\":3,\"email\":\"@\",\"score\":null,\"tags\":[]}]",
     false, ""},
    {"escaped keys in paths", "{\"properties\":{\"a\\\"b\":{\"type\":\"string\"},\"1x\":{\"type\":\"string\"}}}",
     "[{\"a\\\"b\":1,\"1x\":2}]", false, "$[0][\"a\\\"b\"] type | $[0][\"1x\"] type"},
    {"single record", "{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"a\":1}", true, "$.a type"},
    {"single record valid", "{\"type\":\"object\"}", "{}", true, ""},
};
/* clang-format on */

static void violation_run(const void *arg)
{
    const struct violation_case *c = arg;
    char data[2048];
    snprintf(data, sizeof(data), "{\"schema\":%s,\"%s\":%s}", c->schema,
             c->single ? "record" : "records", c->records);
    cJSON *result = NULL;
    struct dp_error err = {""};
    int rc = data_check_run(schema_run, data, &result, &err);
    CHECK_STR(rc == 0 ? "" : err.message, "");
    if (rc != 0)
        return;
    char got[2048] = "";
    size_t o = 0;
    long n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(result, "violations"))
    {
        o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s %s", n++ ? " | " : "",
                              cJSON_GetObjectItemCaseSensitive(v, "path")->valuestring,
                              cJSON_GetObjectItemCaseSensitive(v, "keyword")->valuestring);
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "message")));
        if (!c->single)
            CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "record")));
    }
    CHECK_STR(got, c->want);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "valid")) == (c->want[0] == '\0'));
    CHECK_LONG(cJSON_GetObjectItemCaseSensitive(result, "violationCount")->valuedouble, n);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(result, "truncated")));
    cJSON_Delete(result);
}

/* ---- messages and counts ------------------------------------------------------------- */

struct message_case {
    const char *schema, *value, *message;
};

/* clang-format off */
static const struct message_case message_cases[] = {
    {"{\"type\":\"string\"}", "5", "must be string, not integer"},
    {"{\"type\":\"integer\"}", "2.5", "must be integer, not a fractional number"},
    {"{\"type\":[\"object\",\"null\"]}", "[]", "must be object or null, not array"},
    {"{\"required\":[\"id\"]}", "{}", "is required but missing"},
    {"{\"additionalProperties\":false}", "{\"x\":1}", "is not an allowed property"},
    {"{\"minimum\":1.5}", "0", "0 is less than the minimum 1.5"},
    {"{\"maximum\":10}", "11", "11 is greater than the maximum 10"},
    {"{\"exclusiveMinimum\":0}", "0", "0 is not greater than 0"},
    {"{\"exclusiveMaximum\":0}", "0", "0 is not less than 0"},
    {"{\"minLength\":2}", "\"a\"", "is 1 characters long, shorter than 2"},
    {"{\"maxLength\":1}", "\"ab\"", "is 2 characters long, longer than 1"},
    {"{\"pattern\":\"^x\"}", "\"y\"", "does not match the pattern ^x"},
    {"{\"minItems\":2}", "[1]", "has 1 items, fewer than 2"},
    {"{\"maxItems\":0}", "[1]", "has 1 items, more than 0"},
    {"{\"enum\":[1,2]}", "3", "is not one of the 2 allowed values"},
    {"{\"const\":1}", "2", "does not equal the required constant"},
    {"false", "1", "no value is allowed here"},
};
/* clang-format on */

static void message_run(const void *arg)
{
    const struct message_case *c = arg;
    char data[512];
    snprintf(data, sizeof(data), "{\"schema\":%s,\"record\":%s}", c->schema, c->value);
    cJSON *result = NULL;
    struct dp_error err = {""};
    REQUIRE(data_check_run(schema_run, data, &result, &err) == 0);
    const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(result, "violations"), 0);
    REQUIRE(v != NULL);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(v, "message")->valuestring, c->message);
    cJSON_Delete(result);
}

static void counts_run(const void *arg)
{
    cJSON *
        result = NULL,
       *want = cJSON_Parse(
           "{\"valid\":false,\"recordCount\":4,\"validCount\":2,\"invalidCount\":2,\"violationCount\":3,"
           "\"invalidRecords\":[1,3],\"truncated\":false,\"summary\":\"2 of 4 records are invalid, with 3 violations.\","
           "\"violations\":[{\"record\":1,\"path\":\"$[1].n\",\"keyword\":\"type\"},"
           "{\"record\":3,\"path\":\"$[3].n\",\"keyword\":\"required\"},{\"record\":3,\"path\":\"$[3].m\"}]}");
    struct dp_error err = {""};
    int rc = data_check_run(
        schema_run,
        "{\"schema\":{\"required\":[\"n\"],\"properties\":{\"n\":{\"type\":\"integer\"}},"
        "\"additionalProperties\":false},\"records\":[{\"n\":1},{\"n\":\"x\"},{\"n\":2},{\"m\":1}]}",
        &result, &err);
    REQUIRE(rc == 0);
    char where[600];
    test_check(data_check_match(want, result, where, sizeof(where)), __FILE__, __LINE__,
               "result matches", where);
    cJSON_Delete(want);
    cJSON_Delete(result);
}

static void truncation_run(const void *arg)
{
    cJSON *data = cJSON_Parse("{\"schema\":{\"type\":\"string\"},\"records\":[]}"), *result = NULL;
    cJSON *recs = cJSON_GetObjectItemCaseSensitive(data, "records");
    for (int i = 0; i < SCHEMA_MAX_VIOLATIONS + 5; i++)
        cJSON_AddItemToArray(recs, cJSON_CreateNumber(i));
    struct dp_error err = {""};
    REQUIRE(schema_run(data, "data", &result, &err) == 0);
    CHECK_LONG(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(result, "violations")),
               SCHEMA_MAX_VIOLATIONS);
    CHECK_LONG(cJSON_GetObjectItemCaseSensitive(result, "violationCount")->valuedouble,
               SCHEMA_MAX_VIOLATIONS + 5);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "truncated")));
    cJSON_Delete(result);
    cJSON_Delete(data);
}

/* ---- errors -------------------------------------------------------------------------- */

struct schema_error {
    const char *data;
    const char *message; /* the start of the message */
};

/* clang-format off */
static const struct schema_error schema_errors[] = {
    {"{\"records\":[]}", "data.schema is required"},
    {"{\"schema\":{}}", "data.records (or data.record) is required"},
    {"{\"schema\":{},\"records\":[],\"record\":{}}", "data.records and data.record are both given: send one"},
    {"{\"schema\":{},\"records\":{}}", "data.records must be an array, not object"},
    {"{\"schema\":5,\"records\":[]}", "data.schema must be a schema object or a boolean, not number"},
    {"{\"schema\":{\"type\":\"strin\"},\"records\":[]}",
     "data.schema.type has an unknown type \"strin\" (known: object, array, string, number, integer, boolean, null)"},
    {"{\"schema\":{\"type\":[]},\"records\":[]}", "data.schema.type must be a type name or a non-empty array of them"},
    {"{\"schema\":{\"type\":[\"string\",5]},\"records\":[]}", "data.schema.type[1] must be a type name, not number"},
    {"{\"schema\":{\"properties\":{\"a\":{\"items\":{\"type\":\"x\"}}}},\"records\":[]}",
     "data.schema.properties.a.items.type has an unknown type \"x\""},
    {"{\"schema\":{\"pattern\":\"a(b\"},\"records\":[]}",
     "data.schema.pattern is not a valid POSIX extended regular expression ("},
    {"{\"schema\":{\"properties\":{\"e mail\":{\"pattern\":\"[z-a]\"}}},\"records\":[]}",
     "data.schema.properties[\"e mail\"].pattern is not a valid POSIX extended regular expression ("},
    {"{\"schema\":{\"pattern\":5},\"records\":[]}", "data.schema.pattern must be a string"},
    {"{\"schema\":{\"pattern\":\"^[^@]+++++++++++++++++++++++++++++++++++++++++++++++++$\"},\"records\":[]}",
     "data.schema.pattern repeats too much"},
    {"{\"schema\":{\"pattern\":\"((a{100}){100}){3}\"},\"records\":[]}", "data.schema.pattern repeats too much"},
    {"{\"schema\":{\"pattern\":\"^[^@]*++++++++++++@\"},\"records\":[]}", "data.schema.pattern repeats too much"},
    {"{\"schema\":{\"pattern\":\"a{2}?\"},\"records\":[]}", "data.schema.pattern repeats too much"},
    {"{\"schema\":{\"pattern\":\"(x|y{1,}){99999}\"},\"records\":[]}", "data.schema.pattern repeats too much"},
    {"{\"schema\":{\"pattern\":\"^a\",\"pattern\":\"a(b\"},\"records\":[]}",
     "data.schema.pattern is not a valid POSIX extended regular expression ("},
    {"{\"schema\":{\"properties\":[]},\"records\":[]}", "data.schema.properties must be an object of schemas"},
    {"{\"schema\":{\"properties\":{\"a\":1}},\"records\":[]}",
     "data.schema.properties.a must be a schema object or a boolean, not number"},
    {"{\"schema\":{\"required\":\"a\"},\"records\":[]}", "data.schema.required must be an array of property names"},
    {"{\"schema\":{\"required\":[\"a\",5]},\"records\":[]}", "data.schema.required[1] must be a string, not number"},
    {"{\"schema\":{\"additionalProperties\":{}},\"records\":[]}",
     "data.schema.additionalProperties must be true or false (the schema form is not supported)"},
    {"{\"schema\":{\"items\":[{}]},\"records\":[]}",
     "data.schema.items must be one schema (the array form is not supported)"},
    {"{\"schema\":{\"enum\":[]},\"records\":[]}", "data.schema.enum must be a non-empty array"},
    {"{\"schema\":{\"minimum\":\"1\"},\"records\":[]}", "data.schema.minimum must be a number"},
    {"{\"schema\":{\"exclusiveMinimum\":true},\"records\":[]}",
     "data.schema.exclusiveMinimum must be a number (the draft-4 boolean form is not supported)"},
    {"{\"schema\":{\"minLength\":-1},\"records\":[]}", "data.schema.minLength must be a non-negative integer"},
    {"{\"schema\":{\"maxItems\":1.5},\"records\":[]}", "data.schema.maxItems must be a non-negative integer"},
    {"{\"schema\":{\"oneOf\":[]},\"records\":[]}",
     "data.schema.oneOf is not a supported keyword (see docs/agents/data_processor.md)"},
    {"{\"schema\":{\"items\":{\"properties\":{\"x\":{\"$ref\":\"#\"}}}},\"records\":[]}",
     "data.schema.items.properties.x.$ref is not a supported keyword"},
};
/* clang-format on */

static void schema_error_run(const void *arg)
{
    const struct schema_error *c = arg;
    cJSON *result = NULL;
    struct dp_error err = {""};
    CHECK_LONG(data_check_run(schema_run, c->data, &result, &err), DP_BAD_INPUT);
    CHECK(strncmp(err.message, c->message, strlen(c->message)) == 0);
    CHECK_CONTAINS(err.message, c->message);
    CHECK(result == NULL);
}

static void schema_depth_run(const void *arg)
{
    /* {"items":{"items":...{}...}}: RECORDSET_MAX_DEPTH levels below the root pass */
    for (int depth = RECORDSET_MAX_DEPTH; depth <= RECORDSET_MAX_DEPTH + 1; depth++) {
        char *s = malloc((size_t)depth * 12 + 64), *p = s;
        p += sprintf(p, "{\"records\":[],\"schema\":");
        for (int i = 0; i < depth; i++)
            p += sprintf(p, "{\"items\":");
        p += sprintf(p, "{}");
        for (int i = 0; i < depth; i++)
            *p++ = '}';
        sprintf(p, "}");
        cJSON *result = NULL;
        struct dp_error err = {""};
        int rc = data_check_run(schema_run, s, &result, &err);
        if (depth == RECORDSET_MAX_DEPTH) {
            CHECK_LONG(rc, 0);
        } else {
            CHECK_LONG(rc, DP_BAD_INPUT);
            CHECK_CONTAINS(err.message, "nests deeper than 32 schemas");
            CHECK_CONTAINS(err.message, "data.schema.items.items.");
        }
        cJSON_Delete(result);
        free(s);
    }
}

void register_data_schema_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(violation_cases); i++)
        test_addf(violation_run, &violation_cases[i], "data schema %s", violation_cases[i].label);
    for (size_t i = 0; i < COUNT_OF(message_cases); i++)
        test_addf(message_run, &message_cases[i], "data schema message %s",
                  message_cases[i].message);
    test_add("data schema counts and invalidRecords", counts_run, NULL);
    test_add("data schema violation list is bounded", truncation_run, NULL);
    for (size_t i = 0; i < COUNT_OF(schema_errors); i++)
        test_addf(schema_error_run, &schema_errors[i], "data schema error %s",
                  schema_errors[i].message);
    test_add("data schema depth bound", schema_depth_run, NULL);
}
