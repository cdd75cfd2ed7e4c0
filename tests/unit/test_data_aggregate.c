/* data_processor process_data: aggregates and percentiles against hand-computed numbers,
 * field discovery, group-by (keys, order, missing keys), the payload's two forms, and
 * every bad-input error with its path. Plus numstats and jvalue directly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/data_check.h"
#include "tests/unit/harness.h"
#include "worker/agents/data_processor/aggregate.h"
#include "worker/agents/data_processor/jvalue.h"
#include "worker/agents/data_processor/numstats.h"
#include "worker/agents/data_processor/recordset.h"

/* ---- results ------------------------------------------------------------------------- */

struct agg_case {
    const char *label;
    const char *data;
    const char *want; /* a subset of the result, numbers worked out by hand */
};

/* clang-format off */
static const struct agg_case agg_cases[] = {
    /* [10,20,30,40]: mean 25; squared deviations 225+25+25+225 = 500, /4 = 125, sqrt =
     * 11.18034; ranks (n-1)p: p50 1.5 -> 25, p90 2.7 -> 30+0.7*10 = 37, p99 2.97 -> 39.7 */
    {"sum mean min max stddev default percentiles",
     "{\"records\":[{\"amount\":10},{\"amount\":40},{\"amount\":20},{\"amount\":30},{\"other\":1},"
     "{\"amount\":\"x\"},{\"amount\":null}],\"fields\":[\"amount\"]}",
     "{\"count\":7,\"percentiles\":[50,90,99],\"fields\":{\"amount\":{\"count\":4,\"missing\":2,"
     "\"nonNumeric\":1,\"sum\":100,\"mean\":25,\"min\":10,\"max\":40,\"stddev\":11.180339887498949,"
     "\"percentiles\":{\"p50\":25,\"p90\":37,\"p99\":39.7}}}}"},
    /* [1..5]: ranks 4p: p0 0 -> 1, p25 1 -> 2, p100 4 -> 5, p12.5 0.5 -> 1.5; variance 2 */
    {"custom percentiles",
     "{\"records\":[{\"v\":5},{\"v\":3},{\"v\":1},{\"v\":4},{\"v\":2}],\"fields\":\"v\","
     "\"percentiles\":[0,25,100,12.5]}",
     "{\"count\":5,\"fields\":{\"v\":{\"sum\":15,\"mean\":3,\"stddev\":1.4142135623730951,"
     "\"percentiles\":{\"p0\":1,\"p25\":2,\"p100\":5,\"p12.5\":1.5}}}}"},
    {"one value", "{\"records\":[{\"v\":7}],\"fields\":[\"v\"]}",
     "{\"fields\":{\"v\":{\"count\":1,\"sum\":7,\"mean\":7,\"min\":7,\"max\":7,\"stddev\":0,"
     "\"percentiles\":{\"p50\":7,\"p90\":7,\"p99\":7}}}}"},
    /* negative and fractional: [-2.5, 0.5, 1] sum -1, mean -1/3, p50 0.5 */
    {"negatives and fractions", "{\"records\":[{\"v\":1},{\"v\":-2.5},{\"v\":0.5}],\"fields\":[\"v\"]}",
     "{\"fields\":{\"v\":{\"sum\":-1,\"mean\":-0.3333333333333333,\"min\":-2.5,\"max\":1,"
     "\"percentiles\":{\"p50\":0.5}}}}"},
    {"fractions sum", "{\"records\":[{\"v\":0.1},{\"v\":0.2},{\"v\":0.3}],\"fields\":[\"v\"]}",
     "{\"fields\":{\"v\":{\"sum\":0.6,\"mean\":0.2}}}"},
    {"no numeric values: nulls", "{\"records\":[{\"v\":\"a\"},{\"v\":true},{}],\"fields\":[\"v\"]}",
     "{\"count\":3,\"fields\":{\"v\":{\"count\":0,\"missing\":1,\"nonNumeric\":2,\"sum\":0,\"mean\":null,"
     "\"min\":null,\"max\":null,\"stddev\":null,\"percentiles\":{\"p50\":null,\"p90\":null,\"p99\":null}}}}"},
    /* a: [1,3] mean 2 stddev 1; c: [2.5]; b (string), d (bool) are not numeric */
    {"every numeric field when fields is absent",
     "{\"records\":[{\"c\":2.5,\"b\":\"x\",\"a\":1},{\"a\":3,\"c\":null,\"d\":true}]}",
     "{\"count\":2,\"fields\":{\"a\":{\"count\":2,\"sum\":4,\"mean\":2,\"stddev\":1},"
     "\"c\":{\"count\":1,\"missing\":1,\"sum\":2.5}}}"},
    {"no records", "{\"records\":[]}", "{\"count\":0,\"fields\":{}}"},
    {"no records, named field", "{\"records\":[],\"fields\":[\"v\"]}",
     "{\"count\":0,\"fields\":{\"v\":{\"count\":0,\"missing\":0,\"mean\":null}}}"},
    /* groups sorted by key: null (the record without region) < "eu" < "us" */
    {"group by one field",
     "{\"records\":[{\"region\":\"eu\",\"v\":1},{\"region\":\"us\",\"v\":10},{\"region\":\"eu\",\"v\":3},"
     "{\"v\":5},{\"region\":\"us\",\"v\":20}],\"groupBy\":\"region\"}",
     "{\"count\":5,\"groupBy\":[\"region\"],\"fields\":{\"v\":{\"sum\":39}},\"groups\":["
     "{\"key\":\"null\",\"by\":{\"region\":null},\"count\":1,\"fields\":{\"v\":{\"sum\":5,\"mean\":5}}},"
     "{\"key\":\"\\\"eu\\\"\",\"by\":{\"region\":\"eu\"},\"count\":2,\"fields\":{\"v\":{\"sum\":4,\"mean\":2,"
     "\"stddev\":1,\"percentiles\":{\"p50\":2}}}},"
     "{\"key\":\"\\\"us\\\"\",\"by\":{\"region\":\"us\"},\"count\":2,\"fields\":{\"v\":{\"sum\":30,"
     "\"mean\":15,\"min\":10,\"max\":20,\"percentiles\":{\"p90\":19}}}}]}"},
    /* numeric keys sort by value (2 before 10); the groupBy field itself is not aggregated */
    {"group by a numeric field",
     "{\"records\":[{\"year\":10,\"v\":1},{\"year\":2,\"v\":2},{\"year\":10,\"v\":3}],\"groupBy\":[\"year\"]}",
     "{\"fields\":{\"v\":{\"sum\":6}},\"groups\":[{\"key\":\"2\",\"count\":1,\"fields\":{\"v\":{\"sum\":2}}},"
     "{\"key\":\"10\",\"count\":2,\"fields\":{\"v\":{\"sum\":4}}}]}"},
    {"group by two fields",
     "{\"records\":[{\"a\":1,\"b\":\"y\",\"v\":1},{\"a\":2,\"b\":\"x\",\"v\":2},{\"a\":1,\"b\":\"x\",\"v\":3},"
     "{\"a\":1,\"b\":\"x\",\"v\":4}],\"groupBy\":[\"a\",\"b\"],\"fields\":[\"v\"]}",
     "{\"groups\":[{\"key\":\"[1,\\\"x\\\"]\",\"by\":{\"a\":1,\"b\":\"x\"},\"count\":2,"
     "\"fields\":{\"v\":{\"sum\":7}}},{\"key\":\"[1,\\\"y\\\"]\",\"count\":1},"
     "{\"key\":\"[2,\\\"x\\\"]\",\"count\":1}]}"},
    {"group keys of objects render with sorted keys",
     "{\"records\":[{\"k\":{\"b\":1,\"a\":2},\"v\":1},{\"k\":{\"a\":2,\"b\":1},\"v\":2}],\"groupBy\":\"k\"}",
     "{\"groups\":[{\"key\":\"{\\\"a\\\":2,\\\"b\\\":1}\",\"count\":2,\"fields\":{\"v\":{\"sum\":3}}}]}"},
    {"group by over no records", "{\"records\":[],\"groupBy\":\"k\"}", "{\"count\":0,\"groups\":[]}"},
};
/* clang-format on */

