/* metrics — what analyze_code measures: line counts, comment ratio, functions (lines,
 * cyclomatic complexity, nesting), averages and a 0-100 quality score whose every deduction
 * names its rule and amount. */
#ifndef FLOWSTATE_CA_METRICS_H
#define FLOWSTATE_CA_METRICS_H

#include <cjson/cJSON.h>

#include "worker/agents/code_analyzer/blocks.h"
#include "worker/agents/code_analyzer/lexer.h"

struct function_metrics {
    const char *name; /* points into the blocks */
    int start, end, length;
    int complexity; /* 1 + decision points on its own lines (nested functions count apart) */
    int max_nesting;
};

struct metrics {
    int total, code, comment, blank;
    double comment_ratio; /* comment / (code + comment), 0 when both are 0 */
    int long_lines;       /* lines over METRICS_LONG_LINE bytes */
    struct function_metrics *fns;
    size_t nfns;
    double avg_length, avg_complexity;
    int max_complexity, max_nesting;
    int score;
    cJSON *deductions; /* [{rule, points, count, message}] */
};

#define METRICS_LONG_LINE 120

/* Measures s (with its blocks b) into m. Returns 0, or -1 when out of memory. Release with
 * metrics_free. */
int metrics_compute(const struct source *s, const struct blocks *b, struct metrics *m)
    __attribute__((warn_unused_result));
void metrics_free(struct metrics *m);

/* Decision points on the code-view range [from, to) for cyclomatic complexity. */
int metrics_decisions(const struct source *s, size_t from, size_t to);

/* The analyze_code result object (functions capped at max_functions). NULL when out of
 * memory. */
cJSON *metrics_to_json(const struct metrics *m, size_t max_functions);

#endif
