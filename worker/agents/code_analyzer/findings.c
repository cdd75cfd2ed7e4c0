/* findings — a growable list of rule hits, sorted and de-duplicated before it is shown. */
#include "worker/agents/code_analyzer/findings.h"

#include <stdlib.h>
#include <string.h>

void findings_add(struct findings *f, int line, const char *rule, const char *severity,
                  const char *message, const char *suggestion)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct finding *v = realloc(f->v, cap * sizeof(*v));
        if (!v) {
            f->oom = true;
            return;
        }
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (struct finding){line, rule, severity, message, suggestion};
}

static int by_line_rule(const void *a, const void *b)
{
    const struct finding *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return strcmp(x->rule, y->rule);
}

void findings_finish(struct findings *f)
{
    if (f->n == 0)
        return;
    qsort(f->v, f->n, sizeof(*f->v), by_line_rule);
    size_t o = 1;
    for (size_t i = 1; i < f->n; i++)
        if (by_line_rule(&f->v[i], &f->v[o - 1]) != 0)
            f->v[o++] = f->v[i];
    f->n = o;
}

void findings_free(struct findings *f)
{
    free(f->v);
    f->v = NULL;
    f->n = f->cap = 0;
}

size_t findings_count(const struct findings *f, const char *severity)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += strcmp(f->v[i].severity, severity) == 0;
    return n;
}

cJSON *findings_to_json(const struct findings *f, const char *severity_key, size_t max)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < f->n && i < max; i++) {
        const struct finding *x = &f->v[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddNumberToObject(o, "line", x->line);
        cJSON_AddStringToObject(o, "rule", x->rule);
        cJSON_AddStringToObject(o, severity_key, x->severity);
        cJSON_AddStringToObject(o, "message", x->message);
        if (x->suggestion)
            cJSON_AddStringToObject(o, "suggestion", x->suggestion);
    }
    return a;
}
