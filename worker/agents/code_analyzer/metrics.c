/* metrics — line kinds come from the lexer, functions and nesting from the blocks; this
 * module counts decision points and applies the quality rules table. */
#include "worker/agents/code_analyzer/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/agents/code_analyzer/scan.h"

static const char *const decision_words[] = {"if",    "elif",   "for",     "while", "case",
                                             "catch", "except", "foreach", NULL};

int metrics_decisions(const struct source *s, size_t from, size_t to)
{
    bool py = lang_family(s->lang) == FAMILY_PYTHON;
    bool ternary = lang_family(s->lang) == FAMILY_C && s->lang != LANG_RUST;
    int n = 0;
    for (size_t i = from; i < to; i++) {
        char c = s->code[i], d = i + 1 < to ? s->code[i + 1] : '\0';
        char p = i > 0 ? s->code[i - 1] : '\0';
        if (scan_is_ident(c) && !scan_is_ident(p)) {
            char w[16];
            size_t e = scan_ident_at(s, i, w, sizeof(w));
            for (const char *const *k = decision_words; *k; k++)
                if (strcmp(w, *k) == 0)
                    n++;
            if (py && (strcmp(w, "and") == 0 || strcmp(w, "or") == 0))
                n++;
            i = e - 1;
        } else if ((c == '&' && d == '&') || (c == '|' && d == '|')) {
            n++;
            i++;
        } else if (c == '?' && ternary && d != '.' && d != '?' && d != ':' && p != '?') {
            n++;
        }
    }
    return n;
}

/* The quality rules: each counts occurrences, costs points per occurrence, capped. */
enum { Q_LONG_FUNCTION, Q_COMPLEXITY, Q_NESTING, Q_COMMENTS, Q_LONG_LINES, Q_LARGE_FILE, Q_COUNT };

static const struct quality_rule {
    const char *rule;
    int each, cap;
    const char *what; /* "%d <what>" */
} quality_rules[Q_COUNT] = {
    [Q_LONG_FUNCTION] = {"long-function", 5, 20, "function(s) longer than 50 lines"},
    [Q_COMPLEXITY] = {"high-complexity", 5, 25, "function(s) with cyclomatic complexity over 10"},
    [Q_NESTING] = {"deep-nesting", 5, 15, "function(s) nested more than 4 levels deep"},
    [Q_COMMENTS] = {"low-comment-ratio", 10, 10,
                    "file(s) of 20+ code lines with fewer than 5% comment lines"},
    [Q_LONG_LINES] = {"long-lines", 1, 10, "line(s) longer than 120 characters"},
    [Q_LARGE_FILE] = {"large-file", 5, 5, "file(s) with more than 1000 code lines"},
};

static int score(struct metrics *m)
{
    int count[Q_COUNT] = {0};
    for (size_t i = 0; i < m->nfns; i++) {
        count[Q_LONG_FUNCTION] += m->fns[i].length > 50;
        count[Q_COMPLEXITY] += m->fns[i].complexity > 10;
        count[Q_NESTING] += m->fns[i].max_nesting > 4;
    }
    count[Q_COMMENTS] = m->code >= 20 && m->comment_ratio < 0.05;
    count[Q_LONG_LINES] = m->long_lines;
    count[Q_LARGE_FILE] = m->code > 1000;
    m->deductions = cJSON_CreateArray();
    if (!m->deductions)
        return -1;
    m->score = 100;
    for (int r = 0; r < Q_COUNT; r++) {
        if (!count[r])
            continue;
        const struct quality_rule *q = &quality_rules[r];
        long pts = (long)count[r] * q->each;
        if (pts > q->cap)
            pts = q->cap;
        m->score -= (int)pts;
        char msg[160];
        snprintf(msg, sizeof(msg), "%d %s: -%ld", count[r], q->what, pts);
        cJSON *d = cJSON_CreateObject();
        if (!d || !cJSON_AddItemToArray(m->deductions, d))
            return cJSON_Delete(d), -1;
        cJSON_AddStringToObject(d, "rule", q->rule);
        cJSON_AddNumberToObject(d, "points", (double)pts);
        cJSON_AddNumberToObject(d, "count", count[r]);
        cJSON_AddStringToObject(d, "message", msg);
    }
    if (m->score < 0)
        m->score = 0;
    return 0;
}

