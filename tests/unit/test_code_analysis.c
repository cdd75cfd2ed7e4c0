/* Unit tests for the code_analyzer pipeline: the lexer's code-only view and line kinds,
 * language detection, metrics on snippets with hand-computed answers, the task handlers'
 * input errors and result shapes, and a random-bytes fuzz of lexer + blocks + rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/harness.h"
#include "worker/agents/code_analyzer/blocks.h"
#include "worker/agents/code_analyzer/bugs.h"
#include "worker/agents/code_analyzer/lang.h"
#include "worker/agents/code_analyzer/lexer.h"
#include "worker/agents/code_analyzer/metrics.h"
#include "worker/agents/code_analyzer/optimize.h"
#include "worker/agents/code_analyzer/tasks.h"

/* --- lexer --------------------------------------------------------------------------------- */

struct lex_row {
    const char *lang, *src, *view;
    int code, comment, blank;
};

static const struct lex_row lex_rows[] = {
    {"python", "x = 1  # eval(x)\n", "x = 1           \n", 1, 0, 0},
    {"python", "s = f'{a}' + \"b#c\"\n", "s = f'   ' + \"   \"\n", 1, 0, 0},
    {"python", "def f():\n    \"\"\"doc\n    eval\"\"\"\n\n    return 1\n",
     "def f():\n          \n           \n\n    return 1\n", 2, 2, 1},
    {"c", "a = b; /* x\n y */ c = 'x';\n", "a = b;     \n      c = ' ';\n", 2, 0, 0},
    {"c", "// only\n\nint x = \"//\";\n", "       \n\nint x = \"  \";\n", 1, 1, 1},
    {"javascript", "let r = /a\"b/; s = `x${y}`;\n", "let r = /   /; s = `     `;\n", 1, 0, 0},
    {"rust", "fn f<'a>(x: &'a str) -> char { 'x' }\n", "fn f<'a>(x: &'a str) -> char { ' ' }\n", 1,
     0, 0},
    {"shell", "echo \"a # b\" # note\n", "echo \"     \"       \n", 1, 0, 0},
    {"c", "unterminated \"string\nnext", "unterminated \"      \nnext", 2, 0, 0},
};

static void lex_case(const void *arg)
{
    const struct lex_row *row = arg;
    struct source *s = source_lex(row->src, strlen(row->src), (enum lang)lang_from_name(row->lang));
    REQUIRE(s != NULL);
    CHECK_STR(s->code, row->view);
    int code = 0, comment = 0, blank = 0;
    for (size_t l = 0; l < s->nlines; l++) {
        if (s->line_flags[l] & LINE_CODE)
            code++;
        else if (s->line_flags[l] & LINE_COMMENT)
            comment++;
        else
            blank++;
    }
    CHECK_LONG(code, row->code);
    CHECK_LONG(comment, row->comment);
    CHECK_LONG(blank, row->blank);
    source_free(s);
}

/* --- language detection ------------------------------------------------------------------- */

struct detect_row {
    const char *src, *want;
};

static const struct detect_row detect_rows[] = {
    {"def hello(): print(\"Hello, World!\")", "python"},
    {"import os\n\ndef f(x):\n    if x:\n        return None\n    elif y:\n        pass\n",
     "python"},
    {"#!/usr/bin/env python3\nx = 1\n", "python"},
    {"const x = require('x');\nfunction f(a) { return a === 1; }\nconsole.log(f(1));\n",
     "javascript"},
    {"interface P { name: string; age: number }\nconst f = (p: P): string => p.name;\n",
     "typescript"},
    {"#include <stdio.h>\nint main(void) { char *p = malloc(3); printf(\"x\"); return 0; }\n", "c"},
    {"#include <iostream>\nint main() { std::cout << 1; }\n", "c++"},
    {"package main\n\nimport \"fmt\"\n\nfunc main() {\n\tx := 1\n\tfmt.Println(x)\n}\n", "go"},
    {"use std::io;\nfn main() { let mut x = 1; println!(\"{}\", x); }\n", "rust"},
    {"public class A { public static void main(String[] a) { System.out.println(1); } }\n", "java"},
    {"#!/bin/bash\nfor f in *; do echo $f; done\n", "shell"},
    {"if [ -f x ]; then\n  echo yes\nfi\n", "shell"},
    {"", "unknown"},
    {"hello world", "unknown"},
};

