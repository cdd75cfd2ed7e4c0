/* lexer — turns source text into a "code-only" view shared by every analysis: comments and
 * the contents of string literals are blanked to spaces (quotes and prefixes stay, newlines
 * stay), so byte offsets and line numbers match the original. It also records each line's
 * kind (code, comment, blank) and every string literal's span. One pass, linear time, any
 * bytes accepted. */
#ifndef FLOWSTATE_CA_LEXER_H
#define FLOWSTATE_CA_LEXER_H

#include <stdbool.h>
#include <stddef.h>

#include "worker/agents/code_analyzer/lang.h"

enum {
    LINE_CODE = 1,    /* some code or string on the line */
    LINE_COMMENT = 2, /* some comment (or docstring) text on the line */
    LINE_PREPROC = 4, /* a C preprocessor line */
};

enum {
    STR_FORMAT = 1, /* interpolating: an f-string or a JS template with ${ } */
    STR_TRIPLE = 2, /* Python triple-quoted */
};

struct code_string {
    size_t off, end;       /* the whole literal, prefix and quotes included: [off, end) */
    size_t body, body_end; /* its contents */
    unsigned flags;
};

struct source {
    enum lang lang;
    const char *text; /* the original (not owned) */
    size_t len;
    char *code; /* the code-only view, len bytes + NUL; NUL bytes become spaces */
    size_t nlines;
    size_t *line_start;        /* nlines + 1 entries; line_start[nlines] == len + 1 */
    unsigned char *line_flags; /* LINE_* per line, index 0 = line 1 */
    struct code_string *strs;  /* by offset */
    size_t nstrs;
};

/* Lexes text[0..len) as lang (LANG_UNKNOWN lexes like C). text must outlive the result.
 * Returns NULL when out of memory. Free with source_free (accepts NULL). */
struct source *source_lex(const char *text, size_t len, enum lang lang);
void source_free(struct source *s);

/* 1-based line holding byte offset off (off may be len). */
int source_line_of(const struct source *s, size_t off);
/* The string literal starting at offset off, or NULL. */
const struct code_string *source_string_at(const struct source *s, size_t off);

#endif