static void agg_case_run(const void *arg)
{
    const struct agg_case *c = arg;
    cJSON *result = NULL, *want = cJSON_Parse(c->want);
    struct dp_error err = {""};
    REQUIRE(want != NULL);
    int rc = data_check_run(aggregate_run, c->data, &result, &err);
    CHECK_STR(rc == 0 ? "" : err.message, "");
    if (rc == 0) {
        char where[600];
        bool ok = data_check_match(want, result, where, sizeof(where));
        test_check(ok, __FILE__, __LINE__, "result matches", where);
        const cJSON *summary = cJSON_GetObjectItemCaseSensitive(result, "summary");
        CHECK(cJSON_IsString(summary) && summary->valuestring[0]);
    }
    cJSON_Delete(result);
    cJSON_Delete(want);
}

static void agg_summary_text(const void *arg)
{
    cJSON *result = NULL;
    struct dp_error err;
    int rc = data_check_run(
        aggregate_run,
        "{\"records\":[{\"r\":\"a\",\"x\":1,\"y\":2},{\"r\":\"b\",\"x\":3}],\"groupBy\":\"r\"}",
        &result, &err);
    REQUIRE(rc == 0);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(result, "summary")->valuestring,
              "Aggregated 2 records over 2 numeric fields (x, y) in 2 groups by r.");
    cJSON_Delete(result);
}

