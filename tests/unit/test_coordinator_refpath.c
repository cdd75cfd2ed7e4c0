/* Unit tests for the workflow reference paths (worker/agents/coordinator/refpath.c): one
 * row per path, resolved against one document, the value printed as JSON (or NULL). */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "tests/unit/harness.h"
#include "worker/agents/coordinator/refpath.h"

static const char *const doc =
    "{\"input\":{\"code\":\"x=1\",\"n\":[10,20,{\"k\":true}]},"
    "\"steps\":{\"clean\":{\"result\":{\"records\":[{\"id\":1},{\"id\":2}],\"count\":2}}},"
    "\"a-b\":{\"c d\":5}}";

struct ref_row {
    const char *path;
    const char *want; /* printed JSON, or NULL: leads nowhere / malformed */
    int check;        /* refpath_check's answer */
};

static const struct ref_row rows[] = {
    {"$.input.code", "\"x=1\"", 0},
    {"$.input.n[1]", "20", 0},
    {"$.input.n[2].k", "true", 0},
    {"$.steps.clean.result.records[1].id", "2", 0},
    {"$.steps.clean.result.count", "2", 0},
    {"$.steps.clean.result.records", "[{\"id\":1},{\"id\":2}]", 0},
    {"$.a-b.c d", "5", 0},
    {"$", NULL, 0}, /* the root (printed below as an object) */
    {"$.input.n[3]", NULL, 0},
    {"$.input.missing", NULL, 0},
    {"$.input.code.more", NULL, 0},
    {"$.input.code[0]", NULL, 0},
    {"$.input[0]", NULL, 0},
    {"$.input..code", NULL, -1},
    {"$.input.", NULL, -1},
    {"$.input.n[]", NULL, -1},
    {"$.input.n[1", NULL, -1},
    {"$.input.n[-1]", NULL, -1},
    {"$.input.n[x]", NULL, -1},
    {"input.code", NULL, -1},
    {"", NULL, -1},
    {"$input", NULL, -1},
};

static void check_row(const void *arg)
{
    const struct ref_row *row = arg;
    cJSON *root = cJSON_Parse(doc);
    REQUIRE(root != NULL);
    char why[128];
    CHECK_LONG(refpath_check(row->path, why, sizeof(why)), row->check);
    const cJSON *v = refpath_get(root, row->path);
    if (row->path[0] == '$' && row->path[1] == '\0') {
        CHECK(v == root);
    } else if (!row->want) {
        CHECK(v == NULL);
    } else {
        char *text = v ? cJSON_PrintUnformatted(v) : NULL;
        CHECK_STR(text, row->want);
        free(text);
    }
    cJSON_Delete(root);
}

static void check_too_long(const void *arg)
{
    (void)arg;
    char path[REFPATH_MAX + 10];
    path[0] = '$';
    for (size_t i = 1; i < sizeof(path) - 1; i++)
        path[i] = i % 2 ? '.' : 'a';
    path[sizeof(path) - 1] = '\0';
    char why[128];
    CHECK_LONG(refpath_check(path, why, sizeof(why)), -1);
    CHECK_CONTAINS(why, "longer than");
}

void register_coordinator_refpath_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(rows); i++)
        test_addf(check_row, &rows[i], "coordinator refpath %s", rows[i].path);
    test_add("coordinator refpath too long", check_too_long, NULL);
}
