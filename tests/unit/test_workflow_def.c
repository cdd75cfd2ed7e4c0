/* Unit tests for workflow definition checks (gateway/workflows/wfdef.c): one row per
 * definition, written with ' for " to stay readable, and the field the refusal must name
 * (NULL: accepted) with a piece of its message. Generated rows cover the limits (500 steps,
 * a long chain, a wide fan-in). */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "gateway/workflows/wfdef.h"
#include "tests/unit/harness.h"

struct def_row {
    const char *name;
    const char *def; /* JSON with ' for " */
    const char *field;
    const char *message; /* a piece of the message */
};

/* clang-format off */
#define A(k) "{'key':'" k "','agent':'data_processor','task':'validate_data'"
static const struct def_row rows[] = {
    {"one step", "{'steps':[" A("a") "}]}", NULL, NULL},
    {"chain and fan-in with refs",
     "{'description':'d','steps':[" A("a") ",'input':{'x':{'$ref':'input.x'}}},"
     A("b") ",'dependsOn':['a'],'input':{'s':{'$ref':'steps.a.output.score'}}},"
     A("c") ",'dependsOn':['a']},"
     A("d") ",'dependsOn':['b','c'],'input':[{'$ref':'steps.a.output'},{'$ref':'steps.c.output.items.0'}],"
     "'when':{'field':'steps.b.output.ok','operator':'eq','value':true},'retries':2,"
     "'timeoutSeconds':30,'continueOnFailure':true,'kind':'agent'}]}", NULL, NULL},
    {"when exists without value", "{'steps':[" A("a") ",'when':{'field':'input.x','operator':'exists'}}]}", NULL, NULL},
    {"when in", "{'steps':[" A("a") ",'when':{'field':'input.x','operator':'in','value':[1,2]}}]}", NULL, NULL},
    {"a $ref-like object with more fields is refused",
     "{'steps':[" A("a") ",'input':{'$ref':'input.x','y':1}}]}", "definition.steps[0].input", "one field"},

    {"not an object", "[]", "definition", "must be an object"},
    {"no steps", "{}", "definition.steps", "non-empty"},
    {"empty steps", "{'steps':[]}", "definition.steps", "non-empty"},
    {"unknown top field", "{'steps':[" A("a") "}],'nme':1}", "definition.nme", "unknown field"},
    {"step not an object", "{'steps':[1]}", "definition.steps[0]", "must be an object"},
    {"missing key", "{'steps':[{'agent':'x','task':'y'}]}", "definition.steps[0].key", "required"},
    {"bad key", "{'steps':[{'key':'a.b','agent':'x','task':'y'}]}", "definition.steps[0].key", "letters"},
    {"duplicate key", "{'steps':[" A("a") "}," A("b") "}," A("a") "}]}", "definition.steps[2].key", "also the key of steps[0]"},
    {"unknown step field", "{'steps':[" A("a") ",'retry':1}]}", "definition.steps[0].retry", "(step 'a')"},
    {"missing agent", "{'steps':[{'key':'a','task':'y'}]}", "definition.steps[0].agent", "required"},
    {"bad agent", "{'steps':[{'key':'a','agent':'a b','task':'y'}]}", "definition.steps[0].agent", "agent"},
    {"missing task", "{'steps':[{'key':'a','agent':'x'}]}", "definition.steps[0].task", "required"},
    {"unknown kind", "{'steps':[" A("a") ",'kind':'lambda'}]}", "definition.steps[0].kind", "unknown kind"},
    {"unknown kind names the kinds", "{'steps':[" A("a") ",'kind':'timer'}]}", "definition.steps[0].kind", "agent, sleep, wait or workflow"},

    /* sleep, wait and workflow steps: their own fields, no agent or task */
    {"sleep", "{'timeoutSeconds':60,'steps':[{'key':'s','kind':'sleep','seconds':5,'description':'d'}," A("a") ",'dependsOn':['s'],'input':{'$ref':'steps.s.output.sleptUntil'}}]}", NULL, NULL},
    {"sleep needs seconds", "{'steps':[{'key':'s','kind':'sleep'}]}", "definition.steps[0].seconds", "required (step 's')"},
    {"sleep seconds zero", "{'steps':[{'key':'s','kind':'sleep','seconds':0}]}", "definition.steps[0].seconds", "integer from 1"},
    {"sleep seconds past a year", "{'steps':[{'key':'s','kind':'sleep','seconds':31536001}]}", "definition.steps[0].seconds", "31536000"},
    {"sleep seconds not a number", "{'steps':[{'key':'s','kind':'sleep','seconds':'5'}]}", "definition.steps[0].seconds", NULL},
    {"sleep has no agent", "{'steps':[{'key':'s','kind':'sleep','seconds':1,'agent':'x'}]}", "definition.steps[0].agent", "unknown field of a sleep step (step 's')"},
    {"sleep has no input", "{'steps':[{'key':'s','kind':'sleep','seconds':1,'input':{}}]}", "definition.steps[0].input", "sleep step"},
    {"sleep has no retries", "{'steps':[{'key':'s','kind':'sleep','seconds':1,'retries':1}]}", "definition.steps[0].retries", "sleep step"},
    {"wait", "{'steps':[{'key':'w','kind':'wait','signal':'approval','timeoutSeconds':3600,'continueOnFailure':true}," A("a") ",'dependsOn':['w'],'input':{'$ref':'steps.w.output.ok'}}]}", NULL, NULL},
    {"wait without timeout", "{'steps':[{'key':'w','kind':'wait','signal':'go'}]}", NULL, NULL},
    {"wait needs signal", "{'steps':[{'key':'w','kind':'wait','timeoutSeconds':5}]}", "definition.steps[0].signal", "required (step 'w')"},
    {"wait bad signal", "{'steps':[{'key':'w','kind':'wait','signal':'a b'}]}", "definition.steps[0].signal", "letters"},
    {"wait signal too long", "{'steps':[{'key':'w','kind':'wait','signal':'" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "'}]}", "definition.steps[0].signal", "1 to 100"},
    {"wait timeout zero", "{'steps':[{'key':'w','kind':'wait','signal':'go','timeoutSeconds':0}]}", "definition.steps[0].timeoutSeconds", NULL},
    {"wait has no task", "{'steps':[{'key':'w','kind':'wait','signal':'go','task':'t'}]}", "definition.steps[0].task", "unknown field of a wait step"},
    {"workflow of a template", "{'steps':[{'key':'c','kind':'workflow','template':'review','version':2,'input':{'x':{'$ref':'input.x'}}}]}", NULL, NULL},
    {"workflow of a definition", "{'steps':[{'key':'c','kind':'workflow','definition':{'steps':[" A("a") "}]}}," A("b") ",'dependsOn':['c'],'input':{'$ref':'steps.c.output.a'}}]}", NULL, NULL},
    {"workflow needs template or definition", "{'steps':[{'key':'c','kind':'workflow'}]}", "definition.steps[0].template", "exactly one"},
    {"workflow not both", "{'steps':[{'key':'c','kind':'workflow','template':'t','definition':{'steps':[" A("a") "}]}}]}", "definition.steps[0].template", "exactly one"},
    {"workflow version without template", "{'steps':[{'key':'c','kind':'workflow','version':1,'definition':{'steps':[" A("a") "}]}}]}", "definition.steps[0].version", "goes with template"},
    {"workflow version zero", "{'steps':[{'key':'c','kind':'workflow','template':'t','version':0}]}", "definition.steps[0].version", NULL},
    {"workflow bad template", "{'steps':[{'key':'c','kind':'workflow','template':'a b'}]}", "definition.steps[0].template", "template's name"},
    {"workflow has no agent", "{'steps':[{'key':'c','kind':'workflow','template':'t','agent':'x'}]}", "definition.steps[0].agent", "unknown field of a workflow step"},
    {"workflow input refs are checked", "{'steps':[{'key':'c','kind':'workflow','template':'t','input':{'$ref':'steps.zz.output'}}]}", "definition.steps[0].input", "names no step"},
    {"an inline definition is checked, its field named within the step",
     "{'steps':[" A("a") "},{'key':'c','kind':'workflow','definition':{'steps':[{'key':'x','agent':'a'}]}}]}",
     "definition.steps[1].definition.steps[0].task", "required"},
    {"an inline definition's timeout is checked", "{'steps':[{'key':'c','kind':'workflow','definition':{'timeoutSeconds':0,'steps':[" A("a") "}]}}]}",
     "definition.steps[0].definition.timeoutSeconds", NULL},
    {"eight inline definitions deep",
     "{'steps':[{'key':'c','kind':'workflow','definition':{'steps':[{'key':'c','kind':'workflow','definition':{'steps':["
     "{'key':'c','kind':'workflow','definition':{'steps':[{'key':'c','kind':'workflow','definition':{'steps':["
     "{'key':'c','kind':'workflow','definition':{'steps':[{'key':'c','kind':'workflow','definition':{'steps':["
     "{'key':'c','kind':'workflow','definition':{'steps':[{'key':'c','kind':'workflow','definition':{'steps':["
     A("a") "}]}}]}}]}}]}}]}}]}}]}}]}}]}}]}", NULL, NULL},
    {"nine inline definitions deep",
     "{'steps':[{'key':'c','kind':'workflow','definition':{'steps':[{'key':'c','kind':'workflow','definition':{'steps':["
     "{'key':'c','kind':'workflow','definition':{'steps':[{'key':'c','kind':'workflow','definition':{'steps':["
     "{'key':'c','kind':'workflow','definition':{'steps':[{'key':'c','kind':'workflow','definition':{'steps':["
     "{'key':'c','kind':'workflow','definition':{'steps':[{'key':'c','kind':'workflow','definition':{'steps':["
     "{'key':'c','kind':'workflow','definition':{'steps':[" A("a") "}]}}]}}]}}]}}]}}]}}]}}]}}]}}]}}]}",
     "definition.steps[0].definition", "more than 8 deep (step 'c')"},
    {"run timeout", "{'timeoutSeconds':31536000,'steps':[" A("a") "}]}", NULL, NULL},
    {"run timeout zero", "{'timeoutSeconds':0,'steps':[" A("a") "}]}", "definition.timeoutSeconds", NULL},
    {"run timeout not a number", "{'timeoutSeconds':'1h','steps':[" A("a") "}]}", "definition.timeoutSeconds", NULL},
    {"retries negative", "{'steps':[" A("a") ",'retries':-1}]}", "definition.steps[0].retries", NULL},
    {"retries too many", "{'steps':[" A("a") ",'retries':100}]}", "definition.steps[0].retries", NULL},
    {"timeout zero", "{'steps':[" A("a") ",'timeoutSeconds':0}]}", "definition.steps[0].timeoutSeconds", NULL},
    {"continueOnFailure not bool", "{'steps':[" A("a") ",'continueOnFailure':'yes'}]}", "definition.steps[0].continueOnFailure", NULL},
    {"dependsOn not array", "{'steps':[" A("a") ",'dependsOn':'b'}]}", "definition.steps[0].dependsOn", "array"},
    {"unknown dependency", "{'steps':[" A("a") "}," A("b") ",'dependsOn':['zz']}]}", "definition.steps[1].dependsOn", "names no step: 'zz'"},
    {"self dependency", "{'steps':[" A("a") ",'dependsOn':['a']}]}", "definition.steps[0].dependsOn", "itself"},
    {"dependency twice", "{'steps':[" A("a") "}," A("b") ",'dependsOn':['a','a']}]}", "definition.steps[1].dependsOn", "twice"},
    {"cycle of two", "{'steps':[" A("a") ",'dependsOn':['b']}," A("b") ",'dependsOn':['a']}]}", "definition.steps[0].dependsOn", "cycle"},
    {"cycle of three behind a root",
     "{'steps':[" A("r") "}," A("a") ",'dependsOn':['r','c']}," A("b") ",'dependsOn':['a']}," A("c") ",'dependsOn':['b']}]}",
     "definition.steps[1].dependsOn", "cycle: a -> c -> b -> a"},
    {"ref to unknown step", "{'steps':[" A("a") ",'input':{'$ref':'steps.zz.output'}}]}", "definition.steps[0].input", "names no step"},
    {"ref to non-ancestor", "{'steps':[" A("a") "}," A("b") ",'input':{'v':{'$ref':'steps.a.output'}}}]}", "definition.steps[1].input", "does not depend on"},
    {"ref to a sibling", "{'steps':[" A("r") "}," A("a") ",'dependsOn':['r']}," A("b") ",'dependsOn':['r'],'input':{'$ref':'steps.a.output'}}]}", "definition.steps[2].input", "does not depend on"},
    {"ref to a grandparent is fine", "{'steps':[" A("r") "}," A("a") ",'dependsOn':['r']}," A("b") ",'dependsOn':['a'],'input':{'$ref':'steps.r.output.x'}}]}", NULL, NULL},
    {"ref to itself", "{'steps':[" A("a") ",'input':{'$ref':'steps.a.output'}}]}", "definition.steps[0].input", "does not depend on"},
    {"ref bad root", "{'steps':[" A("a") ",'input':{'$ref':'env.HOME'}}]}", "definition.steps[0].input", "must start with"},
    {"ref without output", "{'steps':[" A("r") "}," A("a") ",'dependsOn':['r'],'input':{'$ref':'steps.r.result'}}]}", "definition.steps[1].input", "must start with"},
    {"ref empty part", "{'steps':[" A("a") ",'input':{'$ref':'input..x'}}]}", "definition.steps[0].input", "empty part"},
    {"ref not a string", "{'steps':[" A("a") ",'input':{'$ref':5}}]}", "definition.steps[0].input", "string path"},
    {"ref too deep", "{'steps':[" A("a") ",'input':{'$ref':'input.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p'}}]}", "definition.steps[0].input", "too deep"},
    {"ref deep enough", "{'steps':[" A("a") ",'input':{'$ref':'input.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o'}}]}", NULL, NULL},
    {"when not an object", "{'steps':[" A("a") ",'when':'x'}]}", "definition.steps[0].when", "object"},
    /* Found by tests/fuzz/wfdef.c: an empty field name left the field empty (a 500). */
    {"step field with an empty name", "{'steps':[" A("a") ",'':1}]}", "definition.steps[0].\"\"", "unknown field"},
    {"top field with an empty name", "{'steps':[" A("a") "}],'':1}", "definition.\"\"", "unknown field"},
    {"when field with an empty name", "{'steps':[" A("a") ",'when':{'field':'input.x','operator':'exists','':1}}]}", "definition.steps[0].when.\"\"", "unknown field"},
    {"when unknown field", "{'steps':[" A("a") ",'when':{'field':'input.x','operator':'eq','value':1,'op':1}}]}", "definition.steps[0].when.op", "unknown field"},
    {"when missing field", "{'steps':[" A("a") ",'when':{'operator':'eq','value':1}}]}", "definition.steps[0].when.field", "required"},
    {"when unknown operator", "{'steps':[" A("a") ",'when':{'field':'input.x','operator':'like','value':1}}]}", "definition.steps[0].when.operator", "one of"},
    {"when missing value", "{'steps':[" A("a") ",'when':{'field':'input.x','operator':'eq'}}]}", "definition.steps[0].when.value", "required"},
    {"when in needs array", "{'steps':[" A("a") ",'when':{'field':'input.x','operator':'in','value':1}}]}", "definition.steps[0].when.value", "array"},
    {"when gt needs number or string", "{'steps':[" A("a") ",'when':{'field':'input.x','operator':'gt','value':[1]}}]}", "definition.steps[0].when.value", "number or a string"},
    {"when exists needs bool", "{'steps':[" A("a") ",'when':{'field':'input.x','operator':'exists','value':1}}]}", "definition.steps[0].when.value", "true or false"},
    {"when field to non-ancestor", "{'steps':[" A("a") "}," A("b") ",'when':{'field':'steps.a.output.x','operator':'exists'}}]}", "definition.steps[1].when.field", "does not depend on"},
};
#undef A
/* clang-format on */

