/* Unit tests for the monitoring agent's rules
 * (worker/agents/monitoring/rules.c): problems in a health report, metric
 * thresholds, webhook URL lists, which webhook answers are retried and the
 * retry schedule. */
#include <stdlib.h>
#include <string.h>

#include "common/http_status.h"
#include "tests/unit/harness.h"
#include "worker/agents/monitoring/rules.h"

/* --- health problems --- */

struct health_row {
    const char *report;
    long max_depth;
    const char *want_kinds;  /* comma-joined kinds in order ("" none) */
    const char *want_agents; /* comma-joined agent of each problem ("-" none) */
};

static const struct health_row health_rows[] = {
    {"{\"status\":\"healthy\",\"queue\":{\"expired_leases\":0},\"stale_"
     "agents\":[],\"agents\":[]}",
     1000, "", ""},
    {"{\"queue\":{\"expired_leases\":2},\"stale_agents\":[\"a\",\"b\"],"
     "\"agents\":[]}",
     1000, "stale_agent,stale_agent,expired_leases", "a,b,-"},
    {"{\"queue\":{},\"stale_agents\":[],\"agents\":[{\"agent_name\":\"x\","
     "\"jobs\":{\"pending\":11}},"
     "{\"agent_name\":\"y\",\"jobs\":{\"pending\":10}}]}",
     10, "queue_depth", "x"},
    {"{\"agents\":[{\"agent_name\":\"x\",\"jobs\":{\"pending\":1}}]}", 0, "queue_depth", "x"},
    {"{}", 1000, "", ""},
    {"{\"stale_agents\":[5,\"z\"]}", 1000, "stale_agent", "z"}, /* non-strings are skipped */
};

static void join(const cJSON *list, const char *key, char *buf, size_t len)
{
    buf[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, key);
        if (buf[0])
            strncat(buf, ",", len - strlen(buf) - 1);
        strncat(buf, cJSON_IsString(v) ? v->valuestring : "-", len - strlen(buf) - 1);
    }
}

static void health_case(const void *arg)
{
    const struct health_row *row = arg;
    cJSON *report = cJSON_Parse(row->report);
    REQUIRE(report);
    cJSON *p = monitor_health_problems(report, row->max_depth);
    char kinds[256], agents[256];
    if (CHECK(p)) {
        join(p, "kind", kinds, sizeof(kinds));
        CHECK_STR(kinds, row->want_kinds);
        join(p, "agent", agents, sizeof(agents));
        CHECK_STR(agents, row->want_agents);
    }
    cJSON_Delete(p);
    cJSON_Delete(report);
}

/* --- metric alerts --- */

struct alert_row {
    double max_rate, max_p99;
    const char *want_scopes;  /* comma-joined scope of each alert */
    const char *want_metrics; /* comma-joined metric of each alert */
};

static const char stats_doc[] =
    "{\"overall\":{\"agent\":null,\"finished\":10,\"failureRate\":0.3,"
    "\"runTimeMs\":{\"p99\":900}},"
    "\"byTask\":[{\"agent\":\"dp\",\"taskType\":\"validate_data\",\"finished\":"
    "5,\"failureRate\":0.6,"
    "\"runTimeMs\":{\"p99\":100}},{\"agent\":\"dp\",\"taskType\":\"process_"
    "data\",\"finished\":5,"
    "\"failureRate\":0,\"runTimeMs\":{\"p99\":1500}},{\"agent\":\"ca\","
    "\"taskType\":\"x\",\"finished\":0,"
    "\"failureRate\":0,\"runTimeMs\":{\"p99\":null}}]}";

static const struct alert_row alert_rows[] = {
    {-1, -1, "", ""},                           /* no thresholds: nothing checked */
    {0.5, -1, "dp/validate_data", "errorRate"}, /* only the task above 0.5 */
    {0.25, -1, "overall,dp/validate_data", "errorRate,errorRate"}, /* overall too */
    {0.6, -1, "", ""},                                             /* equal is not above */
    {-1, 1000, "dp/process_data", "p99RunTimeMs"},                 /* null p99 ignored */
    {-1, 50, "overall,dp/validate_data,dp/process_data", "p99RunTimeMs,p99RunTimeMs,p99RunTimeMs"},
    {0, 0, "overall,overall,dp/validate_data,dp/validate_data,dp/process_data",
     "errorRate,p99RunTimeMs,errorRate,p99RunTimeMs,p99RunTimeMs"},
};

static void alert_case(const void *arg)
{
    const struct alert_row *row = arg;
    cJSON *stats = cJSON_Parse(stats_doc);
    REQUIRE(stats);
    struct metric_limits lim = {row->max_rate, row->max_p99};
    cJSON *a = monitor_metric_alerts(stats, &lim);
    char got[512];
    if (CHECK(a)) {
        join(a, "scope", got, sizeof(got));
        CHECK_STR(got, row->want_scopes);
        join(a, "metric", got, sizeof(got));
        CHECK_STR(got, row->want_metrics);
    }
    cJSON_Delete(a);
    cJSON_Delete(stats);
}