static void detect_case(const void *arg)
{
    const struct detect_row *row = arg;
    CHECK_STR(lang_name(lang_detect(row->src, strlen(row->src))), row->want);
}

/* --- metrics ------------------------------------------------------------------------------- */

struct fn_want {
    const char *name;
    int start, end, complexity, nesting;
};

struct metrics_row {
    const char *title, *lang, *src;
    int total, code, comment, blank;
    struct fn_want fns[4];
};

static const struct metrics_row metrics_rows[] = {
    {"python nested",
     "python",
     "# top\n"
     "def f(a, b):\n"         /* 2 */
     "    if a and b:\n"      /* if, and: +2 */
     "        for x in a:\n"  /* +1 */
     "            while x:\n" /* +1 */
     "                x -= 1\n"
     "    elif b:\n" /* +1 */
     "        pass\n"
     "\n"
     "    return [y for y in b if y]\n" /* for, if: +2 */
     "\n"
     "def g():\n" /* 12 */
     "    return 1\n",
     13,
     10,
     1,
     2,
     {{"f", 2, 10, 8, 3}, {"g", 12, 13, 1, 0}}},
    {"python nested def",
     "python",
     "def outer(x):\n"
     "    def inner(y):\n"
     "        if y:\n"
     "            return 1\n"
     "    if x or x:\n"
     "        return inner(x)\n",
     6,
     6,
     0,
     0,
     {{"outer", 1, 6, 3, 1}, {"inner", 2, 4, 2, 1}}},
    {"c switch",
     "c",
     "/* add */\n"
     "static int add(int a, int b)\n" /* 2 */
     "{\n"
     "    switch (a) {\n"                       /* branch depth 1 */
     "    case 1:\n"                            /* +1 */
     "    case 2:\n"                            /* +1 */
     "        return a > 0 && b > 0 ? 1 : 0;\n" /* && ?: +2 */
     "    }\n"
     "    for (int i = 0; i < b; i++) {\n" /* +1, depth 1 */
     "        if (i == a) {\n"             /* +1, depth 2 */
     "            while (i) i--;\n"        /* +1, depth 3 (brace-less) */
     "        }\n"
     "    }\n"
     "    return b;\n"
     "}\n",
     15,
     14,
     1,
     0,
     {{"add", 2, 15, 8, 3}}},
    {"js arrow and function",
     "javascript",
     "function a(x) {\n"
     "  return x || 1;\n"
     "}\n"
     "const b = (y) => {\n"
     "  if (y) { return 1; } else if (!y) { return 2; }\n"
     "  return { k: 1 };\n"
     "};\n",
     7,
     7,
     0,
     0,
     {{"a", 1, 3, 2, 0}, {"b", 4, 7, 3, 1}}},
    {"go method",
     "go",
     "package main\n"
     "func (s *S) Run(n int) error {\n"
     "\tfor i := 0; i < n; i++ {\n"
     "\t\tif i > 2 {\n"
     "\t\t\treturn nil\n"
     "\t\t}\n"
     "\t}\n"
     "\treturn nil\n"
     "}\n",
     9,
     9,
     0,
     0,
     {{"Run", 2, 9, 3, 2}}},
    {"empty", "c", "", 0, 0, 0, 0, {{NULL, 0, 0, 0, 0}}},
};

static void metrics_case(const void *arg)
{
    const struct metrics_row *row = arg;
    struct source *s = source_lex(row->src, strlen(row->src), (enum lang)lang_from_name(row->lang));
    struct blocks b = {0};
    struct metrics m;
    REQUIRE(s != NULL);
    if (!CHECK(blocks_find(s, &b) == 0) || !CHECK(metrics_compute(s, &b, &m) == 0))
        goto done;
    CHECK_LONG(m.total, row->total);
    CHECK_LONG(m.code, row->code);
    CHECK_LONG(m.comment, row->comment);
    CHECK_LONG(m.blank, row->blank);
    size_t want_n = 0;
    while (want_n < 4 && row->fns[want_n].name)
        want_n++;
    CHECK_LONG(m.nfns, want_n);
    for (size_t i = 0; i < want_n && i < m.nfns; i++) {
        const struct fn_want *w = &row->fns[i];
        CHECK_STR(m.fns[i].name, w->name);
        CHECK_LONG(m.fns[i].start, w->start);
        CHECK_LONG(m.fns[i].end, w->end);
        CHECK_LONG(m.fns[i].complexity, w->complexity);
        CHECK_LONG(m.fns[i].max_nesting, w->nesting);
    }
    CHECK(m.score >= 0 && m.score <= 100);
    metrics_free(&m);
done:
    blocks_free(&b);
    source_free(s);
}