static cJSON *parse_quoted(const char *text)
{
    char *copy = strdup(text);
    for (char *p = copy; *p; p++)
        if (*p == '\'')
            *p = '"';
    cJSON *v = cJSON_Parse(copy);
    free(copy);
    return v;
}

static void check_row(const void *arg)
{
    const struct def_row *row = arg;
    cJSON *def = parse_quoted(row->def);
    REQUIRE(def != NULL);
    struct field_error err = {{0}, {0}};
    int rc = wfdef_validate(def, &err);
    if (!row->field) {
        CHECK_LONG(rc, 0);
        CHECK_STR(err.message[0] ? err.message : NULL, NULL);
    } else {
        CHECK_LONG(rc, -1);
        CHECK_STR(err.field, row->field);
        /* every message starts with the field it names */
        CHECK(strncmp(err.message, row->field, strlen(row->field)) == 0);
        if (row->message)
            CHECK_CONTAINS(err.message, row->message);
    }
    cJSON_Delete(def);
}

static void add(struct strbuf *b, const char *s) { CHECK(strbuf_add(b, s, strlen(s)) == 0); }

static void addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct strbuf *b, const char *fmt, ...)
{
    char piece[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(piece, sizeof(piece), fmt, ap);
    va_end(ap);
    add(b, piece);
}

/* n steps; shape 0: independent, 1: a chain (each depends on the one before and reads its
 * output), 2: every step depends on all before it. */
static cJSON *generated(int n, int shape)
{
    struct strbuf b = {0};
    add(&b, "{\"steps\":[");
    for (int i = 0; i < n; i++) {
        addf(&b, "%s{\"key\":\"s%d\",\"agent\":\"x\",\"task\":\"y\"", i ? "," : "", i);
        if (shape == 1 && i > 0)
            addf(&b, ",\"dependsOn\":[\"s%d\"],\"input\":{\"$ref\":\"steps.s0.output\"}", i - 1);
        if (shape == 2 && i > 0) {
            add(&b, ",\"dependsOn\":[");
            for (int j = 0; j < i; j++)
                addf(&b, "%s\"s%d\"", j ? "," : "", j);
            add(&b, "]");
        }
        add(&b, "}");
    }
    add(&b, "]}");
    cJSON *v = cJSON_Parse(b.p);
    free(b.p);
    return v;
}

static void check_limits(const void *arg)
{
    (void)arg;
    struct field_error err;
    cJSON *d = generated(WFDEF_STEPS_MAX, 0);
    REQUIRE(d != NULL);
    CHECK_LONG(wfdef_validate(d, &err), 0);
    cJSON_Delete(d);
    d = generated(WFDEF_STEPS_MAX + 1, 0);
    REQUIRE(d != NULL);
    CHECK_LONG(wfdef_validate(d, &err), -1);
    CHECK_STR(err.field, "definition.steps");
    CHECK_CONTAINS(err.message, "at most 500");
    cJSON_Delete(d);
    d = generated(WFDEF_STEPS_MAX, 1); /* a chain: step 499's reference reaches step 0 */
    REQUIRE(d != NULL);
    CHECK_LONG(wfdef_validate(d, &err), 0);
    cJSON_Delete(d);
    d = generated(200, 2); /* a dense DAG: ~20,000 edges */
    REQUIRE(d != NULL);
    CHECK_LONG(wfdef_validate(d, &err), 0);
    cJSON_Delete(d);
}

static void check_input_depth(const void *arg)
{
    (void)arg;
    struct strbuf b = {0};
    add(&b, "{\"steps\":[{\"key\":\"a\",\"agent\":\"x\",\"task\":\"y\",\"input\":");
    for (int i = 0; i < WFDEF_INPUT_DEPTH_MAX + 1; i++)
        add(&b, "[");
    for (int i = 0; i < WFDEF_INPUT_DEPTH_MAX + 1; i++)
        add(&b, "]");
    add(&b, "}]}");
    cJSON *d = cJSON_Parse(b.p);
    free(b.p);
    REQUIRE(d != NULL);
    struct field_error err;
    CHECK_LONG(wfdef_validate(d, &err), -1);
    CHECK_STR(err.field, "definition.steps[0].input");
    CHECK_CONTAINS(err.message, "deeper than");
    cJSON_Delete(d);
}

void register_workflow_def_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(rows); i++)
        test_addf(check_row, &rows[i], "workflow def: %s", rows[i].name);
    test_add("workflow def: limits", check_limits, NULL);
    test_add("workflow def: input depth", check_input_depth, NULL);
}
