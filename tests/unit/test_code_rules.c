/* Unit tests for the code_analyzer rule tables against the fixtures in tests/fixtures/code/:
 * every line of a fixture marked "bug: <rule> ..." (or "opt: <rule> ...") must be reported
 * with exactly those rules, and nothing else may be; the clean fixtures yield nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "worker/agents/code_analyzer/blocks.h"
#include "worker/agents/code_analyzer/bugs.h"
#include "worker/agents/code_analyzer/lang.h"
#include "worker/agents/code_analyzer/lexer.h"
#include "worker/agents/code_analyzer/optimize.h"

struct fixture_row {
    const char *file;
    const char *lang;   /* NULL: detected */
    const char *marker; /* "bug:" or "opt:" */
};

static const struct fixture_row rows[] = {
    {"bugs.py", "python", "bug:"},      {"bugs_more.py", "python", "bug:"},
    {"clean.py", NULL, "bug:"},         {"bugs.js", "javascript", "bug:"},
    {"clean.js", "javascript", "bug:"}, {"bugs.c", "c", "bug:"},
    {"clean.c", NULL, "bug:"},          {"opt.py", NULL, "opt:"},
    {"opt.js", "javascript", "opt:"},   {"opt.c", "c", "opt:"},
    {"clean.py", "python", "opt:"},     {"clean.c", "c", "opt:"},
    {"bugs.py", "python", "opt:"},
};

/* Reads tests/fixtures/code/<name> (from the repository root); NULL when missing. */
static char *read_fixture(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "tests/fixtures/code/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 16);
    *len = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    if (buf)
        buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* "line:rule" entries, one per expected finding, newline-separated, in line then rule
 * order (rules on one line are listed sorted in the fixture). */
static void expected(const char *text, const char *marker, char *out, size_t len)
{
    size_t o = 0;
    int line = 1;
    out[0] = '\0';
    for (const char *p = text; *p; line++) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char buf[512];
        snprintf(buf, sizeof(buf), "%.*s", (int)n, p);
        char *m = strstr(buf, marker);
        if (m) {
            char *save = NULL;
            for (char *tok = strtok_r(m + strlen(marker), " ,*/", &save); tok;
                 tok = strtok_r(NULL, " ,*/", &save))
                o += (size_t)snprintf(out + o, len - o, "%d:%s\n", line, tok);
        }
        p = nl ? nl + 1 : p + n;
    }
}

static void fixture_case(const void *arg)
{
    const struct fixture_row *row = arg;
    size_t len = 0;
    char *text = read_fixture(row->file, &len);
    REQUIRE(text != NULL);
    enum lang lang = row->lang ? (enum lang)lang_from_name(row->lang) : lang_detect(text, len);
    struct source *s = source_lex(text, len, lang);
    struct blocks b = {0};
    struct findings f = {0};
    if (!CHECK(s != NULL) || !CHECK(blocks_find(s, &b) == 0))
        goto done;
    if (strcmp(row->marker, "bug:") == 0)
        bugs_detect(s, &f);
    else
        optimize_suggest(s, &b, &f);
    char want[4096], got[4096];
    size_t o = 0;
    expected(text, row->marker, want, sizeof(want));
    got[0] = '\0';
    for (size_t i = 0; i < f.n; i++)
        o += (size_t)snprintf(got + o, sizeof(got) - o, "%d:%s\n", f.v[i].line, f.v[i].rule);
    CHECK_STR(got, want);
done:
    findings_free(&f);
    blocks_free(&b);
    source_free(s);
    free(text);
}

/* Every rule id is unique, prefixed by its language and has a known severity. */
static void rule_table_case(const void *arg)
{
    (void)arg;
    static const char *const sev = " low medium high critical ";
    for (size_t i = 0; i < bugs_count(); i++) {
        char w[32];
        snprintf(w, sizeof(w), " %s ", bugs_rule_severity(i));
        CHECK(strstr(sev, w) != NULL);
        CHECK(strchr(bugs_rule_id(i), '.') != NULL);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(bugs_rule_id(i), bugs_rule_id(j)) != 0);
    }
    for (size_t i = 0; i < optimize_count(); i++) {
        char w[32];
        snprintf(w, sizeof(w), " %s ", optimize_rule_impact(i));
        CHECK(strstr(sev, w) != NULL);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(optimize_rule_id(i), optimize_rule_id(j)) != 0);
    }
}

void register_code_rules_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(rows); i++)
        test_addf(fixture_case, &rows[i], "code fixture %s %s", rows[i].file,
                  rows[i].marker[0] == 'b' ? "detect_bugs" : "suggest_optimizations");
    test_add("code rule tables: unique ids, known severities", rule_table_case, NULL);
}
