/* blocks — finds functions, loops and branches. C-like languages: one walk over the code
 * view keeping a stack of open braces; the text since the last ; { } (the "header") decides
 * what a '{' opens. Python: logical lines (brackets and backslashes join physical lines) and
 * an indentation stack. */
#include "worker/agents/code_analyzer/blocks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/agents/code_analyzer/scan.h"

static const char *const loop_words[] = {"for", "while", "do", "loop", "foreach", NULL};
static const char *const branch_words[] = {"if",    "else",   "elif",    "switch", "try",
                                           "catch", "except", "finally", "with",   "match",
                                           "case",  "select", NULL};
static const char *const other_words[] = {
    "struct",    "class",  "enum",   "union",   "namespace", "impl",  "trait",  "mod",
    "interface", "unsafe", "extern", "typedef", "type",      "const", "static", NULL};
/* Words that are never a function's name even when followed by '('. */
static const char *const not_names[] = {
    "if",    "while",  "for",   "switch", "catch",    "return",   "sizeof", "new",
    "await", "typeof", "async", "func",   "function", "fn",       "def",    "match",
    "with",  "assert", "elif",  "except", "alignof",  "decltype", NULL};

static bool in_list(const char *w, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(w, *list) == 0)
            return true;
    return false;
}

static int add(struct blocks *b, const struct block *blk)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        struct block *v = realloc(b->v, cap * sizeof(*v));
        if (!v)
            return -1;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *blk;
    return 0;
}

