/* data_processor transform_data: each op against hand-written output (select, rename,
 * filter with every operator, stable sort with mixed types, dedupe, flatten, limit), a
 * multi-step pipeline, the per-step counts, and every bad-step error with its path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/data_check.h"
#include "tests/unit/harness.h"
#include "worker/agents/data_processor/jvalue.h"
#include "worker/agents/data_processor/recordset.h"
#include "worker/agents/data_processor/transform.h"

struct op_case {
    const char *label;
    const char *records;
    const char *steps;
    const char *want;   /* the output records (compared in canonical form: key order aside) */
    const char *counts; /* "in>out" per step, comma-separated */
};

#define R(...) #__VA_ARGS__

/* clang-format off */
static const struct op_case op_cases[] = {
    {"select", R([{"a":1,"b":2,"c":3},{"b":5}]), R([{"op":"select","fields":["a","b"]}]),
     R([{"a":1,"b":2},{"b":5}]), "2>2"},
    {"rename from/to", R([{"a":1,"b":2}]), R([{"op":"rename","from":"a","to":"x"}]), R([{"x":1,"b":2}]), "1>1"},
    {"rename onto an existing field replaces it", R([{"a":1,"b":2},{"b":3}]), R([{"op":"rename","from":"a","to":"b"}]),
     R([{"b":1},{"b":3}]), "2>2"},
    {"rename map swaps", R([{"a":1,"b":2,"c":3}]), R([{"op":"rename","map":{"a":"b","b":"a"}}]),
     R([{"b":1,"a":2,"c":3}]), "1>1"},
    {"rename of a missing field", R([{"c":1}]), R([{"op":"rename","from":"a","to":"b"}]), R([{"c":1}]), "1>1"},
    {"filter eq (1 equals 1.0, not \"1\")", R([{"n":1},{"n":2},{"n":"1"},{},{"n":1.0}]),
     R([{"op":"filter","field":"n","operator":"eq","value":1}]), R([{"n":1},{"n":1}]), "5>2"},
    {"filter eq null is not missing", R([{"n":null},{}]), R([{"op":"filter","field":"n","operator":"eq","value":null}]),
     R([{"n":null}]), "2>1"},
    {"filter ne keeps missing", R([{"n":1},{"n":2},{"n":"1"},{}]),
     R([{"op":"filter","field":"n","operator":"ne","value":1}]), R([{"n":2},{"n":"1"},{}]), "4>3"},
    {"filter gt numbers only", R([{"n":1},{"n":2},{"n":"3"},{},{"n":null}]),
     R([{"op":"filter","field":"n","operator":"gt","value":1}]), R([{"n":2}]), "5>1"},
    {"filter gte strings", R([{"s":"apple"},{"s":"banana"},{"s":"cherry"},{"s":5}]),
     R([{"op":"filter","field":"s","operator":"gte","value":"banana"}]), R([{"s":"banana"},{"s":"cherry"}]), "4>2"},
    {"filter lt", R([{"n":-1},{"n":0},{"n":0.5}]), R([{"op":"filter","field":"n","operator":"lt","value":0.5}]),
     R([{"n":-1},{"n":0}]), "3>2"},
    {"filter lte", R([{"n":-1},{"n":0},{"n":0.5}]), R([{"op":"filter","field":"n","operator":"lte","value":0}]),
     R([{"n":-1},{"n":0}]), "3>2"},
    {"filter in", R([{"c":"red"},{"c":"blue"},{"c":"green"},{},{"c":null}]),
     R([{"op":"filter","field":"c","operator":"in","value":["red","green",null]}]),
     R([{"c":"red"},{"c":"green"},{"c":null}]), "5>3"},
    {"filter contains", R([{"t":"hello world"},{"t":"bye"},{"t":["world"]},{"t":5},{}]),
     R([{"op":"filter","field":"t","operator":"contains","value":"world"}]), R([{"t":"hello world"},{"t":["world"]}]),
     "5>2"},
    {"filter exists", R([{"a":null},{"b":1}]), R([{"op":"filter","field":"a","operator":"exists"}]), R([{"a":null}]),
     "2>1"},
    {"filter exists false", R([{"a":null},{"b":1}]),
     R([{"op":"filter","field":"a","operator":"exists","value":false}]), R([{"b":1}]), "2>1"},
    {"sort is stable", R([{"k":2,"i":0},{"k":1,"i":1},{"k":2,"i":2},{"k":1,"i":3}]),
     R([{"op":"sort","by":[{"field":"k"}]}]), R([{"k":1,"i":1},{"k":1,"i":3},{"k":2,"i":0},{"k":2,"i":2}]), "4>4"},
    {"sort desc then asc", R([{"g":"a","n":2},{"g":"b","n":9},{"g":"a","n":1},{"g":"b","n":3}]),
     R([{"op":"sort","by":[{"field":"g","order":"desc"},"n"]}]),
     R([{"g":"b","n":3},{"g":"b","n":9},{"g":"a","n":1},{"g":"a","n":2}]), "4>4"},
    {"sort mixed types",
     R([{"v":"b"},{"v":2},{},{"v":null},{"v":true},{"v":"a"},{"v":[1]},{"v":{"x":1}},{"v":false},{"v":-1}]),
     R([{"op":"sort","by":[{"field":"v","order":"asc"}]}]),
     R([{},{"v":null},{"v":false},{"v":true},{"v":-1},{"v":2},{"v":"a"},{"v":"b"},{"v":[1]},{"v":{"x":1}}]),
     "10>10"},
    {"sort desc keeps ties in input order", R([{"v":1,"i":0},{"v":2,"i":1},{"v":1,"i":2},{"i":3}]),
     R([{"op":"sort","by":[{"field":"v","order":"desc"}]}]), R([{"v":2,"i":1},{"v":1,"i":0},{"v":1,"i":2},{"i":3}]),
     "4>4"},
    {"dedupe on fields keeps the first",
     R([{"a":1,"b":1},{"a":1,"b":2},{"a":2,"b":3},{"a":1.0,"b":4},{"b":5},{"a":null,"b":6},{"b":7}]),
     R([{"op":"dedupe","fields":["a"]}]), R([{"a":1,"b":1},{"a":2,"b":3},{"b":5},{"a":null,"b":6}]), "7>4"},
    {"dedupe whole records", R([{"a":1,"b":2},{"b":2,"a":1},{"a":1},{"a":1,"b":2}]), R([{"op":"dedupe"}]),
     R([{"a":1,"b":2},{"a":1}]), "4>2"},
    {"dedupe on two fields", R([{"a":1,"b":1,"i":0},{"a":1,"b":2,"i":1},{"a":1,"b":1,"i":2}]),
     R([{"op":"dedupe","fields":["a","b"]}]), R([{"a":1,"b":1,"i":0},{"a":1,"b":2,"i":1}]), "3>2"},
    {"flatten", R([{"id":1,"user":{"name":"x","addr":{"city":"y"}},"tags":[{"k":1}],"empty":{}}]), R([{"op":"flatten"}]),
     R([{"id":1,"user.name":"x","user.addr.city":"y","tags":[{"k":1}],"empty":{}}]), "1>1"},
    {"flatten with a separator", R([{"a":{"b":{"c":1}},"d":2}]), R([{"op":"flatten","separator":"__"}]),
     R([{"a__b__c":1,"d":2}]), "1>1"},
    {"limit with offset", R([{"i":0},{"i":1},{"i":2},{"i":3},{"i":4}]), R([{"op":"limit","count":2,"offset":1}]),
     R([{"i":1},{"i":2}]), "5>2"},
    {"limit past the end", R([{"i":0},{"i":1}]), R([{"op":"limit","count":5,"offset":1}]), R([{"i":1}]), "2>1"},
    {"limit 0", R([{"i":0}]), R([{"op":"limit","count":0}]), R([]), "1>0"},
    {"no steps", R([{"a":1}]), R([]), R([{"a":1}]), ""},
    {"no records", R([]), R([{"op":"sort","by":["a"]},{"op":"limit","count":1}]), R([]), "0>0,0>0"},
    {"pipeline",
     R([{"id":1,"user":{"name":"ann","age":31},"city":"Oslo"},
        {"id":2,"user":{"name":"bob","age":17},"city":"Rome"},
        {"id":3,"user":{"name":"cy","age":45},"city":"Oslo"},
        {"id":4,"user":{"name":"di","age":31},"city":"Lima"},
        {"id":5,"user":{"name":"ann","age":52},"city":"Oslo"},
        {"id":6,"user":{"name":"ed"},"city":"Rome"}]),
     R([{"op":"flatten"},
        {"op":"filter","field":"user.age","operator":"gte","value":18},
        {"op":"rename","map":{"user.name":"name","user.age":"age"}},
        {"op":"sort","by":[{"field":"age","order":"desc"},{"field":"id"}]},
        {"op":"dedupe","fields":["name"]},
        {"op":"select","fields":["name","age","city"]},
        {"op":"limit","count":3}]),
     R([{"name":"ann","age":52,"city":"Oslo"},{"name":"cy","age":45,"city":"Oslo"},{"name":"di","age":31,"city":"Lima"}]),
     "6>6,6>4,4>4,4>4,4>3,3>3,3>3"},
};
/* clang-format on */