/* ---- errors -------------------------------------------------------------------------- */

struct agg_error {
    const char *data;
    const char *message; /* exact */
};

/* clang-format off */
static const struct agg_error agg_errors[] = {
    {"{}", "data.records is required"},
    {"{\"records\":null}", "data.records is required"},
    {"{\"records\":{}}", "data.records must be an array, not object"},
    {"{\"records\":[{},5]}", "data.records[1] must be an object, not number"},
    {"{\"records\":[{},{},[]]}", "data.records[2] must be an object, not array"},
    {"{\"records\":[],\"fields\":5}", "data.fields must be a field name or an array of them, not number"},
    {"{\"records\":[],\"fields\":[]}", "data.fields must not be empty"},
    {"{\"records\":[],\"fields\":\"\"}", "data.fields must not be empty"},
    {"{\"records\":[],\"fields\":[\"a\",\"\"]}", "data.fields[1] must not be empty"},
    {"{\"records\":[],\"fields\":[\"a\",7]}", "data.fields[1] must be a string, not number"},
    {"{\"records\":[],\"fields\":[\"a\",\"b\",\"a\"]}", "data.fields[2] repeats the name \"a\""},
    {"{\"records\":[],\"percentiles\":50}", "data.percentiles must be an array of numbers from 0 to 100"},
    {"{\"records\":[],\"percentiles\":[50,101]}", "data.percentiles[1] must be a number from 0 to 100"},
    {"{\"records\":[],\"percentiles\":[-1]}", "data.percentiles[0] must be a number from 0 to 100"},
    {"{\"records\":[],\"percentiles\":[\"50\"]}", "data.percentiles[0] must be a number from 0 to 100"},
    {"{\"records\":[],\"percentiles\":[50,90,50]}", "data.percentiles[2] repeats the percentile 50"},
    {"{\"records\":[],\"percentiles\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21]}",
     "data.percentiles has more than 20 entries"},
    {"{\"records\":[],\"groupBy\":true}", "data.groupBy must be a field name or an array of them, not boolean"},
    {"{\"records\":[],\"groupBy\":[\"a\",{}]}", "data.groupBy[1] must be a string, not object"},
};
/* clang-format on */

static void agg_error_run(const void *arg)
{
    const struct agg_error *c = arg;
    cJSON *result = NULL;
    struct dp_error err = {""};
    int rc = data_check_run(aggregate_run, c->data, &result, &err);
    CHECK_LONG(rc, DP_BAD_INPUT);
    CHECK_STR(err.message, c->message);
    CHECK(result == NULL);
    cJSON_Delete(result);
}

/* {"records":[{"a":{"a":...{"a":1}...}}]} with depth levels of nesting in the record. */
static char *nested_records(int depth)
{
    size_t len = (size_t)depth * 6 + 64;
    char *s = malloc(len), *p = s;
    p += sprintf(p, "{\"records\":[");
    for (int i = 0; i < depth; i++)
        p += sprintf(p, "{\"a\":");
    p += sprintf(p, "1");
    for (int i = 0; i < depth; i++)
        *p++ = '}';
    sprintf(p, "]}");
    return s;
}

