/* lexer — one pass over the bytes classifying each as code, comment, string quote/prefix or
 * string body; the view, line kinds and string table are derived from that classification.
 * Three syntax families: C-like (// and block comments; "", '' and ` as the language
 * wants; JS regex literals), Python (#, prefixed and triple-quoted strings, docstrings
 * counted as comments) and shell (#, '' and ""). Every loop advances, so time is linear. */
#include "worker/agents/code_analyzer/lexer.h"

#include <stdlib.h>
#include <string.h>

enum cls { CL_CODE, CL_COMMENT, CL_QUOTE, CL_BODY, CL_DOC };

struct lexer {
    const char *t;
    size_t n;
    enum lang lang;
    unsigned char *cls;
    struct code_string *strs;
    size_t nstrs, cap;
    bool oom;
};

static bool is_ident(unsigned char c)
{
    return c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c >= 0x80;
}

static void mark(struct lexer *lx, size_t from, size_t to, enum cls c)
{
    if (to > lx->n)
        to = lx->n;
    if (from < to)
        memset(lx->cls + from, c, to - from);
}

static void add_string(struct lexer *lx, size_t off, size_t body, size_t body_end, size_t end,
                       unsigned flags)
{
    if (lx->nstrs == lx->cap) {
        size_t cap = lx->cap ? lx->cap * 2 : 64;
        struct code_string *v = realloc(lx->strs, cap * sizeof(*v));
        if (!v) {
            lx->oom = true;
            return;
        }
        lx->strs = v;
        lx->cap = cap;
    }
    lx->strs[lx->nstrs++] = (struct code_string){off, end, body, body_end, flags};
}

/* A string whose contents start at body and end before the closing quote q (q_len bytes).
 * Backslash escapes unless raw; stops at a newline unless multiline. Marks the literal
 * [off, end) and returns end. */
static size_t string_lit(struct lexer *lx, size_t off, size_t body, const char *q, size_t q_len,
                         bool raw, bool multiline, unsigned flags)
{
    size_t i = body, body_end;
    for (;;) {
        if (i >= lx->n) {
            body_end = i = lx->n;
            break;
        }
        char c = lx->t[i];
        if (c == '\\' && !raw) {
            i += 2;
            continue;
        }
        if (c == '\n' && !multiline) {
            body_end = i;
            break;
        }
        if (c == q[0] && lx->n - i >= q_len && memcmp(lx->t + i, q, q_len) == 0) {
            body_end = i;
            i += q_len;
            break;
        }
        if (c == '{' && (flags & STR_FORMAT))
            flags |= 0x100; /* saw a brace */
        if (c == '$' && i + 1 < lx->n && lx->t[i + 1] == '{')
            flags |= 0x100;
        i++;
    }
    if (body_end > lx->n)
        body_end = lx->n;
    if (i > lx->n)
        i = lx->n;
    /* an f-string or template counts as interpolating only when it holds a placeholder */
    unsigned keep = flags & ~(unsigned)(STR_FORMAT | 0x100);
    if ((flags & STR_FORMAT) && (flags & 0x100))
        keep |= STR_FORMAT;
    mark(lx, off, body, CL_QUOTE);
    mark(lx, body, body_end, CL_BODY);
    mark(lx, body_end, i, CL_QUOTE);
    add_string(lx, off, body, body_end, i, keep);
    return i;
}

static size_t line_comment(struct lexer *lx, size_t i)
{
    size_t e = i;
    while (e < lx->n && lx->t[e] != '\n')
        e++;
    mark(lx, i, e, CL_COMMENT);
    return e;
}

/* Only whitespace between the start of the line and i. */
static bool line_blank_before(const struct lexer *lx, size_t i)
{
    while (i > 0 && (lx->t[i - 1] == ' ' || lx->t[i - 1] == '\t'))
        i--;
    return i == 0 || lx->t[i - 1] == '\n';
}

/* Only whitespace or a comment between i and the end of the line. */
static bool line_blank_after(const struct lexer *lx, size_t i, char comment)
{
    while (i < lx->n && (lx->t[i] == ' ' || lx->t[i] == '\t' || lx->t[i] == '\r'))
        i++;
    return i >= lx->n || lx->t[i] == '\n' || lx->t[i] == comment;
}

