/* Unit tests for compound `when`s and seed 003's symbolic operators (gateway/workflows/
 * wfdef.c) and for routing rules compiled into the children's `when`s (gateway/workflows/
 * routing.c). Definitions are written with ' for " to stay readable. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_print.h"
#include "gateway/workflows/routing.h"
#include "gateway/workflows/visualize.h"
#include "gateway/workflows/wfdef.h"
#include "tests/unit/harness.h"

static cJSON *quoted(const char *text)
{
    char *copy = strdup(text);
    for (char *p = copy; copy && *p; p++)
        *p = *p == '\'' ? '"' : *p;
    cJSON *v = copy ? cJSON_Parse(copy) : NULL;
    free(copy);
    return v;
}

struct when_row {
    const char *name;
    const char *when;    /* step b's when; b depends on a */
    const char *field;   /* NULL: accepted */
    const char *message; /* a piece of the message */
};

/* clang-format off */
static const struct when_row when_rows[] = {
    {"all, any and not", "{'all':[{'field':'input.x','operator':'>','value':1},"
     "{'any':[{'not':{'field':'steps.a.output.ok','operator':'==','value':true}},"
     "{'field':'input.y','operator':'exists'}]}]}", NULL, NULL},
    {"every symbolic operator", "{'all':[{'field':'input.x','operator':'>','value':1},"
     "{'field':'input.x','operator':'>=','value':1},{'field':'input.x','operator':'<','value':'m'},"
     "{'field':'input.x','operator':'<=','value':1},{'field':'input.x','operator':'==','value':[1]},"
     "{'field':'input.x','operator':'!=','value':null}]}", NULL, NULL},
    {"a symbolic operator checks its value as its name does",
     "{'field':'input.x','operator':'>','value':[1]}", "definition.steps[1].when.value", "number or a string for >"},
    {"an unknown symbolic operator", "{'field':'input.x','operator':'=>','value':1}",
     "definition.steps[1].when.operator", "(or ==, !=, >, >=, <, <=)"},
    {"empty all", "{'all':[]}", "definition.steps[1].when.all", "1 to 100"},
    {"any not an array", "{'any':{'field':'input.x','operator':'exists'}}", "definition.steps[1].when.any", "array"},
    {"compound with another field", "{'not':{'field':'input.x','operator':'exists'},'field':'input.y'}",
     "definition.steps[1].when", "no other field"},
    {"not of a non-object", "{'not':true}", "definition.steps[1].when.not", "must be an object"},
    {"a nested leaf's error names its place", "{'all':[{'field':'input.x','operator':'exists'},"
     "{'any':[{'field':'input.x','operator':'in','value':1}]}]}", "definition.steps[1].when.all[1].any[0].value", "array for in"},
    {"a nested leaf's unknown field", "{'any':[{'field':'input.x','operator':'exists','valu':1}]}",
     "definition.steps[1].when.any[0].valu", "unknown field"},
    {"a nested reference to a non-ancestor", "{'not':{'field':'steps.b.output.x','operator':'exists'}}",
     "definition.steps[1].when.field", "does not depend on"},
};
/* clang-format on */

static void check_when_row(const void *arg)
{
    const struct when_row *row = arg;
    char text[2048];
    snprintf(text, sizeof(text),
             "{'steps':[{'key':'a','agent':'x','task':'y'},"
             "{'key':'b','agent':'x','task':'y','dependsOn':['a'],'when':%s}]}",
             row->when);
    cJSON *def = quoted(text);
    REQUIRE(def != NULL);
    struct field_error err = {{0}, {0}};
    int rc = wfdef_validate(def, &err);
    if (!row->field) {
        CHECK_LONG(rc, 0);
        CHECK_STR(err.message[0] ? err.message : NULL, NULL);
    } else {
        CHECK_LONG(rc, -1);
        CHECK_STR(err.field, row->field);
        CHECK(strncmp(err.message, row->field, strlen(row->field)) == 0);
        CHECK_CONTAINS(err.message, row->message);
    }
    cJSON_Delete(def);
}