static void alert_detail_case(const void *arg)
{
    (void)arg;
    cJSON *stats = cJSON_Parse(stats_doc);
    REQUIRE(stats);
    struct metric_limits lim = {0.25, -1};
    cJSON *a = monitor_metric_alerts(stats, &lim);
    const cJSON *second = cJSON_GetArrayItem(a, 1);
    REQUIRE(second);
    CHECK_STR(cJSON_GetObjectItem(second, "severity")->valuestring,
              "critical"); /* 0.6 >= 2 x 0.25 */
    CHECK_STR(cJSON_GetObjectItem(second, "taskType")->valuestring, "validate_data");
    CHECK(cJSON_GetObjectItem(second, "value")->valuedouble == 0.6);
    CHECK_STR(cJSON_GetObjectItem(second, "message")->valuestring,
              "dp/validate_data errorRate is 0.6, above the threshold 0.25");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "severity")->valuestring, "warning");
    cJSON_Delete(a);
    cJSON_Delete(stats);
}

/* --- webhook URL lists --- */

struct hooks_row {
    const char *list;
    int want_n;          /* -1: rejected */
    int want_bad;        /* index when rejected */
    const char *want[3]; /* URLs when accepted */
};

static const struct hooks_row hooks_rows[] = {
    {"", 0, 0, {NULL}},
    {" , ,", 0, 0, {NULL}},
    {"http://a/x", 1, 0, {"http://a/x"}},
    {" http://a/x , https://b:8443/y?z=1,", 2, 0, {"http://a/x", "https://b:8443/y?z=1"}},
    {"http://a,ftp://b", -1, 1, {NULL}},
    {"http://", -1, 0, {NULL}},
    {"a.example/hook", -1, 0, {NULL}},
};

static void hooks_case(const void *arg)
{
    const struct hooks_row *row = arg;
    char(*urls)[WEBHOOK_URL_MAX] = calloc(WEBHOOK_MAX, WEBHOOK_URL_MAX);
    REQUIRE(urls);
    int bad = -5;
    int n = monitor_webhooks_parse(row->list, urls, WEBHOOK_MAX, &bad);
    CHECK_LONG(n, row->want_n);
    if (n < 0)
        CHECK_LONG(bad, row->want_bad);
    for (int i = 0; i < n && i < 3; i++)
        CHECK_STR(urls[i], row->want[i]);
    free(urls);
}

static void hooks_cap_case(const void *arg)
{
    (void)arg;
    char(*urls)[WEBHOOK_URL_MAX] = calloc(2, WEBHOOK_URL_MAX);
    REQUIRE(urls);
    int bad;
    CHECK_LONG(monitor_webhooks_parse("http://a,http://b,http://c", urls, 2, &bad), 2);
    char *long_url = malloc(WEBHOOK_URL_MAX + 16);
    if (long_url) {
        memset(long_url, 'x', WEBHOOK_URL_MAX + 15);
        memcpy(long_url, "http://", 7);
        long_url[WEBHOOK_URL_MAX + 15] = '\0';
        CHECK_LONG(monitor_webhooks_parse(long_url, urls, 2, &bad), -1);
    }
    free(long_url);
    free(urls);
}

/* --- retries --- */

struct retry_row {
    int status;
    bool want;
};

static const struct retry_row retry_rows[] = {
    {0, true},   {200, false}, {204, false}, {301, false}, {400, false}, {404, false},
    {408, true}, {429, true},  {500, true},  {502, true},  {503, true},
};

static void retry_case(const void *arg)
{
    const struct retry_row *row = arg;
    CHECK(http_status_retryable(row->status) == row->want);
}

static void schedule_case(const void *arg)
{
    (void)arg;
    CHECK_LONG(WEBHOOK_TRIES, 3);
    for (int round = 0; round < 50; round++) {
        struct backoff b;
        long d[WEBHOOK_TRIES - 1];
        backoff_init(&b, WEBHOOK_BACKOFF_MIN_MS, WEBHOOK_BACKOFF_MAX_MS);
        monitor_webhook_schedule(&b, d);
        if (!CHECK(d[0] >= 100 && d[0] <= 200) || !CHECK(d[1] >= 200 && d[1] <= 400))
            return;
    }
}

void register_monitoring_rules_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(health_rows); i++)
        test_addf(health_case, &health_rows[i], "monitoring health problems #%zu", i);
    for (size_t i = 0; i < COUNT_OF(alert_rows); i++)
        test_addf(alert_case, &alert_rows[i], "monitoring alerts rate=%g p99=%g",
                  alert_rows[i].max_rate, alert_rows[i].max_p99);
    test_add("monitoring alert fields", alert_detail_case, NULL);
    for (size_t i = 0; i < COUNT_OF(hooks_rows); i++)
        test_addf(hooks_case, &hooks_rows[i], "monitoring webhooks '%s'", hooks_rows[i].list);
    test_add("monitoring webhooks cap and length", hooks_cap_case, NULL);
    for (size_t i = 0; i < COUNT_OF(retry_rows); i++)
        test_addf(retry_case, &retry_rows[i], "monitoring webhook retry on %d",
                  retry_rows[i].status);
    test_add("monitoring webhook retry schedule", schedule_case, NULL);
}
