/* code_lexer — the code analyzer's lexer and the analyses on its view: the input's first byte
 * picks a language (or detection), the rest is the source. source_lex runs on the raw bytes
 * (NULs too), then analyze_code, detect_bugs and suggest_optimizations on a payload holding
 * the source as a string (cut at a NUL, as JSON text would be).
 *
 * Checks the lexer's promises (lexer.h): the view is as long as the text, keeps every newline
 * where it was and changes bytes only to spaces; lines and string literals are in order and
 * inside the text; source_line_of agrees with the line starts. Each task succeeds with a
 * result (or fails with a message only when the source is too large). */
#include "tests/fuzz/fuzz.h"

#include "worker/agents/code_analyzer/lexer.h"
#include "worker/agents/code_analyzer/tasks.h"

static void check_lex(const char *text, size_t len, enum lang lang)
{
    struct source *s = source_lex(text, len, lang);
    FUZZ_CHECK(s != NULL, "out of memory");
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK(s->code[i] == text[i] ? text[i] != '\0' : s->code[i] == ' ' && text[i] != '\n',
                   "byte %zu: %#x became %#x", i, (unsigned char)text[i],
                   (unsigned char)s->code[i]);
    FUZZ_CHECK(s->code[len] == '\0', "the view is not NUL-terminated");
    FUZZ_CHECK((s->nlines ? s->line_start[0] == 0 : len == 0) &&
                   s->line_start[s->nlines] == len + 1,
               "line starts");
    for (size_t l = 1; l <= s->nlines; l++) {
        FUZZ_CHECK(s->line_start[l] > s->line_start[l - 1], "line %zu starts before %zu", l + 1, l);
        if (l < s->nlines)
            FUZZ_CHECK(text[s->line_start[l] - 1] == '\n', "line %zu follows no newline", l + 1);
        FUZZ_CHECK(source_line_of(s, s->line_start[l - 1]) == (int)l, "source_line_of");
    }
    for (size_t k = 0; k < s->nstrs; k++) {
        const struct code_string *str = &s->strs[k];
        FUZZ_CHECK(str->off <= str->body && str->body <= str->body_end &&
                       str->body_end <= str->end && str->end <= len,
                   "string %zu spans [%zu %zu %zu %zu)", k, str->off, str->body, str->body_end,
                   str->end);
        FUZZ_CHECK(k == 0 || str->off >= s->strs[k - 1].end, "strings %zu and %zu overlap", k - 1,
                   k);
        FUZZ_CHECK(source_string_at(s, str->off) == str, "source_string_at");
    }
    source_free(s);
}

static void check_tasks(const char *code, enum lang lang)
{
    static const task_fn tasks[] = {code_analyze_run, code_detect_bugs_run, code_suggest_run};
    static const volatile bool stop = false;
    struct task_ctx ctx = {"code_analyzer", "fuzz:1", 1, 1, &stop, NULL};
    cJSON *payload = cJSON_CreateObject();
    if (!payload || !cJSON_AddStringToObject(payload, "code", code) ||
        (lang != LANG_COUNT && lang != LANG_UNKNOWN &&
         !cJSON_AddStringToObject(payload, "language", lang_name(lang))))
        abort();
    for (size_t k = 0; k < sizeof(tasks) / sizeof(tasks[0]); k++) {
        struct task_outcome out = {0};
        int rc = tasks[k](&ctx, payload, &out);
        FUZZ_CHECK((rc == 0) == (out.result != NULL), "task %zu: rc %d (%s)", k, rc, out.error);
        FUZZ_CHECK(rc == 0 || strlen(code) > CODE_MAX_BYTES, "task %zu failed: %s", k, out.error);
        cJSON_Delete(out.result);
    }
    cJSON_Delete(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* LANG_COUNT: detected here; LANG_UNKNOWN: lexed like C, and the tasks detect */
    enum lang lang = (enum lang)(fuzz_byte(&data, &size) % (LANG_COUNT + 1));
    char *text = fuzz_cstring(data, size);
    check_lex(text, size, lang == LANG_COUNT ? lang_detect(text, size) : lang);
    check_tasks(text, lang);
    free(text);
    return 0;
}