static void op_run(const void *arg)
{
    const struct op_case *c = arg;
    char data[4096];
    snprintf(data, sizeof(data), "{\"records\":%s,\"steps\":%s}", c->records, c->steps);
    cJSON *result = NULL, *want = cJSON_Parse(c->want);
    struct dp_error err = {""};
    REQUIRE(want != NULL);
    int rc = data_check_run(transform_run, data, &result, &err);
    CHECK_STR(rc == 0 ? "" : err.message, "");
    if (rc == 0) {
        char *w = jvalue_render(want),
             *g = jvalue_render(cJSON_GetObjectItemCaseSensitive(result, "records"));
        CHECK_STR(g, w);
        free(w);
        free(g);
        CHECK_LONG(cJSON_GetObjectItemCaseSensitive(result, "count")->valuedouble,
                   cJSON_GetArraySize(want));
        char counts[256] = "";
        size_t o = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(result, "steps")) o +=
            (size_t)snprintf(counts + o, sizeof(counts) - o, "%s%d>%d", o ? "," : "",
                             (int)cJSON_GetObjectItemCaseSensitive(s, "in")->valuedouble,
                             (int)cJSON_GetObjectItemCaseSensitive(s, "out")->valuedouble);
        CHECK_STR(counts, c->counts);
    }
    cJSON_Delete(result);
    cJSON_Delete(want);
}