int metrics_compute(const struct source *s, const struct blocks *b, struct metrics *m)
{
    memset(m, 0, sizeof(*m));
    int *owner = NULL;
    m->total = (int)s->nlines;
    for (size_t l = 0; l < s->nlines; l++) {
        unsigned f = s->line_flags[l];
        if (f & LINE_CODE)
            m->code++;
        else if (f & LINE_COMMENT)
            m->comment++;
        else
            m->blank++;
        size_t width = s->line_start[l + 1] - 1 - s->line_start[l];
        m->long_lines += width > METRICS_LONG_LINE;
    }
    m->comment_ratio = m->code + m->comment ? (double)m->comment / (m->code + m->comment) : 0;

    owner = malloc((s->nlines + 1) * sizeof(*owner));
    if (!owner)
        goto fail;
    for (size_t l = 0; l <= s->nlines; l++)
        owner[l] = -1;
    size_t nf = 0;
    for (size_t i = 0; i < b->n; i++)
        nf += b->v[i].kind == BLOCK_FUNCTION;
    m->fns = calloc(nf ? nf : 1, sizeof(*m->fns));
    int *slot = calloc(b->n ? b->n : 1, sizeof(*slot)); /* block index -> fns index */
    if (!m->fns || !slot) {
        free(slot);
        goto fail;
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct block *x = &b->v[i];
        if (x->kind != BLOCK_FUNCTION)
            continue;
        slot[i] = (int)m->nfns;
        m->fns[m->nfns++] =
            (struct function_metrics){x->name, x->start, x->end, x->end - x->start + 1, 1, 0};
        for (int l = x->start; l <= x->end && l <= (int)s->nlines; l++)
            owner[l - 1] = (int)i; /* nested functions come later and take their lines */
    }
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].function >= 0 && b->v[i].depth > m->fns[slot[b->v[i].function]].max_nesting)
            m->fns[slot[b->v[i].function]].max_nesting = b->v[i].depth;
    for (size_t l = 0; l < s->nlines; l++)
        if (owner[l] >= 0 && !(s->line_flags[l] & LINE_PREPROC))
            m->fns[slot[owner[l]]].complexity +=
                metrics_decisions(s, s->line_start[l], s->line_start[l + 1] - 1);
    free(slot);
    long len_sum = 0, cx_sum = 0;
    for (size_t i = 0; i < m->nfns; i++) {
        len_sum += m->fns[i].length;
        cx_sum += m->fns[i].complexity;
        if (m->fns[i].complexity > m->max_complexity)
            m->max_complexity = m->fns[i].complexity;
        if (m->fns[i].max_nesting > m->max_nesting)
            m->max_nesting = m->fns[i].max_nesting;
    }
    if (m->nfns) {
        m->avg_length = (double)len_sum / (double)m->nfns;
        m->avg_complexity = (double)cx_sum / (double)m->nfns;
    }
    if (score(m) < 0)
        goto fail;
    free(owner);
    return 0;
fail:
    free(owner);
    metrics_free(m);
    return -1;
}

void metrics_free(struct metrics *m)
{
    free(m->fns);
    cJSON_Delete(m->deductions);
    m->fns = NULL;
    m->deductions = NULL;
    m->nfns = 0;
}

static double round2(double x) { return (double)(long)(x * 100 + 0.5) / 100; }

cJSON *metrics_to_json(const struct metrics *m, size_t max_functions)
{
    cJSON *r = cJSON_CreateObject(), *lines, *fns, *avg, *q;
    if (!r || !(lines = cJSON_AddObjectToObject(r, "lines")) ||
        !(fns = cJSON_AddArrayToObject(r, "functions")) ||
        !(avg = cJSON_AddObjectToObject(r, "averages")) ||
        !(q = cJSON_AddObjectToObject(r, "quality")))
        goto fail;
    cJSON_AddNumberToObject(lines, "total", m->total);
    cJSON_AddNumberToObject(lines, "code", m->code);
    cJSON_AddNumberToObject(lines, "comment", m->comment);
    cJSON_AddNumberToObject(lines, "blank", m->blank);
    cJSON_AddNumberToObject(r, "commentRatio", round2(m->comment_ratio));
    for (size_t i = 0; i < m->nfns && i < max_functions; i++) {
        const struct function_metrics *f = &m->fns[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(fns, o)) {
            cJSON_Delete(o);
            goto fail;
        }
        cJSON_AddStringToObject(o, "name", f->name);
        cJSON_AddNumberToObject(o, "startLine", f->start);
        cJSON_AddNumberToObject(o, "endLine", f->end);
        cJSON_AddNumberToObject(o, "length", f->length);
        cJSON_AddNumberToObject(o, "complexity", f->complexity);
        cJSON_AddNumberToObject(o, "maxNesting", f->max_nesting);
    }
    cJSON_AddNumberToObject(r, "functionCount", (double)m->nfns);
    cJSON_AddBoolToObject(r, "functionsTruncated", m->nfns > max_functions);
    cJSON_AddNumberToObject(avg, "functionLength", round2(m->avg_length));
    cJSON_AddNumberToObject(avg, "complexity", round2(m->avg_complexity));
    cJSON_AddNumberToObject(r, "maxComplexity", m->max_complexity);
    cJSON_AddNumberToObject(r, "maxNesting", m->max_nesting);
    cJSON_AddNumberToObject(r, "longLines", m->long_lines);
    cJSON_AddNumberToObject(q, "score", m->score);
    cJSON *d = cJSON_Duplicate(m->deductions, true);
    if (!d || !cJSON_AddItemToObject(q, "deductions", d)) {
        cJSON_Delete(d);
        goto fail;
    }
    return r;
fail:
    cJSON_Delete(r);
    return NULL;
}
