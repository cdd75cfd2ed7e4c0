/* pool agents list: the parser behind --agents and --agents-file (separators, comments,
 * spaces, counts 0..64, unknown and repeated names, syntax errors with the entry and line),
 * reading a list file, the formatted list, and the executables check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "worker/pool/agents.h"

/* ---- agents_parse: accepted lists ---------------------------------------------------- */

struct parse_ok {
    const char *label;
    const char *text;
    int want[AGENT__COUNT]; /* code_analyzer, data_processor, coordinator, learning, monitoring */
};

static const struct parse_ok ok_cases[] = {
    {"one agent", "code_analyzer=2", {2, 0, 0, 0, 0}},
    {"the default list",
     "code_analyzer=1,data_processor=1,coordinator=1,learning=1,monitoring=1",
     {1, 1, 1, 1, 1}},
    {"order does not matter", "monitoring=3,code_analyzer=1", {1, 0, 0, 0, 3}},
    {"spaces around entries and =", "  code_analyzer = 2 ,\tlearning=\t4  ", {2, 0, 0, 4, 0}},
    {"newlines as separators", "code_analyzer=2\ndata_processor=1\n", {2, 1, 0, 0, 0}},
    {"CRLF line ends", "code_analyzer=2\r\ncoordinator=5\r\n", {2, 0, 5, 0, 0}},
    {"commas and newlines mixed", "code_analyzer=1,learning=2\nmonitoring=3", {1, 0, 0, 2, 3}},
    {"comments and blank lines",
     "# the pool's agents\n\ncode_analyzer=2  # busy one\n  # data_processor=9\nlearning=1\n",
     {2, 0, 0, 1, 0}},
    {"comment ends the line, not the list",
     "code_analyzer=1 # x, learning=5\nmonitoring=2",
     {1, 0, 0, 0, 2}},
    {"empty entries skipped", ",code_analyzer=1,,learning=1,", {1, 0, 0, 1, 0}},
    {"count 0 allowed", "code_analyzer=0,learning=1", {0, 0, 0, 1, 0}},
    {"every count 0", "code_analyzer=0", {0, 0, 0, 0, 0}},
    {"count 64 (max)", "data_processor=64", {0, 64, 0, 0, 0}},
    {"leading zeros", "data_processor=007", {0, 7, 0, 0, 0}},
};

static void parse_ok_run(const void *arg)
{
    const struct parse_ok *c = arg;
    struct agents a;
    memset(&a, 0x5a, sizeof(a));
    char err[256] = "";
    int rc = agents_parse(c->text, &a, err, sizeof(err));
    if (!test_check(rc == 0, __FILE__, __LINE__, "agents_parse(...) == 0", err))
        return;
    for (int i = 0; i < AGENT__COUNT; i++)
        CHECK_LONG(a.count[i], c->want[i]);
}

/* ---- agents_parse: rejected lists ---------------------------------------------------- */

struct parse_bad {
    const char *label;
    const char *text;
    const char *err_has[2]; /* substrings the message must hold (NULL: none) */
};

static const struct parse_bad bad_cases[] = {
    {"unknown agent", "code_analyzer=1,bogus=2", {"unknown agent \"bogus\"", "code_analyzer, "}},
    {"unknown agent lists the known ones", "x=1", {"data_processor", "monitoring"}},
    {"names are case-sensitive", "Code_Analyzer=1", {"unknown agent \"Code_Analyzer\"", NULL}},
    {"prefix of a name", "code=1", {"unknown agent \"code\"", NULL}},
    {"name with a space inside", "code analyzer=1", {"unknown agent", NULL}},
    {"count 65", "code_analyzer=65", {"\"code_analyzer=65\"", "0 to 64"}},
    {"count 1000", "code_analyzer=1000", {"0 to 64", NULL}},
    {"negative count", "code_analyzer=-1", {"0 to 64", NULL}},
    {"plus sign", "code_analyzer=+1", {"0 to 64", NULL}},
    {"count not a number", "code_analyzer=two", {"0 to 64", NULL}},
    {"count with a fraction", "code_analyzer=1.5", {"0 to 64", NULL}},
    {"count with trailing text", "code_analyzer=2x", {"0 to 64", NULL}},
    {"empty count", "code_analyzer=", {"0 to 64", NULL}},
    {"space inside the count", "code_analyzer=1 2", {"0 to 64", NULL}},
    {"two = signs", "code_analyzer=1=2", {"0 to 64", NULL}},
    {"missing =count", "code_analyzer", {"\"code_analyzer\"", "expected name=count"}},
    {"colon instead of =", "code_analyzer:2", {"expected name=count", NULL}},
    {"empty name", "=2", {"unknown agent \"\"", NULL}},
    {"listed twice",
     "code_analyzer=1,learning=1,code_analyzer=2",
     {"listed twice", "code_analyzer"}},
    {"listed twice with 0", "learning=0\nlearning=0", {"listed twice", NULL}},
    {"empty list", "", {"no agent listed", NULL}},
    {"only separators", " , ,\n\n", {"no agent listed", NULL}},
    {"only comments", "# nothing here\n# code_analyzer=1\n", {"no agent listed", NULL}},
    {"line number in a file", "code_analyzer=1\n# fine\nlearning=x\n", {"(line 3)", "learning=x"}},
    {"no line number on one line", "code_analyzer=1,bogus=1", {"bogus", NULL}},
};