/* A `when` nested one level deeper than allowed is refused; at the limit it is accepted. */
static void check_when_depth(const void *arg)
{
    (void)arg;
    for (int depth = WFDEF_WHEN_DEPTH_MAX; depth <= WFDEF_WHEN_DEPTH_MAX + 1; depth++) {
        char text[1024] = "{'steps':[{'key':'a','agent':'x','task':'y','when':";
        for (int k = 1; k < depth; k++)
            strcat(text, "{'not':");
        strcat(text, "{'field':'input.x','operator':'exists'}");
        for (int k = 1; k < depth; k++)
            strcat(text, "}");
        strcat(text, "}]}");
        cJSON *def = quoted(text);
        REQUIRE(def != NULL);
        struct field_error err;
        CHECK_LONG(wfdef_validate(def, &err), depth > WFDEF_WHEN_DEPTH_MAX ? -1 : 0);
        if (depth > WFDEF_WHEN_DEPTH_MAX)
            CHECK_CONTAINS(err.message, "nests deeper than 12 levels");
        cJSON_Delete(def);
    }
}

struct compile_row {
    const char *name;
    const char *def;
    int changed;       /* wf_routing_compile's answer (-1: refused) */
    const char *step;  /* the key of a step whose when is checked, or the refused field */
    const char *want;  /* that step's when after compiling, or a piece of the message */
    const char *step2; /* another, or NULL */
    const char *want2;
};