static void select_keeps_field_order(const void *arg)
{
    cJSON *result = NULL;
    struct dp_error err;
    REQUIRE(data_check_run(transform_run, R({
                               "records" : [ {"a" : 1, "b" : 2, "c" : 3} ],
                               "steps" : [ {"op" : "select", "fields" : [ "c", "a" ]} ]
                           }),
                           &result, &err) == 0);
    char *text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(result, "records"));
    CHECK_STR(text, "[{\"c\":3,\"a\":1}]");
    free(text);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(result, "summary")->valuestring,
              "Transformed 1 record into 1 through 1 step.");
    CHECK_LONG(cJSON_GetObjectItemCaseSensitive(result, "inputCount")->valuedouble, 1);
    cJSON_Delete(result);
}

/* ---- errors -------------------------------------------------------------------------- */

struct step_error {
    const char *data;
    const char *message; /* exact */
};

/* clang-format off */
static const struct step_error step_errors[] = {
    {R({"steps":[]}), "data.records is required"},
    {R({"records":[{},{},"x"],"steps":[]}), "data.records[2] must be an object, not string"},
    {R({"records":[]}), "data.steps is required"},
    {R({"records":[],"steps":{}}), "data.steps must be an array of steps"},
    {R({"records":[],"steps":[5]}), "data.steps[0] must be an object with an \"op\""},
    {R({"records":[],"steps":[{}]}), "data.steps[0].op is required"},
    {R({"records":[],"steps":[{"op":7}]}), "data.steps[0].op must be a string, not number"},
    {R({"records":[],"steps":[{"op":"limit","count":1},{"op":"explode"}]}),
     "data.steps[1] has an unknown op \"explode\" (known: select, rename, filter, sort, dedupe, flatten, limit)"},
    {R({"records":[],"steps":[{"op":"filter","feild":"a","operator":"eq","value":1}]}),
     "data.steps[0].feild is not a known key of a filter step"},
    {R({"records":[],"steps":[{"op":"select"}]}), "data.steps[0].fields is required"},
    {R({"records":[],"steps":[{"op":"select","fields":[]}]}), "data.steps[0].fields must not be empty"},
    {R({"records":[],"steps":[{"op":"select","fields":"a"}]}),
     "data.steps[0].fields must be an array of field names, not string"},
    {R({"records":[],"steps":[{"op":"select","fields":[1]}]}), "data.steps[0].fields[0] must be a string, not number"},
    {R({"records":[],"steps":[{"op":"dedupe","fields":["a","a"]}]}),
     "data.steps[0].fields[1] repeats the name \"a\""},
    {R({"records":[],"steps":[{"op":"rename","from":"a"}]}), "data.steps[0].to is required"},
    {R({"records":[],"steps":[{"op":"rename","from":"","to":"b"}]}), "data.steps[0].from must not be empty"},
    {R({"records":[],"steps":[{"op":"rename","from":"a","to":"b","map":{}}]}),
     "data.steps[0] takes either from/to or map, not both"},
    {R({"records":[],"steps":[{"op":"rename","map":{}}]}),
     "data.steps[0].map must be a non-empty object of old name: new name"},
    {R({"records":[],"steps":[{"op":"rename","map":{"a":1}}]}),
     "data.steps[0].map.a must be a non-empty string (the new name)"},
    {R({"records":[],"steps":[{"op":"rename","map":{"a":"x","b":"x"}}]}),
     "data.steps[0].map.b renames to \"x\" like an earlier entry"},
    {R({"records":[],"steps":[{"op":"filter","operator":"eq","value":1}]}), "data.steps[0].field is required"},
    {R({"records":[],"steps":[{"op":"filter","field":"a","operator":"like","value":1}]}),
     "data.steps[0].operator must be one of eq, ne, gt, gte, lt, lte, in, contains, exists, not \"like\""},
    {R({"records":[],"steps":[{"op":"filter","field":"a","operator":"eq"}]}), "data.steps[0].value is required for eq"},
    {R({"records":[],"steps":[{"op":"filter","field":"a","operator":"gt","value":{}}]}),
     "data.steps[0].value must be a number or a string for gt"},
    {R({"records":[],"steps":[{"op":"filter","field":"a","operator":"lte","value":null}]}),
     "data.steps[0].value must be a number or a string for lte"},
    {R({"records":[],"steps":[{"op":"filter","field":"a","operator":"in","value":"x"}]}),
     "data.steps[0].value must be an array for in"},
    {R({"records":[],"steps":[{"op":"filter","field":"a","operator":"exists","value":1}]}),
     "data.steps[0].value must be true or false for exists"},
    {R({"records":[],"steps":[{"op":"sort"}]}), "data.steps[0].by must be a non-empty array of {\"field\", \"order\"}"},
    {R({"records":[],"steps":[{"op":"sort","by":[]}]}),
     "data.steps[0].by must be a non-empty array of {\"field\", \"order\"}"},
    {R({"records":[],"steps":[{"op":"sort","by":["a",{"field":"b","order":"up"}]}]}),
     "data.steps[0].by[1].order must be \"asc\" or \"desc\""},
    {R({"records":[],"steps":[{"op":"sort","by":[{"order":"asc"}]}]}), "data.steps[0].by[0].field is required"},
    {R({"records":[],"steps":[{"op":"sort","by":[{"field":"a","dir":"asc"}]}]}),
     "data.steps[0].by[0].dir is not a known key of a sort key (known: field, order)"},
    {R({"records":[],"steps":[{"op":"sort","by":[5]}]}),
     "data.steps[0].by[0] must be a field name or {\"field\", \"order\"}"},
    {R({"records":[],"steps":[{"op":"flatten","separator":""}]}), "data.steps[0].separator must not be empty"},
    {R({"records":[],"steps":[{"op":"flatten","separator":"12345678901234567"}]}),
     "data.steps[0].separator must be at most 16 bytes"},
    {R({"records":[],"steps":[{"op":"limit"}]}), "data.steps[0].count is required"},
    {R({"records":[],"steps":[{"op":"limit","count":-1}]}), "data.steps[0].count must be an integer from 0 to 100000"},
    {R({"records":[],"steps":[{"op":"limit","count":1,"offset":1.5}]}),
     "data.steps[0].offset must be an integer from 0 to 100000"},
};
/* clang-format on */