static void parse_bad_run(const void *arg)
{
    const struct parse_bad *c = arg;
    struct agents a = {{9, 9, 9, 9, 9}};
    char err[512] = "";
    CHECK(agents_parse(c->text, &a, err, sizeof(err)) == -1);
    for (int i = 0; i < 2; i++)
        if (c->err_has[i])
            CHECK_CONTAINS(err, c->err_has[i]);
    if (!strchr(c->text, '\n'))
        CHECK_LACKS(err, "(line");
    /* out is left alone on failure */
    for (int i = 0; i < AGENT__COUNT; i++)
        CHECK_LONG(a.count[i], 9);
}

static void parse_small_err_buffer(const void *arg)
{
    (void)arg;
    struct agents a;
    char err[8];
    memset(err, 'x', sizeof(err));
    CHECK(agents_parse("a\nb=1\nbogus=1", &a, err, sizeof(err)) == -1);
    CHECK(memchr(err, '\0', sizeof(err)) != NULL); /* truncated, still terminated */
}

/* ---- names, format, total -------------------------------------------------------------- */

static void names_case(const void *arg)
{
    (void)arg;
    CHECK_STR(agents_name(AGENT_CODE_ANALYZER), "code_analyzer");
    CHECK_STR(agents_name(AGENT_DATA_PROCESSOR), "data_processor");
    CHECK_STR(agents_name(AGENT_COORDINATOR), "coordinator");
    CHECK_STR(agents_name(AGENT_LEARNING), "learning");
    CHECK_STR(agents_name(AGENT_MONITORING), "monitoring");
    CHECK_STR(agents_name(AGENT__COUNT), "?");
}

static void format_case(const void *arg)
{
    (void)arg;
    char buf[256];
    struct agents a = {{2, 0, 1, 0, 64}};
    CHECK_STR(agents_format(&a, buf, sizeof(buf)), "code_analyzer=2,coordinator=1,monitoring=64");
    CHECK_LONG(agents_total(&a), 67);
    struct agents none = {{0, 0, 0, 0, 0}};
    CHECK_STR(agents_format(&none, buf, sizeof(buf)), "none");
    CHECK_LONG(agents_total(&none), 0);
    char tiny[20];
    agents_format(&a, tiny, sizeof(tiny));
    CHECK(strlen(tiny) < sizeof(tiny));
    /* parse(format(x)) == x */
    struct agents back;
    char err[128];
    REQUIRE(agents_parse(agents_format(&a, buf, sizeof(buf)), &back, err, sizeof(err)) == 0);
    CHECK(memcmp(&a, &back, sizeof(a)) == 0);
}

static void path_case(const void *arg)
{
    (void)arg;
    char buf[64];
    CHECK(agents_path("/opt/fs/bin", AGENT_LEARNING, buf, sizeof(buf)) == 0);
    CHECK_STR(buf, "/opt/fs/bin/learning");
    CHECK(agents_path("/opt/fs/bin/", AGENT_LEARNING, buf, sizeof(buf)) == 0);
    CHECK_STR(buf, "/opt/fs/bin/learning");
    char small[12];
    CHECK(agents_path("/opt/fs/bin", AGENT_LEARNING, small, sizeof(small)) == -1);
}

/* ---- files ---------------------------------------------------------------------------- */

/* Writes text to a fresh temporary file; returns its path in buf (0) or -1. */
static int temp_file(const char *text, size_t len, char *buf, size_t buflen)
{
    snprintf(buf, buflen, "/tmp/fs-unit-agents-XXXXXX");
    int fd = mkstemp(buf);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, text, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -1;
}

