/* harness — a tiny table-driven unit-test harness, no external library.
 *
 * Each test file exposes one register_*_tests() function (declared below) that adds its
 * cases with test_add() / test_addf(); data-table files add one case per row, passing the
 * row as the case's argument. Inside a case, CHECK(expr) records a failure (file:line and
 * the expression) and carries on; REQUIRE(expr) also returns from the case. The runner
 * (main.c) prints one line per failing case and ends with "N passed, N failed".
 *
 * Rows that show known bugs in the code under test sit inside #ifdef UNIT_KNOWN_BUGS and
 * fail until the bug is fixed; build them into a separate tree with
 *   make BUILD=build/bugs CC='cc -DUNIT_KNOWN_BUGS' build/bugs/bin/unit-tests */
#ifndef FLOWSTATE_TEST_HARNESS_H
#define FLOWSTATE_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

typedef void (*test_fn)(const void *arg);

/* Adds a case; name is copied. arg is passed to fn unchanged (a table row, or NULL). */
void test_add(const char *name, test_fn fn, const void *arg);
/* Adds a case whose name is printf-formatted (e.g. "isotime valid %s"). */
void test_addf(test_fn fn, const void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the outcome of one check in the running case. detail may be NULL. Returns ok. */
bool test_check(bool ok, const char *file, int line, const char *expr, const char *detail);

/* Checks that compare values and show both sides on failure. */
bool test_check_str(const char *got, const char *want, const char *file, int line,
                    const char *expr);
bool test_check_long(long got, long want, const char *file, int line, const char *expr);
bool test_check_contains(const char *haystack, const char *needle, bool want, const char *file,
                         int line, const char *expr);

#define CHECK(expr) test_check((expr) ? true : false, __FILE__, __LINE__, #expr, NULL)
#define REQUIRE(expr)                                                                              \
    do {                                                                                           \
        if (!CHECK(expr))                                                                          \
            return;                                                                                \
    } while (0)
/* Strings may be NULL; NULL equals only NULL. */
#define CHECK_STR(got, want) test_check_str((got), (want), __FILE__, __LINE__, #got " == " #want)
#define CHECK_LONG(got, want)                                                                      \
    test_check_long((long)(got), (long)(want), __FILE__, __LINE__, #got " == " #want)
#define CHECK_CONTAINS(hay, needle)                                                                \
    test_check_contains((hay), (needle), true, __FILE__, __LINE__, #hay " contains " #needle)
#define CHECK_LACKS(hay, needle)                                                                   \
    test_check_contains((hay), (needle), false, __FILE__, __LINE__, #hay " lacks " #needle)

/* Number of elements of a static array. */
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* One per test file. */
void register_config_tests(void);
void register_json_tests(void);
void register_json_print_tests(void);
void register_strbuf_tests(void);
void register_router_tests(void);
void register_apikey_tests(void);
void register_isotime_tests(void);
void register_auth_cache_tests(void);
void register_log_tests(void);
void register_jobwait_tests(void);
void register_backoff_tests(void);
void register_deadline_tests(void);
void register_chunkext_tests(void);
void register_claimsize_tests(void);
void register_jobq_tests(void);
void register_pool_agents_tests(void);
void register_data_aggregate_tests(void);
void register_data_schema_tests(void);
void register_data_transform_tests(void);
void register_code_rules_tests(void);
void register_code_analysis_tests(void);
void register_embed_tests(void);
void register_embed_wordnet_tests(void);
void register_embed_remote_tests(void);
void register_vectors_tests(void);
void register_coordinator_choose_tests(void);
void register_coordinator_refpath_tests(void);
void register_workflow_def_tests(void);
void register_workflow_routing_tests(void);
void register_coordinator_plan_tests(void);
void register_coordinator_delegate_tests(void);
void register_shared_args_tests(void);
void register_monitoring_rules_tests(void);
void register_learning_insights_tests(void);
void register_http_client_tests(void);
void register_listener_tests(void);
void register_pgconn_tests(void);
void register_pgpool_tests(void);
void register_reportscan_tests(void);
void register_idrank_tests(void);
void register_jobjson_tests(void);
void register_batcher_tests(void);
void register_workpool_tests(void);
void register_evfilter_tests(void);

#endif
