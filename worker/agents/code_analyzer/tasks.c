/* tasks — reads {data: {code, language?}} (or code/language at the payload's top level),
 * lexes once, runs one analysis and builds its result. Bad input fails without retry;
 * only running out of memory is worth another attempt. */
#include "worker/agents/code_analyzer/tasks.h"

#include <stdio.h>
#include <string.h>

#include "worker/agents/code_analyzer/blocks.h"
#include "worker/agents/code_analyzer/bugs.h"
#include "worker/agents/code_analyzer/lang.h"
#include "worker/agents/code_analyzer/lexer.h"
#include "worker/agents/code_analyzer/metrics.h"
#include "worker/agents/code_analyzer/optimize.h"

struct code_job {
    struct source *src;
    struct blocks blocks;
    bool given; /* the language came from the payload */
};

static int fail(struct task_outcome *out, bool retryable, const char *msg)
{
    snprintf(out->error, sizeof(out->error), "%s", msg);
    out->retryable = retryable;
    return -1;
}

/* Finds name in payload.data, else at the top level. Sets *where to "data.<name>" or name. */
static const cJSON *field(const cJSON *payload, const char *name, const char **where)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(payload, "data");
    const cJSON *v = cJSON_IsObject(data) ? cJSON_GetObjectItemCaseSensitive(data, name) : NULL;
    if (v && !cJSON_IsNull(v)) {
        *where = strcmp(name, "code") == 0 ? "data.code" : "data.language";
        return v;
    }
    *where = name;
    v = cJSON_GetObjectItemCaseSensitive(payload, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* Reads the payload and lexes the code (and its blocks when want_blocks). */
static int job_open(const cJSON *payload, bool want_blocks, struct code_job *job,
                    struct task_outcome *out)
{
    char msg[256];
    const char *where;
    memset(job, 0, sizeof(*job));
    const cJSON *code = field(payload, "code", &where);
    if (!code)
        return fail(out, false,
                    "data.code is missing: send the source text as payload.data.code (a string)");
    if (!cJSON_IsString(code)) {
        snprintf(msg, sizeof(msg), "%s must be a string", where);
        return fail(out, false, msg);
    }
    size_t len = strlen(code->valuestring);
    if (len > CODE_MAX_BYTES) {
        snprintf(msg, sizeof(msg), "%s is %zu bytes; the limit is %d bytes", where, len,
                 CODE_MAX_BYTES);
        return fail(out, false, msg);
    }
    enum lang lang;
    const cJSON *lv = field(payload, "language", &where);
    if (lv) {
        int l = cJSON_IsString(lv) ? lang_from_name(lv->valuestring) : -1;
        if (l < 0) {
            snprintf(msg, sizeof(msg), "%s must be one of: %s", where, lang_known_names());
            return fail(out, false, msg);
        }
        lang = (enum lang)l;
        job->given = true;
    } else {
        lang = lang_detect(code->valuestring, len);
    }
    job->src = source_lex(code->valuestring, len, lang);
    if (!job->src || (want_blocks && blocks_find(job->src, &job->blocks) < 0))
        return fail(out, true, "out of memory while reading the code");
    return 0;
}

static void job_close(struct code_job *job)
{
    blocks_free(&job->blocks);
    source_free(job->src);
}

static cJSON *result_base(const struct code_job *job)
{
    cJSON *r = cJSON_CreateObject();
    if (r) {
        cJSON_AddStringToObject(r, "language", lang_name(job->src->lang));
        cJSON_AddStringToObject(r, "languageSource", job->given ? "given" : "detected");
    }
    return r;
}

static int finish(cJSON *r, struct task_outcome *out)
{
    if (!r || !cJSON_GetObjectItemCaseSensitive(r, "summary"))
        return cJSON_Delete(r), fail(out, true, "out of memory while building the result");
    out->result = r;
    return 0;
}

#define REVIEW_MAX 4000

static const char review_system[] =
    "You are a senior code reviewer. Given static metrics of one source file, write a short "
    "review (at most 5 sentences): what the numbers say about its maintainability and the one "
    "or two things to improve first. No preamble.";

/* With an LLM configured, adds "review" (its short review of the metrics) to r, or "review":
 * null and "reviewError" when the call failed; without one, leaves r as it is. The job never
 * fails because of it. */
static void add_review(const struct task_ctx *ctx, cJSON *r, const char *summary)
{
    if (!task_llm_enabled(ctx))
        return;
    char prompt[2048], text[REVIEW_MAX];
    const cJSON *fns = cJSON_GetObjectItemCaseSensitive(r, "functions");
    size_t o = (size_t)snprintf(prompt, sizeof(prompt), "Metrics: %s.\n", summary);
    int listed = 0;
    const cJSON *fn;
    cJSON_ArrayForEach(fn, fns)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        const cJSON *cc = cJSON_GetObjectItemCaseSensitive(fn, "complexity");
        if (listed >= 10 || o >= sizeof(prompt) || !cJSON_IsString(name) || !cJSON_IsNumber(cc))
            continue;
        o += (size_t)snprintf(prompt + o, sizeof(prompt) - o, "Function %s: complexity %d\n",
                              name->valuestring, cc->valueint);
        listed++;
    }
    if (task_llm(ctx, review_system, prompt, text, sizeof(text)) == 0) {
        cJSON_AddStringToObject(r, "review", text);
    } else {
        cJSON_AddNullToObject(r, "review");
        cJSON_AddStringToObject(r, "reviewError", text);
    }
}