static void agg_depth_bound(const void *arg)
{
    cJSON *result = NULL;
    struct dp_error err = {""};
    char *ok = nested_records(RECORDSET_MAX_DEPTH), *deep = nested_records(RECORDSET_MAX_DEPTH + 1);
    CHECK_LONG(data_check_run(aggregate_run, ok, &result, &err), 0);
    cJSON_Delete(result);
    result = NULL;
    CHECK_LONG(data_check_run(aggregate_run, deep, &result, &err), DP_BAD_INPUT);
    CHECK_STR(err.message, "data.records[0] nests deeper than 32 levels");
    free(ok);
    free(deep);
}

static void agg_count_bound(const void *arg)
{
    cJSON *data = cJSON_CreateObject(), *recs = cJSON_AddArrayToObject(data, "records"),
          *result = NULL;
    for (int i = 0; i < RECORDSET_MAX_RECORDS + 1; i++)
        cJSON_AddItemToArray(recs, cJSON_CreateObject());
    struct dp_error err = {""};
    CHECK_LONG(aggregate_run(data, "data", &result, &err), DP_BAD_INPUT);
    CHECK_STR(err.message, "data.records has 100001 records; at most 100000 are allowed");
    cJSON_DeleteItemFromArray(recs, 0);
    CHECK_LONG(aggregate_run(data, "data", &result, &err), 0);
    CHECK_LONG(cJSON_GetObjectItemCaseSensitive(result, "count")->valuedouble,
               RECORDSET_MAX_RECORDS);
    cJSON_Delete(result);
    cJSON_Delete(data);
}

/* ---- where the data is --------------------------------------------------------------- */

struct locate_case {
    const char *payload;
    int rc;
    const char *root_or_error;
};

/* clang-format off */
static const struct locate_case locate_cases[] = {
    {"{\"type\":\"ai_task\",\"taskType\":\"process_data\",\"data\":{\"records\":[]}}", 0, "data"},
    {"{\"taskType\":\"process_data\",\"records\":[]}", 0, "payload"},
    {"{\"taskType\":\"process_data\",\"data\":null,\"records\":[]}", 0, "payload"},
    {"{\"taskType\":\"process_data\",\"data\":[1]}", DP_BAD_INPUT, "data must be an object, not array"},
    {"{\"data\":\"x\"}", DP_BAD_INPUT, "data must be an object, not string"},
    {"[]", DP_BAD_INPUT, "payload must be an object"},
};
/* clang-format on */

static void locate_run(const void *arg)
{
    const struct locate_case *c = arg;
    cJSON *payload = cJSON_Parse(c->payload);
    const cJSON *data = NULL;
    const char *root = NULL;
    struct dp_error err = {""};
    REQUIRE(payload != NULL);
    int rc = recordset_data(payload, &data, &root, &err);
    CHECK_LONG(rc, c->rc);
    CHECK_STR(rc == 0 ? root : err.message, c->root_or_error);
    if (rc == 0)
        CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(data, "records")));
    cJSON_Delete(payload);
}

static void agg_top_level_form(const void *arg)
{
    cJSON *payload =
        cJSON_Parse("{\"taskType\":\"process_data\",\"records\":[{\"v\":1},{\"v\":\"x\"}],"
                    "\"fields\":[\"v\",\"\"]}");
    const cJSON *data;
    const char *root;
    cJSON *result = NULL;
    struct dp_error err = {""};
    REQUIRE(recordset_data(payload, &data, &root, &err) == 0);
    CHECK_LONG(aggregate_run(data, root, &result, &err), DP_BAD_INPUT);
    CHECK_STR(err.message, "payload.fields[1] must not be empty");
    cJSON_Delete(payload);
}

/* ---- numstats and jvalue ------------------------------------------------------------- */

struct pct_case {
    double values[8];
    size_t n;
    double p, want;
};

/* clang-format off */
static const struct pct_case pct_cases[] = {
    {{15, 20, 35, 40, 50}, 5, 40, 29},   /* h = 1.6: 20 + 0.6*15 */
    {{15, 20, 35, 40, 50}, 5, 0, 15},    {{15, 20, 35, 40, 50}, 5, 100, 50},
    {{15, 20, 35, 40, 50}, 5, 50, 35},   {{1, 2}, 2, 50, 1.5},
    {{1, 2}, 2, 75, 1.75},               {{3}, 1, 99, 3},
    {{1, 2, 3, 4}, 4, 95, 3.85},         /* h = 2.85 */
};
/* clang-format on */

