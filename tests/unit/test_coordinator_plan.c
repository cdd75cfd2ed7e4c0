/* Unit tests for workflow validation (worker/agents/coordinator/plan.c): one row per
 * workflow, the field the error must name (NULL: valid) and a piece of its message. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_print.h"
#include "tests/unit/harness.h"
#include "worker/agents/coordinator/plan.h"
#include "worker/agents/coordinator/wfbuild.h"

struct plan_row {
    const char *name;
    const char *data;
    const char *field;   /* NULL: valid */
    const char *message; /* substring of the message (or NULL) */
};

#define S(n, t) "{\"name\":\"" n "\",\"taskType\":\"" t "\"}"

static const struct plan_row rows[] = {
    {"valid three steps",
     "{\"input\":{\"r\":[1]},\"steps\":[{\"name\":\"t\",\"taskType\":\"transform_data\",\"input\":{\"records\":"
     "\"$.input.r\"}},{\"name\":\"p\",\"taskType\":\"process_data\",\"capability\":\"data_processing\",\"input\":"
     "{\"records\":\"$.steps.t.result.records\"}},{\"name\":\"ping-3\",\"taskType\":\"ping\",\"agent\":"
     "\"code_analyzer\",\"timeout\":5}]}",
     NULL, NULL},
    {"data not an object", "[1]", "data", "data must be an object"},
    {"steps missing", "{}", "data.steps", "must be an array"},
    {"no steps", "{\"steps\":[]}", "data.steps", "1 to 50 steps (it has 0)"},
    {"step not an object", "{\"steps\":[" S("a", "ping") ",7]}", "data.steps[1]",
     "must be an object"},
    {"name missing", "{\"steps\":[{\"taskType\":\"ping\"}]}", "data.steps[0].name",
     "data.steps[0].name is required"},
    {"taskType wrong type", "{\"steps\":[{\"name\":\"a\",\"taskType\":3}]}",
     "data.steps[0].taskType", "data.steps[0].taskType must be a string"},
    {"bad name", "{\"steps\":[" S("a.b", "ping") "]}", "data.steps[0].name", "[A-Za-z0-9_-]"},
    {"duplicate name", "{\"steps\":[" S("a", "ping") "," S("b", "ping") "," S("a", "ping") "]}",
     "data.steps[2].name", "'a' is already the name of data.steps[0]"},
    {"agent and capability",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"agent\":\"x\",\"capability\":\"y\"}]}",
     "data.steps[0].capability", "cannot be given together with agent"},
    {"bad agent name", "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"agent\":\"x y\"}]}",
     "data.steps[0].agent", "[A-Za-z0-9_.-]"},
    {"data not an object", "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"data\":[]}]}",
     "data.steps[0].data", NULL},
    {"timeout out of range", "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"timeout\":0}]}",
     "data.steps[0].timeout", "from 1 to 3600"},
    {"unsupported key",
     "{\"steps\":[" S("a", "ping") ",{\"name\":\"b\",\"taskType\":\"ping\",\"depends\":[\"a\"]}]}",
     "data.steps[1].depends", "is not supported"},
    {"dependsOn, retries, timeoutSeconds and condition",
     "{\"input\":{\"n\":1},\"steps\":[" S("a", "ping") "," S(
         "b",
         "ping") ",{\"name\":\"c\","
                 "\"taskType\":\"ping\",\"dependsOn\":[\"a\",\"b\"],\"retries\":2,\"timeoutSeconds\":30,"
                 "\"condition\":{\"field\":\"$.steps.a.result.n\",\"operator\":\"gt\",\"value\":0}}]}",
     NULL, NULL},
    {"dependsOn a later step",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"dependsOn\":[\"b\"]}," S("b",
                                                                                   "ping") "]}",
     "data.steps[0].dependsOn[0]", "refers to step 'b', which does not run before this one"},
    {"dependsOn an unknown step",
     "{\"steps\":[" S(
         "a", "ping") ",{\"name\":\"b\",\"taskType\":\"ping\",\"dependsOn\":[\"a\",\"z\"]}]}",
     "data.steps[1].dependsOn[1]", "unknown step 'z'"},
    {"dependsOn twice",
     "{\"steps\":[" S(
         "a", "ping") ",{\"name\":\"b\",\"taskType\":\"ping\",\"dependsOn\":[\"a\",\"a\"]}]}",
     "data.steps[1].dependsOn[1]", "names step 'a' twice"},
    {"dependsOn not strings",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"dependsOn\":[1]}]}",
     "data.steps[0].dependsOn", NULL},
    {"retries out of range", "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"retries\":100}]}",
     "data.steps[0].retries", "from 0 to 99"},
    {"timeoutSeconds out of range",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"timeoutSeconds\":0}]}",
     "data.steps[0].timeoutSeconds", NULL},
    {"condition with an unknown operator",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"condition\":{\"field\":\"$.input.x\","
     "\"operator\":\"like\",\"value\":1}}]}",
     "data.steps[0].condition.operator", "must be one of eq"},
    {"condition on a later step",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"condition\":{\"field\":\"$.steps.b.result\","
     "\"operator\":\"exists\"}}," S("b", "ping") "]}",
     "data.steps[0].condition.field", "which does not run before this one"},
    {"condition without field",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"condition\":{\"operator\":\"exists\"}}]}",
     "data.steps[0].condition.field", "is required"},
    {"condition with an unknown key",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"condition\":{\"field\":\"$.input\","
     "\"operator\":\"exists\",\"op\":1}}]}",
     "data.steps[0].condition.op", "is not supported"},
    {"input not an object", "{\"input\":[1],\"steps\":[" S("a", "ping") "]}", "data.input", NULL},
    {"stepTimeout wrong", "{\"stepTimeout\":\"5\",\"steps\":[" S("a", "ping") "]}",
     "data.stepTimeout", NULL},
    {"stopOnFailure wrong", "{\"stopOnFailure\":1,\"steps\":[" S("a", "ping") "]}",
     "data.stopOnFailure", "true or false"},
    {"reference not a string",
     "{\"steps\":[" S("a", "ping") ",{\"name\":\"b\",\"taskType\":\"ping\",\"input\":{\"x\":1}}]}",
     "data.steps[1].input.x", "must be a reference string"},
    {"reference to a later step",
     "{\"steps\":[" S("a", "ping") "," S(
         "b", "ping") ",{\"name\":\"c\",\"taskType\":\"ping\",\"input\":{\"code\":"
                      "\"$.steps.d.result.code\"}}," S("d", "ping") "]}",
     "data.steps[2].input.code", "refers to step 'd', which does not run before this one"},
    {"reference to itself",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"input\":{\"x\":\"$.steps.a.result\"}}]}",
     "data.steps[0].input.x", "which does not run before this one"},
    {"reference to an unknown step",
     "{\"steps\":[" S(
         "a",
         "ping") ",{\"name\":\"b\",\"taskType\":\"ping\",\"input\":{\"x\":\"$.steps.zz.result\"}}]}",
     "data.steps[1].input.x", "unknown step 'zz'"},
    {"reference not to a result",
     "{\"steps\":[" S(
         "a",
         "ping") ",{\"name\":\"b\",\"taskType\":\"ping\",\"input\":{\"x\":\"$.steps.a.status\"}}]}",
     "data.steps[1].input.x", "must read a step's result"},
    {"reference with a bad root",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"input\":{\"x\":\"$.env.HOME\"}}]}",
     "data.steps[0].input.x", "must start with $.input or $.steps.<name>.result"},
    {"malformed reference",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"input\":{\"x\":\"$.input..y\"}}]}",
     "data.steps[0].input.x", "malformed at byte 7"},
    {"reference without $",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"input\":{\"x\":\"input.y\"}}]}",
     "data.steps[0].input.x", "must start with \"$\""},
    {"whole input and whole result",
     "{\"steps\":[{\"name\":\"a\",\"taskType\":\"ping\",\"input\":{\"x\":\"$.input\"}},{\"name\":\"b\",\"taskType\":"
     "\"ping\",\"input\":{\"y\":\"$.steps.a.result\"}}]}",
     NULL, NULL},
};