void blocks_free(struct blocks *b)
{
    if (!b)
        return;
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

/* --- C-like -------------------------------------------------------------------------------- */

/* Is code[from, to) a function header? Fills name. */
static bool c_function_header(const struct source *s, size_t from, size_t to, char *name,
                              size_t len)
{
    long depth = 0;
    bool paren = false, assign = false, arrow = false, keyword_fn = false;
    size_t fn_word = SCAN_NONE;
    for (size_t i = from; i < to; i++) {
        char c = s->code[i], n = i + 1 < to ? s->code[i + 1] : '\0';
        char p = i > from ? s->code[i - 1] : '\0';
        if (c == '(') {
            depth++;
            paren = true;
        } else if (c == ')') {
            depth--;
        } else if (c == '=' && n == '>') {
            arrow = true;
        } else if (c == '=' && n != '=' && !strchr("=!<>+-*/%&|^", p)) {
            assign = true;
        } else if (scan_word_at(s, i, "function") || scan_word_at(s, i, "func")) {
            keyword_fn = true;
        } else if (scan_word_at(s, i, "fn") && fn_word == SCAN_NONE) {
            fn_word = i;
        }
    }
    if (!paren || depth != 0)
        return false;
    snprintf(name, len, "<anonymous>");
    if (fn_word != SCAN_NONE) { /* Rust: fn name<T>(...) */
        size_t k = scan_skip_ws(s, fn_word + 2, to);
        if (scan_is_ident(s->code[k]))
            scan_ident_at(s, k, name, len);
        return true;
    }
    if (assign || arrow) {
        if (!arrow && !keyword_fn)
            return false; /* an initialiser: int a[] = { ... } */
        /* const f = (a) => {   or   f = function (a) {: named by the assigned variable */
        for (size_t i = from; i < to; i++)
            if (s->code[i] == '=' && i + 1 < to && s->code[i + 1] != '>' && s->code[i + 1] != '=') {
                char buf[64];
                if (scan_ident_before(s, i, buf, sizeof(buf)) != SCAN_NONE)
                    snprintf(name, len, "%s", buf);
                break;
            }
        return true;
    }
    for (size_t i = from; i < to; i++) {
        if (!scan_is_ident(s->code[i]) || (i > from && scan_is_ident(s->code[i - 1])))
            continue;
        char w[64];
        size_t e = scan_ident_at(s, i, w, sizeof(w));
        size_t k = scan_skip_ws(s, e, to);
        if (k < to && s->code[k] == '(' && !in_list(w, not_names) &&
            !(w[0] >= '0' && w[0] <= '9')) {
            char before[16];
            if (scan_ident_before(s, i, before, sizeof(before)) != SCAN_NONE &&
                strcmp(before, "new") == 0)
                return false; /* new Foo() { ... }: an anonymous class */
            snprintf(name, len, "%s", w);
            return true;
        }
        i = e;
    }
    return keyword_fn; /* function (a) { */
}

/* The kind of block a header opens; for a brace-less body (braceless) only loops and
 * branches count. */
static enum block_kind c_classify(const struct source *s, size_t from, size_t to, char *name,
                                  size_t len)
{
    char w[32];
    size_t k = scan_skip_ws(s, from, to);
    scan_ident_at(s, k, w, sizeof(w));
    name[0] = '\0';
    if (in_list(w, loop_words))
        return BLOCK_LOOP;
    if (in_list(w, branch_words))
        return BLOCK_BRANCH;
    if (in_list(w, other_words) && !c_function_header(s, from, to, name, len))
        return BLOCK_OTHER;
    if (c_function_header(s, from, to, name, len))
        return BLOCK_FUNCTION;
    name[0] = '\0';
    return BLOCK_OTHER;
}

/* `for (...) stmt;`: a loop or branch header whose ( ) is followed by a statement. Returns
 * the offset after the ')' or SCAN_NONE. */
static size_t c_braceless_body(const struct source *s, size_t from, size_t to)
{
    size_t k = scan_skip_ws(s, from, to);
    char w[16];
    size_t e = scan_ident_at(s, k, w, sizeof(w));
    if (strcmp(w, "else") == 0 || strcmp(w, "do") == 0)
        return scan_skip_ws(s, e, to) < to ? e : SCAN_NONE;
    if (!in_list(w, loop_words) && !in_list(w, branch_words))
        return SCAN_NONE;
    size_t open = scan_skip_ws(s, e, to);
    if (open >= to || s->code[open] != '(')
        return SCAN_NONE;
    size_t close = scan_match(s, open);
    if (close >= to)
        return SCAN_NONE;
    return scan_skip_ws(s, close + 1, to) < to ? close + 1 : SCAN_NONE;
}

/* Go, JavaScript and shell end statements at a newline too: after a word, ) ] or a quote,
 * when the next line does not continue the expression (with . ? : { = or an operator). */
static bool newline_ends(const struct source *s, size_t nl)
{
    if (s->lang != LANG_GO && s->lang != LANG_JAVASCRIPT && s->lang != LANG_TYPESCRIPT &&
        s->lang != LANG_SHELL)
        return false;
    size_t p = scan_prev(s, nl), n = scan_skip_ws(s, nl, s->len);
    if (p == SCAN_NONE || n >= s->len)
        return false;
    char a = s->code[p], b = s->code[n];
    return (scan_is_ident(a) || strchr(")]\"'`", a)) && !strchr(".?:{=+-*/%&|^<>,)]", b);
}

static int c_blocks(const struct source *s, struct blocks *out)
{
    int *stack = NULL;
    size_t depth = 0, cap = 0, hdr = 0;
    long paren = 0;
    bool go = s->lang == LANG_GO;
    int rc = -1;
    for (size_t i = 0; i < s->len; i++) {
        if ((i == 0 || s->code[i - 1] == '\n') &&
            (s->line_flags[source_line_of(s, i) - 1] & LINE_PREPROC)) {
            i = scan_line_end(s, i);
            hdr = i + 1;
            continue;
        }
        char c = s->code[i];
        if (c == '\n' && paren == 0 && newline_ends(s, i)) {
            hdr = i + 1;
        } else if (c == '(' || c == '[') {
            paren++;
        } else if ((c == ')' || c == ']') && paren > 0) {
            paren--;
        } else if (c == '{') {
            struct block b = {.parent = depth ? stack[depth - 1] : -1, .function = -1};
            b.kind = c_classify(s, hdr, i, b.name, sizeof(b.name));
            b.head = scan_skip_ws(s, hdr, i);
            b.start = source_line_of(s, b.head);
            b.body = i + 1;
            b.end_off = s->len;
            b.end = source_line_of(s, s->len);
            if (depth == cap) {
                cap = cap ? cap * 2 : 64;
                int *st = realloc(stack, cap * sizeof(*st));
                if (!st)
                    goto fail;
                stack = st;
            }
            if (add(out, &b) < 0)
                goto fail;
            stack[depth++] = (int)out->n - 1;
            hdr = i + 1;
            paren = 0;
        } else if (c == '}') {
            if (depth > 0) {
                struct block *b = &out->v[stack[--depth]];
                b->end_off = i;
                b->end = source_line_of(s, i);
            }
            hdr = i + 1;
            paren = 0;
        } else if (c == ';' && paren == 0) {
            char w[16];
            scan_ident_at(s, scan_skip_ws(s, hdr, i), w, sizeof(w));
            if (go && (strcmp(w, "for") == 0 || strcmp(w, "if") == 0 || strcmp(w, "switch") == 0))
                continue; /* Go: for i := 0; i < n; i++ { */
            /* if (a) for (...) x; : each brace-less header opens a block in the last */
            int parent = depth ? stack[depth - 1] : -1;
            for (size_t h = hdr, body; (body = c_braceless_body(s, h, i)) != SCAN_NONE; h = body) {
                struct block b = {.parent = parent, .function = -1};
                scan_ident_at(s, scan_skip_ws(s, h, i), w, sizeof(w));
                b.kind = in_list(w, loop_words) ? BLOCK_LOOP : BLOCK_BRANCH;
                b.head = scan_skip_ws(s, h, i);
                b.start = source_line_of(s, b.head);
                b.body = body;
                b.end_off = i;
                b.end = source_line_of(s, i);
                if (add(out, &b) < 0)
                    goto fail;
                parent = (int)out->n - 1;
            }
            hdr = i + 1;
        }
    }
    rc = 0;
fail:
    free(stack);
    return rc;
}

/* --- Python -------------------------------------------------------------------------------- */

/* The logical line starting at off: its end (the '\n' or len) and its header colon (the first
 * ':' outside brackets, not ':='), or SCAN_NONE. */
static size_t py_logical(const struct source *s, size_t off, size_t *colon)
{
    long depth = 0;
    *colon = SCAN_NONE;
    size_t i = off;
    for (; i < s->len; i++) {
        char c = s->code[i];
        if (c == '(' || c == '[' || c == '{')
            depth++;
        else if ((c == ')' || c == ']' || c == '}') && depth > 0)
            depth--;
        else if (c == ':' && depth == 0 && *colon == SCAN_NONE &&
                 (i + 1 >= s->len || s->code[i + 1] != '='))
            *colon = i;
        else if (c == '\n' && depth == 0) {
            size_t p = i;
            while (p > off &&
                   (s->code[p - 1] == ' ' || s->code[p - 1] == '\r' || s->code[p - 1] == '\t'))
                p--;
            if (p > off && s->code[p - 1] == '\\')
                continue;
            break;
        }
    }
    return i;
}

struct py_open {
    int block;
    int indent;
};

static int py_blocks(const struct source *s, struct blocks *out)
{
    struct py_open *stack = NULL;
    size_t depth = 0, cap = 0;
    int last_line = 0;
    size_t last_end = 0;
    int rc = -1;
    size_t off = 0;
    while (off < s->len) {
        int indent = 0;
        while (off < s->len && (s->code[off] == ' ' || s->code[off] == '\t'))
            indent += s->code[off++] == '\t' ? 8 - indent % 8 : 1;
        if (off >= s->len)
            break;
        if (scan_is_space(s->code[off])) { /* blank or comment-only line */
            off = scan_line_end(s, off) + 1;
            continue;
        }
        size_t colon;
        size_t end = py_logical(s, off, &colon);
        while (depth > 0 && stack[depth - 1].indent >= indent) {
            struct block *b = &out->v[stack[--depth].block];
            b->end = last_line > b->start ? last_line : b->start;
            b->end_off = last_end > b->body ? last_end : b->body;
        }
        char w[16];
        size_t k = scan_ident_at(s, off, w, sizeof(w));
        if (strcmp(w, "async") == 0)
            scan_ident_at(s, scan_skip_ws(s, k, end), w, sizeof(w));
        bool header = colon != SCAN_NONE && (strcmp(w, "def") == 0 || strcmp(w, "class") == 0 ||
                                             in_list(w, loop_words) || in_list(w, branch_words));
        if (header) {
            struct block b = {.parent = depth ? stack[depth - 1].block : -1, .function = -1};
            b.kind = strcmp(w, "def") == 0     ? BLOCK_FUNCTION
                     : strcmp(w, "class") == 0 ? BLOCK_OTHER
                     : in_list(w, loop_words)  ? BLOCK_LOOP
                                               : BLOCK_BRANCH;
            if (b.kind == BLOCK_FUNCTION) {
                size_t d = scan_word(s, off, end, "def");
                scan_ident_at(s, scan_skip_ws(s, d + 3, end), b.name, sizeof(b.name));
                if (!b.name[0])
                    snprintf(b.name, sizeof(b.name), "<anonymous>");
            }
            b.head = off;
            b.start = source_line_of(s, off);
            b.body = colon + 1;
            b.end_off = end;
            b.end = source_line_of(s, end > off ? end - 1 : off);
            if (add(out, &b) < 0)
                goto fail;
            bool inline_body = scan_skip_ws(s, colon + 1, end) < end;
            if (!inline_body) {
                if (depth == cap) {
                    cap = cap ? cap * 2 : 32;
                    struct py_open *st = realloc(stack, cap * sizeof(*st));
                    if (!st)
                        goto fail;
                    stack = st;
                }
                stack[depth++] = (struct py_open){(int)out->n - 1, indent};
            }
        }
        last_line = source_line_of(s, end > off ? end - 1 : off);
        last_end = end;
        off = end + 1;
    }
    while (depth > 0) {
        struct block *b = &out->v[stack[--depth].block];
        b->end = last_line > b->start ? last_line : b->start;
        b->end_off = last_end > b->body ? last_end : b->body;
    }
    rc = 0;
fail:
    free(stack);
    return rc;
}

/* Functions and depths from the parent links (parents come first). */
static void link(struct blocks *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct block *x = &b->v[i];
        x->function = x->kind == BLOCK_FUNCTION ? (int)i
                      : x->parent >= 0          ? b->v[x->parent].function
                                                : -1;
        x->depth = 0;
        if (x->kind != BLOCK_LOOP && x->kind != BLOCK_BRANCH)
            continue;
        int p = x->parent;
        while (p >= 0 && b->v[p].kind == BLOCK_OTHER)
            p = b->v[p].parent;
        x->depth = 1 + (p >= 0 && b->v[p].kind != BLOCK_FUNCTION ? b->v[p].depth : 0);
    }
}

int blocks_find(const struct source *s, struct blocks *out)
{
    int rc = lang_family(s->lang) == FAMILY_PYTHON ? py_blocks(s, out) : c_blocks(s, out);
    if (rc == 0)
        link(out);
    return rc;
}

const struct block *blocks_loop_at(const struct blocks *b, size_t off)
{
    const struct block *best = NULL;
    for (size_t i = 0; i < b->n; i++) {
        const struct block *x = &b->v[i];
        if (x->kind == BLOCK_LOOP && off >= x->body && off <= x->end_off &&
            (!best || x->body >= best->body))
            best = x;
    }
    return best;
}