static void pct_run(const void *arg)
{
    const struct pct_case *c = arg;
    double got = numstats_percentile(c->values, c->n, c->p);
    char detail[80];
    snprintf(detail, sizeof(detail), "got %.17g, want %.17g", got, c->want);
    test_check(got > c->want - 1e-12 && got < c->want + 1e-12, __FILE__, __LINE__, "percentile",
               detail);
}

struct order_case {
    const char *a, *b; /* JSON texts; NULL: missing */
    int want;
};

/* clang-format off */
static const struct order_case order_cases[] = {
    {NULL, "null", -1},          {"null", "false", -1},        {"false", "true", -1},
    {"true", "-5", -1},          {"2", "10", -1},              {"1", "1.0", 0},
    {"10", "\"1\"", -1},         {"\"a\"", "\"b\"", -1},       {"\"b\"", "\"ab\"", 1},
    {"\"z\"", "[]", -1},         {"[1]", "[1,0]", -1},         {"[2]", "[1,9]", 1},
    {"[]", "{}", -1},            {"{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", 0},
    {"{\"a\":1}", "{\"a\":1,\"b\":0}", -1}, {"{\"a\":2}", "{\"b\":1}", -1},
    {NULL, NULL, 0},
};
/* clang-format on */

static void order_run(const void *arg)
{
    const struct order_case *c = arg;
    cJSON *a = c->a ? cJSON_Parse(c->a) : NULL, *b = c->b ? cJSON_Parse(c->b) : NULL;
    CHECK_LONG(jvalue_compare(a, b), c->want);
    CHECK_LONG(jvalue_compare(b, a), -c->want);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

struct render_case {
    const char *json, *want;
};

/* clang-format off */
static const struct render_case render_cases[] = {
    {"{\"b\":[1,2.5,\"x\"],\"a\":{\"d\":null,\"c\":true}}", "{\"a\":{\"c\":true,\"d\":null},\"b\":[1,2.5,\"x\"]}"},
    {"\"tab\\t\\\"q\\\"\"", "\"tab\\t\\\"q\\\"\""},
    {"0.1", "0.1"},
    {"1e300", "1e+300"},
    {"-3", "-3"},
};
/* clang-format on */

static void render_run(const void *arg)
{
    const struct render_case *c = arg;
    cJSON *v = cJSON_Parse(c->json);
    char *text = jvalue_render(v);
    CHECK_STR(text, c->want);
    free(text);
    cJSON_Delete(v);
}

void register_data_aggregate_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(agg_cases); i++)
        test_addf(agg_case_run, &agg_cases[i], "data aggregate %s", agg_cases[i].label);
    test_add("data aggregate summary text", agg_summary_text, NULL);
    for (size_t i = 0; i < COUNT_OF(agg_errors); i++)
        test_addf(agg_error_run, &agg_errors[i], "data aggregate error %s", agg_errors[i].message);
    test_add("data aggregate depth bound", agg_depth_bound, NULL);
    test_add("data aggregate record count bound", agg_count_bound, NULL);
    for (size_t i = 0; i < COUNT_OF(locate_cases); i++)
        test_addf(locate_run, &locate_cases[i], "data locate %s", locate_cases[i].payload);
    test_add("data aggregate top-level payload form", agg_top_level_form, NULL);
    for (size_t i = 0; i < COUNT_OF(pct_cases); i++)
        test_addf(pct_run, &pct_cases[i], "data percentile #%zu p%g", i, pct_cases[i].p);
    for (size_t i = 0; i < COUNT_OF(order_cases); i++)
        test_addf(order_run, &order_cases[i], "data value order %s vs %s",
                  order_cases[i].a ? order_cases[i].a : "missing",
                  order_cases[i].b ? order_cases[i].b : "missing");
    for (size_t i = 0; i < COUNT_OF(render_cases); i++)
        test_addf(render_run, &render_cases[i], "data value render %s", render_cases[i].json);
}
