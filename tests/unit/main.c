/* Unit-test runner: collects the cases every test file registers, runs them in order and
 * prints one line per failing case, then "N passed, N failed". Exit status 0 only when no
 * case failed.
 *
 *   unit-tests              run every case
 *   unit-tests -v           also print "ok <case>" for passing cases
 *   unit-tests WORD...      run only the cases whose name contains one of the words */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/harness.h"

struct test_case {
    char *name;
    test_fn fn;
    const void *arg;
};

static struct test_case *cases;
static size_t ncases, cap;

/* The running case's outcome: its number of failed checks and the first one's description. */
static int cur_failures;
static char cur_first[1024];

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "unit-tests: out of memory\n");
        exit(2);
    }
    return q;
}

void test_add(const char *name, test_fn fn, const void *arg)
{
    if (ncases == cap) {
        cap = cap ? cap * 2 : 256;
        cases = xrealloc(cases, cap * sizeof(*cases));
    }
    size_t len = strlen(name) + 1;
    char *copy = xrealloc(NULL, len);
    memcpy(copy, name, len);
    cases[ncases++] = (struct test_case){copy, fn, arg};
}

void test_addf(test_fn fn, const void *arg, const char *fmt, ...)
{
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    test_add(name, fn, arg);
}

bool test_check(bool ok, const char *file, int line, const char *expr, const char *detail)
{
    if (ok)
        return true;
    if (cur_failures++ == 0)
        snprintf(cur_first, sizeof(cur_first), "%s:%d: CHECK(%s)%s%s", file, line, expr,
                 detail ? " " : "", detail ? detail : "");
    return false;
}

/* Writes s double-quoted with control and non-ASCII bytes escaped, truncated to fit. */
static const char *show(const char *s, char *buf, size_t len)
{
    if (!s) {
        snprintf(buf, len, "NULL");
        return buf;
    }
    size_t o = 0;
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 8 < len; p++) {
        if (*p == '"' || *p == '\\')
            o += (size_t)snprintf(buf + o, len - o, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
        else
            buf[o++] = (char)*p;
    }
    if (o + 8 >= len)
        o += (size_t)snprintf(buf + o, len - o, "...");
    snprintf(buf + o, len - o, "\"");
    return buf;
}

bool test_check_str(const char *got, const char *want, const char *file, int line, const char *expr)
{
    bool ok = (!got && !want) || (got && want && strcmp(got, want) == 0);
    if (ok)
        return test_check(true, file, line, expr, NULL);
    char g[300], w[300], detail[640];
    snprintf(detail, sizeof(detail), "got %s, want %s", show(got, g, sizeof(g)),
             show(want, w, sizeof(w)));
    return test_check(false, file, line, expr, detail);
}

bool test_check_long(long got, long want, const char *file, int line, const char *expr)
{
    char detail[96];
    snprintf(detail, sizeof(detail), "got %ld, want %ld", got, want);
    return test_check(got == want, file, line, expr, got == want ? NULL : detail);
}

bool test_check_contains(const char *haystack, const char *needle, bool want, const char *file,
                         int line, const char *expr)
{
    bool has = haystack && needle && strstr(haystack, needle) != NULL;
    if (has == want)
        return test_check(true, file, line, expr, NULL);
    char h[300], detail[340];
    snprintf(detail, sizeof(detail), "in %s", show(haystack, h, sizeof(h)));
    return test_check(false, file, line, expr, detail);
}

static bool selected(const char *name, int argc, char **argv, int first)
{
    if (first >= argc)
        return true;
    for (int i = first; i < argc; i++)
        if (strstr(name, argv[i]))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    int first = 1;
    bool verbose = false;
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        verbose = true;
        first = 2;
    }

    register_config_tests();
    register_json_tests();
    register_json_print_tests();
    register_strbuf_tests();
    register_router_tests();
    register_apikey_tests();
    register_isotime_tests();
    register_auth_cache_tests();
    register_log_tests();
    register_jobwait_tests();
    register_backoff_tests();
    register_deadline_tests();
    register_chunkext_tests();
    register_claimsize_tests();
    register_jobq_tests();
    register_pool_agents_tests();
    register_data_aggregate_tests();
    register_data_schema_tests();
    register_data_transform_tests();
    register_code_rules_tests();
    register_code_analysis_tests();
    register_embed_tests();
    register_embed_wordnet_tests();
    register_embed_remote_tests();
    register_vectors_tests();
    register_coordinator_choose_tests();
    register_coordinator_refpath_tests();
    register_coordinator_plan_tests();
    register_coordinator_delegate_tests();
    register_shared_args_tests();
    register_monitoring_rules_tests();
    register_learning_insights_tests();
    register_http_client_tests();
    register_listener_tests();
    register_pgconn_tests();
    register_pgpool_tests();
    register_reportscan_tests();
    register_idrank_tests();
    register_jobjson_tests();
    register_batcher_tests();
    register_workpool_tests();
    register_evfilter_tests();
    register_workflow_def_tests();
    register_workflow_routing_tests();

    int passed = 0, failed = 0;
    for (size_t i = 0; i < ncases; i++) {
        if (!selected(cases[i].name, argc, argv, first))
            continue;
        cur_failures = 0;
        cur_first[0] = '\0';
        cases[i].fn(cases[i].arg);
        if (cur_failures == 0) {
            passed++;
            if (verbose)
                printf("ok   %s\n", cases[i].name);
        } else {
            failed++;
            if (cur_failures > 1)
                printf("FAIL %s: %s (+%d more)\n", cases[i].name, cur_first, cur_failures - 1);
            else
                printf("FAIL %s: %s\n", cases[i].name, cur_first);
        }
        fflush(stdout);
    }
    for (size_t i = 0; i < ncases; i++)
        free(cases[i].name);
    free(cases);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
