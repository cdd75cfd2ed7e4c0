/* findings — the list detect_bugs and suggest_optimizations fill: one entry per (line, rule)
 * with a severity, a message and (for suggestions) a fix; sorted by line, then rule. */
#ifndef FLOWSTATE_CA_FINDINGS_H
#define FLOWSTATE_CA_FINDINGS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct finding {
    int line;
    const char *rule;       /* static */
    const char *severity;   /* static: "low", "medium", "high", "critical" */
    const char *message;    /* static */
    const char *suggestion; /* static, or NULL */
};

struct findings {
    struct finding *v;
    size_t n, cap;
    bool oom; /* an add failed: the list is incomplete */
};

void findings_add(struct findings *f, int line, const char *rule, const char *severity,
                  const char *message, const char *suggestion);
/* Sorts by line then rule and drops repeats of the same rule on the same line. */
void findings_finish(struct findings *f);
void findings_free(struct findings *f);
/* Number of findings with this severity. */
size_t findings_count(const struct findings *f, const char *severity);
/* A JSON array of at most max entries: {line, rule, <severity_key>, message[, suggestion]}.
 * NULL when out of memory. */
cJSON *findings_to_json(const struct findings *f, const char *severity_key, size_t max);

#endif