static void check_row(const void *arg)
{
    const struct plan_row *row = arg;
    cJSON *data = cJSON_Parse(row->data);
    REQUIRE(data != NULL);
    struct plan p;
    struct plan_error err = {{0}, {0}};
    int rc = plan_read(data, &p, &err);
    CHECK_LONG(rc, row->field ? -1 : 0);
    if (row->field) {
        CHECK_STR(err.field, row->field);
        CHECK(strncmp(err.message, row->field, strlen(row->field)) == 0);
        if (row->message)
            CHECK_CONTAINS(err.message, row->message);
    }
    cJSON_Delete(data);
}

/* 51 steps are one too many; 50 are fine, and the defaults apply. */
static void check_limits(const void *arg)
{
    (void)arg;
    for (int n = PLAN_MAX_STEPS; n <= PLAN_MAX_STEPS + 1; n++) {
        cJSON *data = cJSON_CreateObject();
        cJSON *steps = cJSON_AddArrayToObject(data, "steps");
        for (int i = 0; i < n; i++) {
            char name[16];
            snprintf(name, sizeof(name), "s%d", i);
            cJSON *s = cJSON_CreateObject();
            cJSON_AddStringToObject(s, "name", name);
            cJSON_AddStringToObject(s, "taskType", "ping");
            cJSON_AddItemToArray(steps, s);
        }
        struct plan p;
        struct plan_error err;
        int rc = plan_read(data, &p, &err);
        if (n == PLAN_MAX_STEPS) {
            CHECK_LONG(rc, 0);
            CHECK_LONG(p.nsteps, PLAN_MAX_STEPS);
            CHECK(p.stop_on_failure);
            CHECK_LONG(p.steps[49].timeout_s, PLAN_DEFAULT_TIMEOUT_S);
            CHECK_STR(p.steps[49].name, "s49");
        } else {
            CHECK_LONG(rc, -1);
            CHECK_STR(err.field, "data.steps");
            CHECK_CONTAINS(err.message, "(it has 51)");
        }
        cJSON_Delete(data);
    }
}