static void lex_python(struct lexer *lx)
{
    size_t i = 0;
    while (i < lx->n) {
        unsigned char c = (unsigned char)lx->t[i];
        if (c == '#') {
            i = line_comment(lx, i);
        } else if (c == '"' || c == '\'' || is_ident(c)) {
            size_t s = i, p = i;
            while (p < lx->n && is_ident((unsigned char)lx->t[p]))
                p++;
            bool prefix = p - s <= 2 && p < lx->n && (lx->t[p] == '"' || lx->t[p] == '\'');
            for (size_t k = s; prefix && k < p; k++)
                prefix = strchr("rRbBfFuU", lx->t[k]) != NULL;
            if (p > s && !prefix) {
                i = p; /* an identifier or number: code */
                continue;
            }
            bool raw = memchr(lx->t + s, 'r', p - s) || memchr(lx->t + s, 'R', p - s);
            unsigned flags =
                memchr(lx->t + s, 'f', p - s) || memchr(lx->t + s, 'F', p - s) ? STR_FORMAT : 0;
            char q[3] = {lx->t[p], lx->t[p], lx->t[p]};
            bool triple = lx->n - p >= 3 && lx->t[p + 1] == q[0] && lx->t[p + 2] == q[0];
            size_t end = string_lit(lx, s, p + (triple ? 3 : 1), q, triple ? 3 : 1, raw, triple,
                                    flags | (triple ? STR_TRIPLE : 0));
            /* A triple-quoted string standing alone is a docstring: documentation. */
            if (triple && line_blank_before(lx, s) && line_blank_after(lx, end, '#')) {
                mark(lx, s, end, CL_DOC);
                lx->nstrs--;
            }
            i = end;
        } else {
            i++;
        }
    }
}

static void lex_shell(struct lexer *lx)
{
    size_t i = 0;
    while (i < lx->n) {
        char c = lx->t[i];
        if (c == '#' && (i == 0 || strchr(" \t\n;|&(", lx->t[i - 1]))) {
            i = line_comment(lx, i);
        } else if (c == '\\') {
            i += 2;
        } else if (c == '\'' || c == '"') {
            char q[1] = {c};
            i = string_lit(lx, i, i + 1, q, 1, c == '\'', true, 0);
        } else {
            i++;
        }
    }
}

/* A JS regex literal may start where an operand is expected. */
static bool regex_may_start(const struct lexer *lx, size_t i)
{
    while (i > 0 && (lx->t[i - 1] == ' ' || lx->t[i - 1] == '\t'))
        i--;
    if (i == 0)
        return true;
    char p = lx->t[i - 1];
    if (strchr("(,=:[!&|?{};+-*%<>~^\n", p))
        return true;
    return i >= 6 && memcmp(lx->t + i - 6, "return", 6) == 0 &&
           (i == 6 || !is_ident((unsigned char)lx->t[i - 7]));
}

/* The end of a regex literal starting at i ('/'), or 0 when there is none on this line. */
static size_t regex_end(const struct lexer *lx, size_t i)
{
    bool in_class = false;
    for (size_t k = i + 1; k < lx->n && lx->t[k] != '\n'; k++) {
        char c = lx->t[k];
        if (c == '\\')
            k++;
        else if (c == '[')
            in_class = true;
        else if (c == ']')
            in_class = false;
        else if (c == '/' && !in_class)
            return k > i + 1 ? k + 1 : 0;
    }
    return 0;
}

/* A char literal: 'x', '\n', '\x41', or one UTF-8 character, closing on the same line;
 * otherwise (a Rust lifetime 'a, a stray quote) 0. */
static size_t char_end(const struct lexer *lx, size_t i)
{
    size_t k = i + 1;
    if (k < lx->n && lx->t[k] == '\\') {
        for (k += 2; k < lx->n && k < i + 12 && lx->t[k] != '\n'; k++)
            if (lx->t[k] == '\'')
                return k + 1;
        return 0;
    }
    if (k < lx->n && (unsigned char)lx->t[k] >= 0x80) /* a multi-byte character */
        while (k + 1 < lx->n && k < i + 4 && ((unsigned char)lx->t[k + 1] & 0xc0) == 0x80)
            k++;
    return k + 1 < lx->n && lx->t[k] != '\n' && lx->t[k] != '\'' && lx->t[k + 1] == '\'' ? k + 2
                                                                                         : 0;
}

