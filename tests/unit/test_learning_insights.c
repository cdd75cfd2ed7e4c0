/* Unit tests for the learning agent's insights
 * (worker/agents/learning/insights.c): how feedback is weighed and merged into
 * an agent's statistics, and the patterns and recommendations drawn from job
 * statistics, each with its evidence. */
#include <string.h>

#include "tests/unit/harness.h"
#include "worker/agents/learning/insights.h"

/* --- outcome and importance --- */

struct weigh_row {
    int rating, success;
    int want_outcome, want_importance;
};

static const struct weigh_row weigh_rows[] = {
    {5, -1, 1, 8}, {4, -1, 1, 6}, {3, -1, -1, 4}, {2, -1, 0, 6}, {1, -1, 0, 8},
    {0, 1, 1, 5},  {0, 0, 0, 7},  {5, 0, 0, 8},   {1, 1, 1, 8}, /* success wins over the rating */
};

static void weigh_case(const void *arg)
{
    const struct weigh_row *row = arg;
    struct feedback f = {row->rating, row->success};
    CHECK_LONG(feedback_outcome(&f), row->want_outcome);
    CHECK_LONG(feedback_importance(&f), row->want_importance);
}

/* --- merging --- */

static double at(const cJSON *fb, const char *task, const char *key)
{
    const cJSON *s = task ? cJSON_GetObjectItem(cJSON_GetObjectItem(fb, "byTaskType"), task)
                          : cJSON_GetObjectItem(fb, "total");
    const cJSON *v = cJSON_GetObjectItem(s, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void merge_case(const void *arg)
{
    (void)arg;
    /* an existing state with foreign members that must survive */
    cJSON *fb = cJSON_Parse("{\"note\":\"kept\",\"byTaskType\":{\"other\":{\"count\":7}}}");
    REQUIRE(fb);
    const struct feedback steps[] = {{5, -1}, {2, -1}, {0, 1}, {3, -1}};
    const char *tasks[] = {"validate_data", "validate_data", "validate_data", NULL};
    for (size_t i = 0; i < COUNT_OF(steps); i++)
        REQUIRE(feedback_merge(fb, tasks[i], &steps[i]) == 0);
    CHECK(at(fb, "validate_data", "count") == 3);
    CHECK(at(fb, "validate_data", "successes") == 2);
    CHECK(at(fb, "validate_data", "failures") == 1);
    CHECK(at(fb, "validate_data", "ratings") == 2);
    CHECK(at(fb, "validate_data", "averageRating") == 3.5);
    CHECK(at(fb, "validate_data", "successRate") == 0.6667);
    CHECK(at(fb, "unspecified", "count") == 1);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(fb, "byTaskType"), "unspecified"), "successRate")));
    CHECK(at(fb, NULL, "count") == 4);
    CHECK(at(fb, NULL, "ratings") == 3);
    CHECK(at(fb, NULL, "averageRating") == 3.3333);
    CHECK(at(fb, "other", "count") == 7);
    CHECK_STR(cJSON_GetObjectItem(fb, "note")->valuestring, "kept");
    cJSON_Delete(fb);
}

static void merge_replaces_junk_case(const void *arg)
{
    (void)arg;
    cJSON *fb = cJSON_Parse("{\"total\":5,\"byTaskType\":[]}");
    REQUIRE(fb);
    struct feedback f = {4, -1};
    REQUIRE(feedback_merge(fb, "t", &f) == 0);
    CHECK(at(fb, NULL, "count") == 1);
    CHECK(at(fb, "t", "successes") == 1);
    cJSON_Delete(fb);
}

/* --- patterns and recommendations --- */

static const char stats_doc[] =
    "{\"byAgent\":["
    "  "
    "{\"agent\":\"dp\",\"counts\":{\"pending\":40},\"queueWaitMs\":{\"p90\":"
    "12000}},"
    "  "
    "{\"agent\":\"ca\",\"counts\":{\"pending\":0},\"queueWaitMs\":{\"p90\":"
    "6000}},"
    "  "
    "{\"agent\":\"lg\",\"counts\":{\"pending\":0},\"queueWaitMs\":{\"p90\":100}"
    "}],"
    " \"byTask\":["
    "  "
    "{\"agent\":\"dp\",\"taskType\":\"validate_data\",\"total\":5,\"finished\":"
    "5,\"counts\":{\"failed\":2},"
    "   "
    "\"failureRate\":0.4,\"retries\":0,\"runTimeMs\":{\"p50\":10,\"p99\":20},"
    "   \"topErrors\":[{\"error\":\"bad row N\",\"count\":2}]},"
    "  "
    "{\"agent\":\"ca\",\"taskType\":\"analyze_code\",\"total\":4,\"finished\":"
    "4,\"counts\":{\"failed\":1},"
    "   "
    "\"failureRate\":0.25,\"retries\":3,\"runTimeMs\":{\"p50\":1000,\"p99\":"
    "25000},\"topErrors\":[]},"
    "  "
    "{\"agent\":\"lg\",\"taskType\":\"x\",\"total\":2,\"finished\":2,"
    "\"counts\":{\"failed\":0},"
    "   "
    "\"failureRate\":0,\"retries\":0,\"runTimeMs\":{\"p50\":null,\"p99\":null}}"
    "]}";

static void join(const cJSON *list, const char *a, const char *b, char *buf, size_t len)
{
    buf[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        const cJSON *x = cJSON_GetObjectItem(it, a), *y = cJSON_GetObjectItem(it, b);
        if (buf[0])
            strncat(buf, ",", len - strlen(buf) - 1);
        strncat(buf, cJSON_IsString(x) ? x->valuestring : "-", len - strlen(buf) - 1);
        strncat(buf, ":", len - strlen(buf) - 1);
        strncat(buf, cJSON_IsString(y) ? y->valuestring : "-", len - strlen(buf) - 1);
    }
}