/* clang-format off */
#define LEAD "{'key':'lead','agent':'lead_qualification','task':'t'"
#define KID(k, agent) "{'key':'" k "','agent':'" agent "','task':'t','dependsOn':['lead']}"
#define COND(f, op, v, next) "{'field':'" f "','operator':'" op "','value':" v ",'next_agent':'" next "'}"
#define LEAF(f, op, v) "{'field':'steps.lead.output." f "','operator':'" op "','value':" v "}"
static const struct compile_row compile_rows[] = {
    {"seed 003's example: next_agent and default by agent",
     "{'steps':[" LEAD ",'routing':{'conditions':[" COND("metadata.lead_score", ">", "70", "web_development")
     ",{'default':'chat'}]}}," KID("web", "web_development") "," KID("chat_2", "chat") "]}",
     1, "web", LEAF("metadata.lead_score", ">", "70"),
     "chat_2", "{'not':" LEAF("metadata.lead_score", ">", "70") "}"},
    {"by key; first match wins; a child named twice; children not named keep running",
     "{'steps':[" LEAD ",'routing':{'conditions':[" COND("s", ">=", "90", "a") "," COND("s", ">=", "50", "b") ","
     COND("vip", "==", "true", "a") ",{'default':'c'}]}}," KID("a", "x") "," KID("b", "x") "," KID("c", "x") ","
     KID("d", "x") "]}",
     1, "a", "{'any':[" LEAF("s", ">=", "90") ",{'all':[{'not':{'any':[" LEAF("s", ">=", "90") ","
     LEAF("s", ">=", "50") "]}}," LEAF("vip", "==", "true") "]}]}",
     "b", "{'all':[{'not':" LEAF("s", ">=", "90") "}," LEAF("s", ">=", "50") "]}"},
    {"the default after every condition",
     "{'steps':[" LEAD ",'routing':{'conditions':[" COND("s", ">=", "90", "a") "," COND("s", ">=", "50", "b") ","
     "{'default':'c'}]}}," KID("a", "x") "," KID("b", "x") "," KID("c", "x") "]}",
     1, "c", "{'not':{'any':[" LEAF("s", ">=", "90") "," LEAF("s", ">=", "50") "]}}", "d", NULL},
    {"a child's own when is kept beside the clause",
     "{'steps':[" LEAD ",'routing':{'conditions':[" COND("s", "<", "5", "a") "]}},"
     "{'key':'a','agent':'x','task':'t','dependsOn':['lead'],'when':{'field':'input.go','operator':'exists'}}]}",
     1, "a", "{'all':[{'field':'input.go','operator':'exists'}," LEAF("s", "<", "5") "]}", NULL, NULL},
    {"only a default constrains nothing",
     "{'steps':[" LEAD ",'routing':{'conditions':[{'default':'a'}]}}," KID("a", "x") "]}", 0, "a", NULL, NULL, NULL},
    {"exists needs no value",
     "{'steps':[" LEAD ",'routing':{'conditions':[{'field':'m.x','operator':'exists','next_agent':'a'}]}}," KID("a", "x") "]}",
     1, "a", "{'field':'steps.lead.output.m.x','operator':'exists'}", NULL, NULL},

    {"next_agent names no child",
     "{'steps':[" LEAD ",'routing':{'conditions':[" COND("s", ">", "1", "web") "]}},"
     "{'key':'web','agent':'x','task':'t'}]}",
     -1, "definition.steps[0].routing.conditions[0].next_agent", "names no step that depends on 'lead'", NULL, NULL},
    {"next_agent's agent runs several children",
     "{'steps':[" LEAD ",'routing':{'conditions':[" COND("s", ">", "1", "x") "]}}," KID("a", "x") "," KID("b", "x") "]}",
     -1, "definition.steps[0].routing.conditions[0].next_agent", "several steps", NULL, NULL},
    {"a default that names no child",
     "{'steps':[" LEAD ",'routing':{'conditions':[{'default':'zz'}]}}," KID("a", "x") "]}",
     -1, "definition.steps[0].routing.conditions[0].default", "names no step", NULL, NULL},
    {"a default before a condition",
     "{'steps':[" LEAD ",'routing':{'conditions':[{'default':'a'}," COND("s", ">", "1", "a") "]}}," KID("a", "x") "]}",
     -1, "definition.steps[0].routing.conditions[0]", "last entry", NULL, NULL},
    {"a default with another field",
     "{'steps':[" LEAD ",'routing':{'conditions':[{'default':'a','x':1}]}}," KID("a", "x") "]}",
     -1, "definition.steps[0].routing.conditions[0]", "only {\"default\": agent}", NULL, NULL},
    {"an unknown operator",
     "{'steps':[" LEAD ",'routing':{'conditions':[" COND("s", "=>", "1", "a") "]}}," KID("a", "x") "]}",
     -1, "definition.steps[0].routing.conditions[0].operator", "one of", NULL, NULL},
    {"a value of the wrong type",
     "{'steps':[" LEAD ",'routing':{'conditions':[" COND("s", ">", "{}", "a") "]}}," KID("a", "x") "]}",
     -1, "definition.steps[0].routing.conditions[0].value", "number or a string", NULL, NULL},
    {"an unknown rule field",
     "{'steps':[" LEAD ",'routing':{'conditions':[{'field':'s','operator':'>','value':1,'next':'a'}]}}," KID("a", "x") "]}",
     -1, "definition.steps[0].routing.conditions[0].next", "unknown field", NULL, NULL},
    {"a missing next_agent",
     "{'steps':[" LEAD ",'routing':{'conditions':[{'field':'s','operator':'>','value':1}]}}," KID("a", "x") "]}",
     -1, "definition.steps[0].routing.conditions[0].next_agent", "required", NULL, NULL},
    {"a field with an empty part",
     "{'steps':[" LEAD ",'routing':{'conditions':[" COND("m..s", ">", "1", "a") "]}}," KID("a", "x") "]}",
     -1, "definition.steps[0].routing.conditions[0].field", "empty parts", NULL, NULL},
    {"a field too deep",
     "{'steps':[" LEAD ",'routing':{'conditions':[" COND("a.b.c.d.e.f.g.h.i.j.k.l.m.n", ">", "1", "a") "]}}," KID("a", "x") "]}",
     -1, "definition.steps[0].routing.conditions[0].field", "at most 13", NULL, NULL},
    {"no conditions",
     "{'steps':[" LEAD ",'routing':{'conditions':[]}}," KID("a", "x") "]}",
     -1, "definition.steps[0].routing.conditions", "1 to 32", NULL, NULL},
    {"routing not an object",
     "{'steps':[" LEAD ",'routing':[1]}," KID("a", "x") "]}", -1, "definition.steps[0].routing", "object", NULL, NULL},
    {"an unknown routing field",
     "{'steps':[" LEAD ",'routing':{'conditions':[{'default':'a'}],'rules':1}}," KID("a", "x") "]}",
     -1, "definition.steps[0].routing.rules", "unknown field", NULL, NULL},
};
#undef LEAD
#undef KID
#undef COND
#undef LEAF
/* clang-format on */