/* A long, deeply nested, complex, uncommented function loses points under named rules. */
static void quality_case(const void *arg)
{
    (void)arg;
    char src[8192];
    size_t o = (size_t)snprintf(src, sizeof(src), "def big(a):\n");
    for (int i = 0; i < 6; i++)
        o += (size_t)snprintf(src + o, sizeof(src) - o, "%*sif a > %d:\n", 4 * (i + 1), "", i);
    for (int i = 0; i < 60; i++)
        o += (size_t)snprintf(src + o, sizeof(src) - o, "%*sa = a + %d\n", 28, "", i);
    struct source *s = source_lex(src, o, LANG_PYTHON);
    struct blocks b = {0};
    struct metrics m;
    REQUIRE(s != NULL);
    if (CHECK(blocks_find(s, &b) == 0) && CHECK(metrics_compute(s, &b, &m) == 0)) {
        CHECK_LONG(m.nfns, 1);
        CHECK_LONG(m.fns[0].max_nesting, 6);
        CHECK_LONG(m.fns[0].complexity, 7);
        char *d = cJSON_PrintUnformatted(m.deductions);
        CHECK_CONTAINS(d, "\"rule\":\"long-function\",\"points\":5");
        CHECK_CONTAINS(d, "\"rule\":\"deep-nesting\",\"points\":5");
        CHECK_CONTAINS(d, "\"rule\":\"low-comment-ratio\",\"points\":10");
        CHECK_LACKS(d, "high-complexity");
        CHECK_LONG(m.score, 80);
        free(d);
        metrics_free(&m);
    }
    blocks_free(&b);
    source_free(s);
}

/* --- task handlers ------------------------------------------------------------------------- */

struct input_row {
    const char *task, *payload;
    const char *error;  /* a substring of the error; NULL: success */
    const char *result; /* substrings of the result, ';'-separated */
};

static const struct input_row input_rows[] = {
    {"analyze_code", "{\"taskType\":\"analyze_code\"}", "data.code is missing", NULL},
    {"analyze_code", "{\"data\":{\"code\":42}}", "data.code must be a string", NULL},
    {"detect_bugs", "{\"code\":[1]}", "code must be a string", NULL},
    {"detect_bugs", "{\"data\":{\"code\":\"x\",\"language\":\"cobol\"}}",
     "data.language must be one of", NULL},
    {"suggest_optimizations", "{\"data\":{\"code\":\"x\",\"language\":7}}", "data.language", NULL},
    {"analyze_code", "{\"data\":{\"code\":\"def hello(): print(\\\"Hello, World!\\\")\"}}", NULL,
     "\"language\":\"python\";\"languageSource\":\"detected\";\"name\":\"hello\";\"summary\":\"python, 1 "
     "lines"},
    {"analyze_code",
     "{\"taskType\":\"analyze_code\",\"code\":\"def process_data(data): return data\"}", NULL,
     "\"functionCount\":1;\"quality\":{\"score\":100"},
    {"detect_bugs", "{\"data\":{\"code\":\"gets(b);\",\"language\":\"c\"}}", NULL,
     "\"rule\":\"c.gets\";\"severity\":\"critical\";\"languageSource\":\"given\";\"critical\":1"},
    {"suggest_optimizations", "{\"data\":{\"code\":\"\",\"language\":\"py\"}}", NULL,
     "\"suggestions\":[];\"total\":0;\"summary\":\"0 suggestions in python code\""},
};