int code_analyze_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct code_job job;
    struct metrics m;
    cJSON *r = NULL;
    if (job_open(payload, true, &job, out) < 0)
        return job_close(&job), -1;
    if (metrics_compute(job.src, &job.blocks, &m) < 0) {
        job_close(&job);
        return fail(out, true, "out of memory while measuring the code");
    }
    cJSON *body = metrics_to_json(&m, CODE_MAX_ITEMS);
    r = result_base(&job);
    if (r && body) {
        for (cJSON *it = body->child; it; it = it->next)
            cJSON_AddItemToObject(r, it->string, cJSON_Duplicate(it, true));
        char sum[320];
        snprintf(sum, sizeof(sum),
                 "%s, %d lines (%d code, %d comment, %d blank), %zu function%s, average complexity "
                 "%.1f, max nesting %d, quality %d/100",
                 lang_name(job.src->lang), m.total, m.code, m.comment, m.blank, m.nfns,
                 m.nfns == 1 ? "" : "s", m.avg_complexity, m.max_nesting, m.score);
        cJSON_AddStringToObject(r, "summary", sum);
        add_review(ctx, r, sum);
    }
    cJSON_Delete(body);
    metrics_free(&m);
    job_close(&job);
    return finish(r, out);
}

static const char *const severities[] = {"critical", "high", "medium", "low"};

/* The shared tail of detect_bugs and suggest_optimizations. */
static cJSON *findings_result(const struct code_job *job, const struct findings *f,
                              const char *list, const char *sev_key, const char *noun)
{
    cJSON *r = result_base(job), *counts;
    cJSON *items = findings_to_json(f, sev_key, CODE_MAX_ITEMS);
    if (!r || !items || !cJSON_AddItemToObject(r, list, items) ||
        !(counts = cJSON_AddObjectToObject(r, "counts"))) {
        if (!r || !cJSON_GetObjectItemCaseSensitive(r, list))
            cJSON_Delete(items);
        cJSON_Delete(r);
        return NULL;
    }
    char sum[320];
    size_t o = (size_t)snprintf(sum, sizeof(sum), "%zu %s%s in %s code", f->n, noun,
                                f->n == 1 ? "" : "s", lang_name(job->src->lang));
    const char *sep = ": ";
    for (size_t i = 0; i < 4; i++) {
        size_t n = findings_count(f, severities[i]);
        cJSON_AddNumberToObject(counts, severities[i], (double)n);
        if (n && o < sizeof(sum)) {
            o += (size_t)snprintf(sum + o, sizeof(sum) - o, "%s%zu %s", sep, n, severities[i]);
            sep = ", ";
        }
    }
    cJSON_AddNumberToObject(r, "total", (double)f->n);
    cJSON_AddBoolToObject(r, "truncated", f->n > CODE_MAX_ITEMS);
    cJSON_AddStringToObject(r, "summary", sum);
    return r;
}

int code_detect_bugs_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct code_job job;
    struct findings f = {0};
    if (job_open(payload, false, &job, out) < 0)
        return job_close(&job), -1;
    bugs_detect(job.src, &f);
    cJSON *r = f.oom ? NULL : findings_result(&job, &f, "findings", "severity", "finding");
    findings_free(&f);
    job_close(&job);
    return finish(r, out);
}

int code_suggest_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct code_job job;
    struct findings f = {0};
    if (job_open(payload, true, &job, out) < 0)
        return job_close(&job), -1;
    optimize_suggest(job.src, &job.blocks, &f);
    cJSON *r = f.oom ? NULL : findings_result(&job, &f, "suggestions", "impact", "suggestion");
    findings_free(&f);
    job_close(&job);
    return finish(r, out);
}