static void check_settings(const void *arg)
{
    (void)arg;
    cJSON *data =
        cJSON_Parse("{\"stopOnFailure\":false,\"stepTimeout\":7,\"input\":{\"a\":1},\"steps\":["
                    "{\"name\":\"a\",\"taskType\":\"ping\"},{\"name\":\"b\",\"taskType\":\"ping\","
                    "\"timeout\":9,\"agent\":\"code_analyzer\",\"data\":{\"sleepMs\":1}}]}");
    REQUIRE(data != NULL);
    struct plan p;
    struct plan_error err;
    REQUIRE(plan_read(data, &p, &err) == 0);
    CHECK(!p.stop_on_failure);
    CHECK_LONG(p.steps[0].timeout_s, 7);
    CHECK_LONG(p.steps[1].timeout_s, 9);
    CHECK_STR(p.steps[1].target.agent, "code_analyzer");
    CHECK_STR(p.steps[0].target.agent, NULL);
    CHECK_STR(p.steps[1].target.task_type, "ping");
    CHECK(p.steps[1].data != NULL && p.steps[0].data == NULL);
    CHECK(cJSON_IsObject(p.input));
    cJSON_Delete(data);
}

/* A plan as a workflow definition: references become {"$ref"} engine paths, a step without
 * dependsOn follows the one before it, referenced steps become parents, the condition becomes
 * `when`, and stopOnFailure false is continueOnFailure on every step. */
static void check_definition(const void *arg)
{
    (void)arg;
    cJSON *data = cJSON_Parse(
        "{\"stopOnFailure\":false,\"input\":{\"r\":[1]},\"steps\":["
        "{\"name\":\"a\",\"taskType\":\"t\",\"data\":{\"k\":1,\"r\":0},\"input\":{\"r\":\"$.input.r\"}},"
        "{\"name\":\"b\",\"taskType\":\"t\",\"dependsOn\":[],\"retries\":3,\"timeoutSeconds\":9},"
        "{\"name\":\"c\",\"taskType\":\"t\",\"dependsOn\":[\"b\"],\"input\":{\"x\":"
        "\"$.steps.a.result.records[0].id\"},\"condition\":{\"field\":\"$.steps.b.result.ok\","
        "\"operator\":\"eq\",\"value\":true}},"
        "{\"name\":\"d\",\"taskType\":\"u\"}]}");
    REQUIRE(data != NULL);
    struct plan p;
    struct plan_error err;
    REQUIRE(plan_read(data, &p, &err) == 0);
    const char *agents[] = {"x", "y", "x", "z"};
    cJSON *def = wfbuild_definition(&p, agents);
    REQUIRE(def != NULL);
    char *text = json_print(def);
    CHECK_STR(
        text,
        "{\"steps\":["
        "{\"key\":\"a\",\"agent\":\"x\",\"task\":\"t\",\"input\":{\"k\":1,\"r\":{\"$ref\":\"input.r\"}},"
        "\"dependsOn\":[],\"continueOnFailure\":true},"
        "{\"key\":\"b\",\"agent\":\"y\",\"task\":\"t\",\"input\":{},\"dependsOn\":[],\"retries\":3,"
        "\"timeoutSeconds\":9,\"continueOnFailure\":true},"
        "{\"key\":\"c\",\"agent\":\"x\",\"task\":\"t\",\"input\":{\"x\":{\"$ref\":"
        "\"steps.a.output.records.0.id\"}},\"dependsOn\":[\"a\",\"b\"],\"when\":{\"field\":"
        "\"steps.b.output.ok\",\"operator\":\"eq\",\"value\":true},\"continueOnFailure\":true},"
        "{\"key\":\"d\",\"agent\":\"z\",\"task\":\"u\",\"input\":{},\"dependsOn\":[\"c\"],"
        "\"continueOnFailure\":true}]}");
    free(text);
    cJSON_Delete(def);
    cJSON_Delete(data);

    char out[64];
    CHECK_LONG(wfbuild_path("$.input", out, sizeof(out)), 0);
    CHECK_STR(out, "input");
    CHECK_LONG(wfbuild_path("$.steps.result.result[2]", out, sizeof(out)), 0);
    CHECK_STR(out, "steps.result.output.2");
    CHECK_LONG(wfbuild_path("$.input.result", out, sizeof(out)), 0);
    CHECK_STR(out, "input.result");
    CHECK_LONG(wfbuild_path("$.input.abcdefghij", out, 12), -1);
    CHECK_LONG(wfbuild_path("$", out, sizeof(out)), -1);
    CHECK_LONG(wfbuild_path("$..x", out, sizeof(out)), -1);
}

void register_coordinator_plan_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(rows); i++)
        test_addf(check_row, &rows[i], "coordinator plan: %s", rows[i].name);
    test_add("coordinator plan: step limits and defaults", check_limits, NULL);
    test_add("coordinator plan: settings", check_settings, NULL);
    test_add("coordinator plan: as a workflow definition", check_definition, NULL);
}