static const cJSON *step_when(const cJSON *def, const char *key)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(def, "steps"))
    {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(s, "key")->valuestring, key) == 0)
            return cJSON_GetObjectItemCaseSensitive(s, "when");
    }
    return NULL;
}

static void check_when_is(const cJSON *def, const char *key, const char *want)
{
    const cJSON *got = step_when(def, key);
    cJSON *w = want ? quoted(want) : NULL;
    char *text = got ? json_print(got) : NULL;
    if (!(want ? cJSON_Compare(got, w, true) : got == NULL))
        fprintf(stderr, "  step %s: when %s\n  wanted %s\n", key, text ? text : "(none)",
                want ? want : "(none)");
    CHECK(want ? cJSON_Compare(got, w, true) : got == NULL);
    free(text);
    cJSON_Delete(w);
}

static void check_compile_row(const void *arg)
{
    const struct compile_row *row = arg;
    cJSON *def = quoted(row->def);
    REQUIRE(def != NULL);
    struct field_error err = {{0}, {0}};
    REQUIRE(wfdef_validate(def, &err) == 0);
    int rc = wf_routing_compile(def, &err);
    CHECK_LONG(rc, row->changed);
    if (row->changed < 0) {
        CHECK_STR(err.field, row->step);
        CHECK(strncmp(err.message, row->step, strlen(row->step)) == 0);
        CHECK_CONTAINS(err.message, row->want);
        CHECK_CONTAINS(err.message, "(step 'lead')");
        cJSON_Delete(def);
        return;
    }
    check_when_is(def, row->step, row->want);
    if (row->step2)
        check_when_is(def, row->step2, row->want2);
    /* The compiled definition is one wfdef accepts, and compiling it again changes nothing
     * (a template read back and sent again). */
    CHECK_LONG(wfdef_validate(def, &err), 0);
    cJSON *again = cJSON_Duplicate(def, true);
    CHECK_LONG(wf_routing_compile(again, &err), 0);
    CHECK(cJSON_Compare(again, def, true));
    cJSON_Delete(again);
    cJSON_Delete(def);
}

/* wf_routing_target: a key wins over an agent; a step that is no child is never named. */
static void check_target(const void *arg)
{
    (void)arg;
    cJSON *def = quoted("{'steps':[{'key':'p','agent':'a','task':'t'},"
                        "{'key':'b','agent':'c','task':'t','dependsOn':['p']},"
                        "{'key':'c','agent':'x','task':'t','dependsOn':['p']},"
                        "{'key':'d','agent':'z','task':'t'}]}");
    REQUIRE(def != NULL);
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(def, "steps");
    CHECK_LONG(wf_routing_target(steps, 0, "c"), 2); /* key c, though b's agent is c */
    CHECK_LONG(wf_routing_target(steps, 0, "x"), 2);
    CHECK_LONG(wf_routing_target(steps, 0, "z"), -1);
    CHECK_LONG(wf_routing_target(steps, 0, "p"), -1);
    cJSON_Delete(def);
}

/* wf_visualize: nodes in position order with their kind, edges marked routing (the parent's
 * rules name the child), when (the child's when reads the parent, inside a compound too) or
 * plain, and the Mermaid text; a status without a class is drawn plain. */