static void input_case(const void *arg)
{
    const struct input_row *row = arg;
    cJSON *p = cJSON_Parse(row->payload);
    REQUIRE(p != NULL);
    volatile bool stop = false;
    struct task_ctx ctx = {"code_analyzer", "test:1", 1, 1, &stop, NULL};
    struct task_outcome out = {.result = NULL, .error = "", .retryable = true};
    task_fn fn = strcmp(row->task, "analyze_code") == 0  ? code_analyze_run
                 : strcmp(row->task, "detect_bugs") == 0 ? code_detect_bugs_run
                                                         : code_suggest_run;
    int rc = fn(&ctx, p, &out);
    if (row->error) {
        CHECK_LONG(rc, -1);
        CHECK(!out.retryable);
        CHECK(out.result == NULL);
        CHECK_CONTAINS(out.error, row->error);
    } else if (CHECK_LONG(rc, 0) && CHECK(out.result != NULL)) {
        char *r = cJSON_PrintUnformatted(out.result);
        char want[512];
        snprintf(want, sizeof(want), "%s", row->result);
        char *save = NULL;
        for (char *w = strtok_r(want, ";", &save); w; w = strtok_r(NULL, ";", &save))
            CHECK_CONTAINS(r, w);
        free(r);
    }
    cJSON_Delete(out.result);
    cJSON_Delete(p);
}

static void oversized_case(const void *arg)
{
    (void)arg;
    size_t n = CODE_MAX_BYTES + 1;
    char *big = malloc(n + 1);
    REQUIRE(big != NULL);
    memset(big, 'x', n);
    big[n] = '\0';
    cJSON *p = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(p, "data");
    cJSON_AddStringToObject(d, "code", big);
    free(big);
    volatile bool stop = false;
    struct task_ctx ctx = {"code_analyzer", "test:1", 1, 1, &stop, NULL};
    struct task_outcome out = {.result = NULL, .error = "", .retryable = true};
    CHECK_LONG(code_analyze_run(&ctx, p, &out), -1);
    CHECK(!out.retryable);
    CHECK_CONTAINS(out.error, "data.code is 1048577 bytes; the limit is 1048576");
    cJSON_Delete(p);
}

/* --- fuzz ---------------------------------------------------------------------------------- */

/* Random bytes (biased towards syntax characters) through every language: no crash, no
 * sanitizer report, and each input finishes quickly. */
static void fuzz_case(const void *arg)
{
    (void)arg;
    static const char alphabet[] = "\"'`/*#\\\n {}()[];:=+<>!?&|rfbx$ifordefwhile0";
    unsigned seed = 12345;
    char buf[2048];
    double worst = 0;
    for (int round = 0; round < 600; round++) {
        size_t n = (size_t)(rand_r(&seed) % (int)sizeof(buf));
        for (size_t i = 0; i < n; i++)
            buf[i] = rand_r(&seed) % 3 ? alphabet[rand_r(&seed) % (int)(sizeof(alphabet) - 1)]
                                       : (char)(rand_r(&seed) & 0xff);
        enum lang l = (enum lang)(round % LANG_COUNT);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct source *s = source_lex(buf, n, l);
        REQUIRE(s != NULL);
        CHECK(strlen(s->code) == n || memchr(buf, '\0', n) != NULL);
        struct blocks b = {0};
        struct findings f = {0}, g = {0};
        struct metrics m;
        if (CHECK(blocks_find(s, &b) == 0)) {
            bugs_detect(s, &f);
            optimize_suggest(s, &b, &g);
            if (CHECK(metrics_compute(s, &b, &m) == 0))
                metrics_free(&m);
            for (size_t i = 0; i < f.n; i++)
                CHECK(f.v[i].line >= 1 && (size_t)f.v[i].line <= s->nlines + 1);
        }
        findings_free(&f);
        findings_free(&g);
        blocks_free(&b);
        source_free(s);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (dt > worst)
            worst = dt;
    }
    CHECK(worst < 0.5);
}

void register_code_analysis_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(lex_rows); i++)
        test_addf(lex_case, &lex_rows[i], "code lexer %s row %zu", lex_rows[i].lang, i);
    for (size_t i = 0; i < COUNT_OF(detect_rows); i++)
        test_addf(detect_case, &detect_rows[i], "code detect %s row %zu", detect_rows[i].want, i);
    for (size_t i = 0; i < COUNT_OF(metrics_rows); i++)
        test_addf(metrics_case, &metrics_rows[i], "code metrics %s", metrics_rows[i].title);
    test_add("code quality deductions", quality_case, NULL);
    for (size_t i = 0; i < COUNT_OF(input_rows); i++)
        test_addf(input_case, &input_rows[i], "code task %s row %zu", input_rows[i].task, i);
    test_add("code task oversized input", oversized_case, NULL);
    test_add("code lexer fuzz", fuzz_case, NULL);
}
