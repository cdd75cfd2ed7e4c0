/* Unit tests for the coordinator's agent choice (worker/agents/coordinator/choose.c): one
 * row per case, a GET /agents-shaped document in, the chosen agent (or none) and a piece
 * of the reason out. */
#include <cjson/cJSON.h>

#include "tests/unit/harness.h"
#include "worker/agents/coordinator/choose.h"

/* Three code analysers (one offline), a data processor and a coordinator. */
static const char *const fleet =
    "{\"agents\":["
    "{\"agent_name\":\"ca_busy\",\"status\":\"busy\",\"capabilities\":[\"code_analysis\"],"
    "\"jobs\":{\"pending\":3,\"running\":1}},"
    "{\"agent_name\":\"ca_off\",\"status\":\"offline\",\"capabilities\":[\"code_analysis\"],"
    "\"jobs\":{\"pending\":0,\"running\":0}},"
    "{\"agent_name\":\"ca_zz\",\"status\":\"idle\",\"capabilities\":[\"code_analysis\",\"bug_detection\"],"
    "\"jobs\":{\"pending\":1,\"running\":0}},"
    "{\"agent_name\":\"ca_aa\",\"status\":\"idle\",\"capabilities\":[\"code_analysis\"],"
    "\"jobs\":{\"pending\":0,\"running\":1}},"
    "{\"agent_name\":\"data_processor\",\"status\":\"idle\",\"capabilities\":[\"transformation\"],"
    "\"jobs\":{\"pending\":0,\"running\":0}},"
    "{\"agent_name\":\"monitoring\",\"status\":\"offline\",\"capabilities\":[\"monitoring\"],"
    "\"jobs\":{\"pending\":0,\"running\":0}}]}";

struct choose_row {
    const char *name;
    const char *doc; /* NULL: fleet */
    const char *task_type, *agent, *capability;
    const char *want;   /* chosen agent, NULL for none */
    const char *reason; /* a substring of the reason */
};

static const struct choose_row rows[] = {
    {"capability match, smallest queue, tie by name", NULL, "analyze_code", NULL, "code_analysis",
     "ca_aa", "ca_zz (queue 1)"},
    {"offline skipped although its queue is empty", NULL, "analyze_code", NULL, "code_analysis",
     "ca_aa", "ca_off (queue 0, offline)"},
    {"only one with the capability", NULL, "detect_bugs", NULL, "bug_detection", "ca_zz",
     "ca_zz (queue 1)"},
    {"no agent has the capability", NULL, "analyze_code", NULL, "telepathy", NULL,
     "capability telepathy: none registered"},
    {"every candidate offline", NULL, "health_check", NULL, "monitoring", NULL,
     "every one is offline"},
    {"default map", NULL, "transform_data", NULL, NULL, "data_processor",
     "task type transform_data goes to"},
    {"default map, agent offline", NULL, "send_alert", NULL, NULL, NULL, "every one is offline"},
    {"default map, agent not registered", NULL, "analyze_code", NULL, NULL, NULL,
     "none registered"},
    {"unknown task type without target", NULL, "dance", NULL, NULL, NULL,
     "task type 'dance' has no default agent"},
    {"named agent", NULL, "analyze_code", "ca_busy", NULL, "ca_busy",
     "named agent ca_busy: ca_busy (queue 4)"},
    {"named agent used even when offline", NULL, "analyze_code", "ca_off", NULL, "ca_off",
     "named agent ca_off"},
    {"named agent not registered", NULL, "ping", "ghost", NULL, NULL,
     "named agent ghost: none registered"},
    {"tie by name regardless of order",
     "{\"agents\":[{\"agent_name\":\"b\",\"status\":\"idle\",\"capabilities\":[\"x\"],\"jobs\":{\"pending\":2,"
     "\"running\":0}},{\"agent_name\":\"a\",\"status\":\"busy\",\"capabilities\":[\"x\"],\"jobs\":{\"pending\":1,"
     "\"running\":1}}]}",
     "t", NULL, "x", "a", "chose a"},
    {"missing jobs count as empty",
     "{\"agents\":[{\"agent_name\":\"q\",\"status\":\"idle\",\"capabilities\":[\"x\"]}]}", "t",
     NULL, "x", "q", "q (queue 0)"},
    {"empty document", "{}", "t", NULL, "x", NULL, "none registered"},
};

static void check_row(const void *arg)
{
    const struct choose_row *row = arg;
    cJSON *doc = cJSON_Parse(row->doc ? row->doc : fleet);
    REQUIRE(doc != NULL);
    struct choice c;
    int rc = choose_agent(doc, row->task_type, row->agent, row->capability, &c);
    CHECK_LONG(rc, row->want ? 0 : -1);
    CHECK_STR(c.agent, row->want ? row->want : "");
    CHECK_CONTAINS(c.reason, row->reason);
    cJSON_Delete(doc);
}

static void check_default_map(const void *arg)
{
    (void)arg;
    CHECK_STR(choose_default_agent("suggest_optimizations"), "code_analyzer");
    CHECK_STR(choose_default_agent("validate_data"), "data_processor");
    CHECK_STR(choose_default_agent("identify_patterns"), "learning");
    CHECK_STR(choose_default_agent("check_metrics"), "monitoring");
    CHECK_STR(choose_default_agent("coordinate_workflow"), "coordinator");
    CHECK_STR(choose_default_agent("ping"), NULL);
    CHECK_STR(choose_default_agent(NULL), NULL);
}

void register_coordinator_choose_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(rows); i++)
        test_addf(check_row, &rows[i], "coordinator choose: %s", rows[i].name);
    test_add("coordinator choose: default map", check_default_map, NULL);
}