static void check_visualize(const void *arg)
{
    (void)arg;
    cJSON *run = quoted(
        "{'id':7,'status':'running','definition':{'steps':["
        "{'key':'a','agent':'x','task':'t','routing':{'conditions':[{'field':'s','operator':'>',"
        "'value':1,'next_agent':'y'},{'default':'b'}]}},"
        "{'key':'b','agent':'x','task':'t','dependsOn':['a'],'when':{'not':{'field':'steps.a.output.s',"
        "'operator':'>','value':1}}},"
        "{'key':'c','agent':'y','task':'t','dependsOn':['a']},"
        "{'key':'d','kind':'sleep','agent':'x','task':'t','dependsOn':['b','c'],"
        "'when':{'any':[{'field':'input.q','operator':'exists'},{'field':'steps.ab.output','operator':'exists'},"
        "{'field':'steps.c.output.z','operator':'exists'}]}}]},"
        "'steps':[{'key':'a','agent':'x','task':'t','status':'completed','attempts':1,'jobId':3,"
        "'queuedAt':'q','startedAt':'s','finishedAt':'f','error':null},"
        "{'key':'b','agent':'x','task':'t','status':'skipped'},"
        "{'key':'c','agent':'y','task':'t','status':'running'},"
        "{'key':'d','agent':'x','task':'t','status':'waiting'}]}");
    REQUIRE(run != NULL);
    cJSON *v = wf_visualize(run);
    REQUIRE(v != NULL);
    char *text = json_print(v);
    CHECK_CONTAINS(text, "\"runId\":7,\"status\":\"running\"");
    CHECK_CONTAINS(text,
                   "{\"key\":\"a\",\"kind\":\"agent\",\"agent\":\"x\",\"task\":\"t\","
                   "\"status\":\"completed\",\"attempts\":1,\"jobId\":3,\"queuedAt\":\"q\","
                   "\"startedAt\":\"s\",\"finishedAt\":\"f\",\"error\":null,\"routing\":true}");
    CHECK_CONTAINS(text, "\"key\":\"d\",\"kind\":\"sleep\"");
    CHECK_CONTAINS(text, "\"edges\":[{\"from\":\"a\",\"to\":\"b\",\"condition\":\"routing\"},"
                         "{\"from\":\"a\",\"to\":\"c\",\"condition\":\"routing\"},"
                         "{\"from\":\"b\",\"to\":\"d\",\"condition\":null},"
                         "{\"from\":\"c\",\"to\":\"d\",\"condition\":\"when\"}]");
    const char *m = cJSON_GetObjectItemCaseSensitive(v, "mermaid")->valuestring;
    CHECK_CONTAINS(m, "graph TD\n  n0[\"a<br/>x: t\"]:::completed\n  n1[\"b<br/>x: t\"]:::skipped\n"
                      "  n2[\"c<br/>y: t\"]:::running\n  n3[\"d<br/>x: t\"]\n"
                      "  n0 -.->|routing| n1\n  n0 -.->|routing| n2\n  n1 --> n3\n"
                      "  n2 -.->|when| n3\n  classDef pending ");
    CHECK_CONTAINS(m, "classDef cancelled ");
    free(text);
    cJSON_Delete(v);
    cJSON_Delete(run);
    CHECK(wf_visualize(NULL) == NULL);
}

void register_workflow_routing_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(when_rows); i++)
        test_addf(check_when_row, &when_rows[i], "workflow when: %s", when_rows[i].name);
    test_add("workflow when: depth", check_when_depth, NULL);
    for (size_t i = 0; i < COUNT_OF(compile_rows); i++)
        test_addf(check_compile_row, &compile_rows[i], "workflow routing: %s",
                  compile_rows[i].name);
    test_add("workflow routing: targets", check_target, NULL);
    test_add("workflow visualization: nodes, edges, Mermaid", check_visualize, NULL);
}