static void patterns_case(const void *arg)
{
    (void)arg;
    cJSON *stats = cJSON_Parse(stats_doc);
    REQUIRE(stats);
    struct advice_limits lim = {.min_samples = 1};
    cJSON *p = learning_patterns(stats, &lim);
    REQUIRE(p);
    char got[512];
    join(p, "kind", "taskType", got, sizeof(got));
    /* scores: 0.4 failure, 0.375 retries (3/4 x 0.5), 0.25 failure, 0.25 slow
     * tail (ties in order) */
    CHECK_STR(got, "failure_rate:validate_data,retries:analyze_code,failure_rate:"
                   "analyze_code,slow_tail:analyze_code");
    const cJSON *first = cJSON_GetArrayItem(p, 0);
    CHECK_STR(cJSON_GetObjectItem(first, "message")->valuestring,
              "dp/validate_data fails 40% of the time (2 of 5 finished), mostly "
              "with \"bad row N\"");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(first, "evidence"), "topError")->valuestring,
              "bad row N");
    const cJSON *rank = cJSON_GetObjectItem(cJSON_GetArrayItem(p, 3), "rank");
    CHECK(cJSON_IsNumber(rank) && rank->valuedouble == 4);
    cJSON_Delete(p);
    lim.min_samples = 5; /* analyze_code (4 finished) is too few for failure rates */
    p = learning_patterns(stats, &lim);
    join(p, "kind", "taskType", got, sizeof(got));
    CHECK_STR(got, "failure_rate:validate_data,retries:analyze_code,slow_tail:analyze_code");
    cJSON_Delete(p);
    cJSON_Delete(stats);
}

struct advice_row {
    double lease_s, wait_ms, max_rate;
    const char *want; /* action:taskType-or-agent joined, in order */
};

static const struct advice_row advice_rows[] = {
    /* lease 30 s: analyze_code p99 25 s >= 80% of it (medium); dp waits 12 s >=
       2 x 5 s (high), ca 6 s (medium) */
    {30, 5000, 1.0,
     "add_workers:-,raise_timeout:analyze_code,add_workers:-,lower_max_"
     "attempts:validate_data"},
    /* lease 20 s: p99 above the lease -> high; failure limit 0.4 ->
       validate_data fix (high) */
    {20, 0, 0.4,
     "fix_failures:validate_data,raise_timeout:analyze_code,lower_max_attempts:"
     "validate_data"},
    /* long lease, low failure limit: fixes for both failing tasks */
    {100, 0, 0.25,
     "fix_failures:validate_data,fix_failures:analyze_code,lower_max_attempts:"
     "validate_data"},
};

static void advice_case(const void *arg)
{
    const struct advice_row *row = arg;
    cJSON *stats = cJSON_Parse(stats_doc);
    REQUIRE(stats);
    struct advice_limits lim = {row->lease_s, 0.8, row->wait_ms, row->max_rate, 1};
    cJSON *r = learning_recommendations(stats, &lim);
    REQUIRE(r);
    char got[512];
    join(r, "action", "taskType", got, sizeof(got));
    CHECK_STR(got, row->want);
    const cJSON *it;
    cJSON_ArrayForEach(it, r)
    {
        CHECK(cJSON_IsObject(cJSON_GetObjectItem(it, "evidence")));
        CHECK(cJSON_IsString(cJSON_GetObjectItem(it, "reason")));
        CHECK(!cJSON_GetObjectItem(it, "rank_"));
    }
    cJSON_Delete(r);
    cJSON_Delete(stats);
}

static void advice_evidence_case(const void *arg)
{
    (void)arg;
    cJSON *stats = cJSON_Parse(stats_doc);
    REQUIRE(stats);
    struct advice_limits lim = {30, 0.8, 0, 1.0, 1};
    cJSON *r = learning_recommendations(stats, &lim);
    const cJSON *t = cJSON_GetArrayItem(r, 0);
    REQUIRE(t);
    CHECK_STR(cJSON_GetObjectItem(t, "action")->valuestring, "raise_timeout");
    CHECK_STR(cJSON_GetObjectItem(t, "priority")->valuestring, "medium");
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "evidence"), "p99RunTimeMs")->valuedouble ==
          25000);
    CHECK(
        cJSON_GetObjectItem(cJSON_GetObjectItem(t, "suggestion"), "timeoutSeconds")->valuedouble ==
        50);
    CHECK_STR(cJSON_GetObjectItem(t, "reason")->valuestring,
              "ca/analyze_code run time p99 is 25000 ms, 83% of the 30 s lease: "
              "raise its timeoutSeconds");
    cJSON_Delete(r);
    cJSON_Delete(stats);
}

void register_learning_insights_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(weigh_rows); i++)
        test_addf(weigh_case, &weigh_rows[i], "learning weigh rating=%d success=%d",
                  weigh_rows[i].rating, weigh_rows[i].success);
    test_add("learning feedback merge", merge_case, NULL);
    test_add("learning feedback merge replaces junk", merge_replaces_junk_case, NULL);
    test_add("learning patterns ranked", patterns_case, NULL);
    for (size_t i = 0; i < COUNT_OF(advice_rows); i++)
        test_addf(advice_case, &advice_rows[i], "learning recommendations lease=%g wait=%g rate=%g",
                  advice_rows[i].lease_s, advice_rows[i].wait_ms, advice_rows[i].max_rate);
    test_add("learning recommendation evidence", advice_evidence_case, NULL);
}