static void step_error_run(const void *arg)
{
    const struct step_error *c = arg;
    cJSON *result = NULL;
    struct dp_error err = {""};
    CHECK_LONG(data_check_run(transform_run, c->data, &result, &err), DP_BAD_INPUT);
    CHECK_STR(err.message, c->message);
    CHECK(result == NULL);
}

static void too_many_steps(const void *arg)
{
    cJSON *data = cJSON_Parse(R({"records" : [], "steps" : []})), *result = NULL;
    cJSON *steps = cJSON_GetObjectItemCaseSensitive(data, "steps");
    for (int i = 0; i < TRANSFORM_MAX_STEPS + 1; i++)
        cJSON_AddItemToArray(steps, cJSON_Parse(R({"op" : "limit", "count" : 1})));
    struct dp_error err = {""};
    CHECK_LONG(transform_run(data, "data", &result, &err), DP_BAD_INPUT);
    CHECK_STR(err.message, "data.steps has 65 steps; at most 64 are allowed");
    cJSON_DeleteItemFromArray(steps, 0);
    CHECK_LONG(transform_run(data, "data", &result, &err), 0);
    cJSON_Delete(result);
    cJSON_Delete(data);
}

static void top_level_form(const void *arg)
{
    cJSON *payload = cJSON_Parse(R(
        {"taskType" : "transform_data", "records" : [ {"a" : 1} ], "steps" : [ {"op" : "nope"} ]}));
    const cJSON *data;
    const char *root;
    cJSON *result = NULL;
    struct dp_error err = {""};
    REQUIRE(recordset_data(payload, &data, &root, &err) == 0);
    CHECK_LONG(transform_run(data, root, &result, &err), DP_BAD_INPUT);
    CHECK_CONTAINS(err.message, "payload.steps[0] has an unknown op \"nope\"");
    cJSON_Delete(payload);
}

void register_data_transform_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(op_cases); i++)
        test_addf(op_run, &op_cases[i], "data transform %s", op_cases[i].label);
    test_add("data transform select keeps the listed order", select_keeps_field_order, NULL);
    for (size_t i = 0; i < COUNT_OF(step_errors); i++)
        test_addf(step_error_run, &step_errors[i], "data transform error %s",
                  step_errors[i].message);
    test_add("data transform step count bound", too_many_steps, NULL);
    test_add("data transform top-level payload form", top_level_form, NULL);
}