static void lex_c(struct lexer *lx)
{
    bool js = lx->lang == LANG_JAVASCRIPT || lx->lang == LANG_TYPESCRIPT;
    size_t i = 0;
    while (i < lx->n) {
        char c = lx->t[i];
        char d = i + 1 < lx->n ? lx->t[i + 1] : '\0';
        if (c == '/' && d == '/') {
            i = line_comment(lx, i);
        } else if (c == '/' && d == '*') {
            const char *e = NULL;
            if (i + 2 < lx->n) {
                for (size_t k = i + 2; k + 1 < lx->n; k++)
                    if (lx->t[k] == '*' && lx->t[k + 1] == '/') {
                        e = lx->t + k;
                        break;
                    }
            }
            size_t end = e ? (size_t)(e - lx->t) + 2 : lx->n;
            mark(lx, i, end, CL_COMMENT);
            i = end;
        } else if (c == '"') {
            i = string_lit(lx, i, i + 1, "\"", 1, false, false, 0);
        } else if (c == '`' && (js || lx->lang == LANG_GO)) {
            i = string_lit(lx, i, i + 1, "`", 1, !js, true, js ? STR_FORMAT : 0);
        } else if (c == '\'') {
            size_t e = js ? 0 : char_end(lx, i);
            if (js)
                i = string_lit(lx, i, i + 1, "'", 1, false, false, 0);
            else if (e) {
                mark(lx, i, i + 1, CL_QUOTE);
                mark(lx, i + 1, e - 1, CL_BODY);
                mark(lx, e - 1, e, CL_QUOTE);
                i = e;
            } else {
                i++;
            }
        } else if (c == '/' && js && regex_may_start(lx, i) && regex_end(lx, i)) {
            size_t e = regex_end(lx, i);
            mark(lx, i, i + 1, CL_QUOTE);
            mark(lx, i + 1, e - 1, CL_BODY);
            mark(lx, e - 1, e, CL_QUOTE);
            i = e;
        } else if (c == 'r' && lx->lang == LANG_RUST && (d == '#' || d == '"') &&
                   (i == 0 || !is_ident((unsigned char)lx->t[i - 1]))) {
            size_t k = i + 1, hashes = 0;
            while (k < lx->n && lx->t[k] == '#' && hashes < 16)
                k++, hashes++;
            if (k < lx->n && lx->t[k] == '"') {
                char q[17] = "\"################";
                i = string_lit(lx, i, k + 1, q, hashes + 1, true, true, 0);
            } else {
                i++;
            }
        } else if (is_ident((unsigned char)c)) {
            while (i < lx->n && is_ident((unsigned char)lx->t[i]))
                i++;
        } else {
            i++;
        }
    }
}

static void derive(struct source *s, const unsigned char *cls)
{
    size_t line = 0;
    bool preproc_ok = s->lang == LANG_C || s->lang == LANG_CPP || s->lang == LANG_UNKNOWN;
    s->line_start[0] = 0;
    bool first = true; /* no non-blank byte on the line yet */
    for (size_t i = 0; i < s->len; i++) {
        char c = s->text[i];
        if (c == '\n') {
            s->code[i] = '\n';
            s->line_start[++line] = i + 1;
            first = true;
            continue;
        }
        bool blank = c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
        switch (cls[i]) {
        case CL_CODE:
        case CL_QUOTE:
            s->code[i] = c ? c : ' ';
            if (!blank) {
                s->line_flags[line] |= LINE_CODE;
                if (first && c == '#' && cls[i] == CL_CODE && preproc_ok)
                    s->line_flags[line] |= LINE_PREPROC;
            }
            break;
        case CL_BODY:
            s->code[i] = ' ';
            if (!blank)
                s->line_flags[line] |= LINE_CODE;
            break;
        default:
            s->code[i] = ' ';
            if (!blank)
                s->line_flags[line] |= LINE_COMMENT;
            break;
        }
        if (!blank)
            first = false;
    }
    s->code[s->len] = '\0';
    s->line_start[s->nlines] = s->len + 1;
}

struct source *source_lex(const char *text, size_t len, enum lang lang)
{
    struct source *s = calloc(1, sizeof(*s));
    struct lexer lx = {.t = text, .n = len, .lang = lang};
    if (!s)
        return NULL;
    s->lang = lang;
    s->text = text;
    s->len = len;
    size_t nl = 0;
    for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
        nl++;
    /* A final newline ends the last line rather than starting an empty one. */
    s->nlines = nl + (len > 0 && text[len - 1] != '\n' ? 1 : 0);
    s->code = malloc(len + 1);
    s->line_start = malloc((s->nlines + 2) * sizeof(*s->line_start));
    s->line_flags = calloc(s->nlines + 1, 1);
    lx.cls = calloc(len + 1, 1);
    if (!s->code || !s->line_start || !s->line_flags || !lx.cls)
        goto fail;
    switch (lang_family(lang)) {
    case FAMILY_PYTHON: lex_python(&lx); break;
    case FAMILY_SHELL: lex_shell(&lx); break;
    default: lex_c(&lx); break;
    }
    if (lx.oom)
        goto fail;
    derive(s, lx.cls);
    s->strs = lx.strs;
    s->nstrs = lx.nstrs;
    free(lx.cls);
    return s;
fail:
    free(lx.cls);
    free(lx.strs);
    source_free(s);
    return NULL;
}

void source_free(struct source *s)
{
    if (!s)
        return;
    free(s->code);
    free(s->line_start);
    free(s->line_flags);
    free(s->strs);
    free(s);
}

int source_line_of(const struct source *s, size_t off)
{
    size_t lo = 0, hi = s->nlines; /* the answer is in [lo, hi) */
    if (hi == 0)
        return 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->line_start[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return (int)lo + 1;
}

const struct code_string *source_string_at(const struct source *s, size_t off)
{
    size_t lo = 0, hi = s->nstrs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->strs[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nstrs && s->strs[lo].off == off ? &s->strs[lo] : NULL;
}