static void file_case(const void *arg)
{
    (void)arg;
    char path[64], err[256] = "";
    const char text[] = "# pool\ncode_analyzer=3\nlearning = 1 # one is plenty\n";
    REQUIRE(temp_file(text, sizeof(text) - 1, path, sizeof(path)) == 0);
    struct agents a;
    CHECK(agents_read_file(path, &a, err, sizeof(err)) == 0);
    CHECK_LONG(a.count[AGENT_CODE_ANALYZER], 3);
    CHECK_LONG(a.count[AGENT_LEARNING], 1);
    CHECK_LONG(a.count[AGENT_MONITORING], 0);
    unlink(path);

    const char bad[] = "code_analyzer=3\nbogus=1\n";
    REQUIRE(temp_file(bad, sizeof(bad) - 1, path, sizeof(path)) == 0);
    CHECK(agents_read_file(path, &a, err, sizeof(err)) == -1);
    CHECK_CONTAINS(err, "bogus");
    CHECK_CONTAINS(err, "(line 2)");
    unlink(path);

    const char nul[] = "code_analyzer=3\0learning=1\n";
    REQUIRE(temp_file(nul, sizeof(nul) - 1, path, sizeof(path)) == 0);
    CHECK(agents_read_file(path, &a, err, sizeof(err)) == -1);
    CHECK_CONTAINS(err, "NUL");
    unlink(path);

    CHECK(agents_read_file("/nonexistent/fs-agents", &a, err, sizeof(err)) == -1);
    CHECK_CONTAINS(err, "No such file");
}

static void big_file_case(const void *arg)
{
    (void)arg;
    size_t len = 64 * 1024 + 1;
    char *text = malloc(len);
    REQUIRE(text != NULL);
    memset(text, '\n', len);
    memcpy(text, "learning=1", 10);
    char path[64], err[256] = "";
    struct agents a;
    if (CHECK(temp_file(text, len, path, sizeof(path)) == 0)) {
        CHECK(agents_read_file(path, &a, err, sizeof(err)) == -1);
        CHECK_CONTAINS(err, "64 KiB");
        unlink(path);
    }
    free(text);
}

static void executables_case(const void *arg)
{
    (void)arg;
    char dir[] = "/tmp/fs-unit-agentdir-XXXXXX", path[128], err[512] = "";
    REQUIRE(mkdtemp(dir) != NULL);
    struct agents a = {{1, 0, 0, 2, 0}};
    CHECK(agents_check_executables(dir, &a, err, sizeof(err)) == -1);
    CHECK_CONTAINS(err, "code_analyzer");
    CHECK_CONTAINS(err, "No such file");

    snprintf(path, sizeof(path), "%s/code_analyzer", dir);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    CHECK(agents_check_executables(dir, &a, err, sizeof(err)) == -1);
    CHECK_CONTAINS(err, "not executable");
    chmod(path, 0755);
    CHECK(agents_check_executables(dir, &a, err, sizeof(err)) == -1);
    CHECK_CONTAINS(err, "learning"); /* the next one with a count above 0 */

    char sub[160];
    snprintf(sub, sizeof(sub), "%s/learning", dir);
    mkdir(sub, 0755);
    CHECK(agents_check_executables(dir, &a, err, sizeof(err)) == -1);
    CHECK_CONTAINS(err, "not a regular file");
    rmdir(sub);

    struct agents only = {{1, 0, 0, 0, 0}}; /* agents at 0 need no executable */
    CHECK(agents_check_executables(dir, &only, err, sizeof(err)) == 0);
    unlink(path);
    rmdir(dir);
}

void register_pool_agents_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(ok_cases); i++)
        test_addf(parse_ok_run, &ok_cases[i], "pool agents parse ok: %s", ok_cases[i].label);
    for (size_t i = 0; i < COUNT_OF(bad_cases); i++)
        test_addf(parse_bad_run, &bad_cases[i], "pool agents parse rejects: %s",
                  bad_cases[i].label);
    test_add("pool agents parse: error fits a small buffer", parse_small_err_buffer, NULL);
    test_add("pool agents names", names_case, NULL);
    test_add("pool agents format and total", format_case, NULL);
    test_add("pool agents path", path_case, NULL);
    test_add("pool agents file", file_case, NULL);
    test_add("pool agents file over 64 KiB", big_file_case, NULL);
    test_add("pool agents executables", executables_case, NULL);
}
