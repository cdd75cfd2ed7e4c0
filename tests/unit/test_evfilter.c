/* Unit tests for gateway/events/evfilter: parsing the stream's and the listing's filter
 * parameters (each refusal names its parameter), seed 002's channel names and agent-{name},
 * type patterns with a '*' prefix, the AND of parameters and OR within one, and the text[]
 * literal the listing passes to SQL. */
#include <string.h>

#include "gateway/events/evfilter.h"
#include "tests/unit/harness.h"

struct bad_row {
    struct evfilter_params p;
    const char *field;
};

static const struct bad_row bad_rows[] = {
    {{.channel = "nope"}, "channel"},
    {{.channel = ""}, "channel"},
    {{.channel = "agent-status,"}, "channel"},
    {{.channel = ",agent-status"}, "channel"},
    {{.channel = "agent-"}, "channel"},
    {{.channel = "agent-a b"}, "channel"},
    {{.channel = "agent-a,agent-b"}, "channel"},
    {{.channel = "agent-a", .agent = "b"}, "agent"},
    {{.type = ""}, "type"},
    {{.type = "a,,b"}, "type"},
    {{.type = "a*b"}, "type"},
    {{.type = "**"}, "type"},
    {{.type = "a b"}, "type"},
    {{.type = "t0,t1,t2,t3,t4,t5,t6,t7,t8,t9,t10,t11,t12,t13,t14,t15,t16"}, "type"},
    {{.agent = ""}, "agent"},
    {{.agent = "x/y"}, "agent"},
    {{.job_id = "0"}, "jobId"},
    {{.job_id = "-1"}, "jobId"},
    {{.job_id = "+1"}, "jobId"},
    {{.job_id = " 1"}, "jobId"},
    {{.job_id = "1x"}, "jobId"},
    {{.job_id = "99999999999999999999"}, "jobId"},
    {{.run_id = ""}, "runId"},
    {{.conversation_id = ""}, "conversationId"},
};

static void bad_case(const void *arg)
{
    const struct bad_row *row = arg;
    struct evfilter f;
    struct evfilter_error err;
    CHECK(evfilter_parse(&f, &row->p, &err) == -1);
    CHECK_STR(err.field, row->field);
    CHECK(err.message[0] != '\0');
}

struct match_row {
    struct evfilter_params p;
    struct evfilter_event e;
    bool want;
};

static const struct match_row match_rows[] = {
    {{0}, {.type = "anything"}, true},
    {{.channel = "agent-status"}, {.type = "agent.started"}, true},
    {{.channel = "agent-status"}, {.type = "agentx"}, false},
    {{.channel = "agent-tasks"}, {.type = "job.dead"}, true},
    {{.channel = "agent-tasks"}, {.type = "task.completed"}, true},
    {{.channel = "agent-tasks"}, {.type = "agent.busy"}, false},
    {{.channel = "agent-metrics"}, {.type = "metrics.updated"}, true},
    {{.channel = "system-health"}, {.type = "health.updated"}, true},
    {{.channel = "system-health"}, {.type = "alert"}, true},
    {{.channel = "system-health"}, {.type = "alerts"}, false},
    {{.channel = "agent-updates"}, {.type = "message.sent"}, true},
    {{.channel = "agent-status,agent-metrics"}, {.type = "metrics.updated"}, true},
    {{.channel = "agent-bob"}, {.type = "job.dead", .agent = "bob"}, true},
    {{.channel = "agent-bob"}, {.type = "job.dead", .agent = "alice"}, false},
    {{.channel = "agent-bob"}, {.type = "job.dead"}, false},
    {{.channel = "agent-status,agent-bob"}, {.type = "agent.idle", .agent = "bob"}, true},
    {{.channel = "agent-status,agent-bob"}, {.type = "job.dead", .agent = "bob"}, false},
    {{.channel = "agent-bob", .agent = "bob"}, {.type = "x", .agent = "bob"}, true},
    {{.type = "job.dead"}, {.type = "job.dead"}, true},
    {{.type = "job.dead"}, {.type = "job.deadline"}, false},
    {{.type = "job.*"}, {.type = "job.retry"}, true},
    {{.type = "job*"}, {.type = "jobs"}, true},
    {{.type = "*"}, {.type = "x"}, true},
    {{.type = "a,b"}, {.type = "b"}, true},
    {{.type = "a,b"}, {.type = "c"}, false},
    {{.channel = "agent-tasks", .type = "job.dead"}, {.type = "job.dead"}, true},
    {{.channel = "agent-tasks", .type = "job.dead"}, {.type = "job.retry"}, false},
    {{.job_id = "7"}, {.type = "x", .job_id = 7}, true},
    {{.job_id = "7"}, {.type = "x", .job_id = 8}, false},
    {{.job_id = "7"}, {.type = "x"}, false},
    {{.run_id = "12"}, {.type = "x", .run_id = "12"}, true},
    {{.run_id = "12"}, {.type = "x", .run_id = "13"}, false},
    {{.run_id = "12"}, {.type = "x"}, false},
    {{.conversation_id = "c"}, {.type = "x", .conversation_id = "c"}, true},
    {{.conversation_id = "c"}, {.type = "x"}, false},
    {{.agent = "bob", .job_id = "7"}, {.type = "x", .agent = "bob", .job_id = 8}, false},
};

static void match_case(const void *arg)
{
    const struct match_row *row = arg;
    struct evfilter f;
    struct evfilter_error err;
    REQUIRE(evfilter_parse(&f, &row->p, &err) == 0);
    CHECK(evfilter_match(&f, &row->e) == row->want);
}

static void sql_array_case(const void *arg)
{
    (void)arg;
    struct evfilter f;
    struct evfilter_error err;
    char buf[EVFILTER_ARRAY_MAX];
    struct evfilter_params none = {0};
    REQUIRE(evfilter_parse(&f, &none, &err) == 0);
    CHECK(evfilter_sql_array(&f, 0, buf, sizeof(buf)) == NULL);
    CHECK(evfilter_sql_array(&f, 1, buf, sizeof(buf)) == NULL);
    struct evfilter_params p = {.channel = "agent-tasks,agent-tasks,agent-bob", .type = "a,b.*"};
    REQUIRE(evfilter_parse(&f, &p, &err) == 0);
    CHECK_STR(evfilter_sql_array(&f, 0, buf, sizeof(buf)), "{task.*,job.*}");
    CHECK_STR(evfilter_sql_array(&f, 1, buf, sizeof(buf)), "{a,b.*}");
    CHECK_STR(f.agent, "bob");
    char small[6];
    CHECK(evfilter_sql_array(&f, 1, small, sizeof(small)) == NULL);
    /* Only agent-{name}: no type restriction. */
    struct evfilter_params only = {.channel = "agent-bob"};
    REQUIRE(evfilter_parse(&f, &only, &err) == 0);
    CHECK(evfilter_sql_array(&f, 0, buf, sizeof(buf)) == NULL);
}

void register_evfilter_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(bad_rows); i++)
        test_addf(bad_case, &bad_rows[i], "evfilter refuses row %zu", i);
    for (size_t i = 0; i < COUNT_OF(match_rows); i++)
        test_addf(match_case, &match_rows[i], "evfilter match row %zu", i);
    test_add("evfilter sql arrays", sql_array_case, NULL);
}
