/* optimize — the rule table and its checks. Loops come from the blocks module: "in a loop"
 * means inside a loop's body, "in a loop header" between its first byte and its body. */
#include "worker/agents/code_analyzer/optimize.h"

#include <stdbool.h>
#include <string.h>

#include "worker/agents/code_analyzer/lang.h"
#include "worker/agents/code_analyzer/scan.h"

struct opt_rule;
typedef void (*opt_check_fn)(const struct source *s, const struct blocks *b,
                             const struct opt_rule *r, struct findings *out);

struct opt_rule {
    const char *id;
    unsigned langs;
    const char *impact;
    const char *message;
    const char *suggestion;
    opt_check_fn check;
    const char *word;   /* the call or word the check looks for */
    const char *before; /* text that must stand just before it ("re.", "new", "."), or NULL */
};

static void report(const struct source *s, const struct opt_rule *r, size_t off,
                   struct findings *out)
{
    findings_add(out, source_line_of(s, off), r->id, r->impact, r->message, r->suggestion);
}

static char at(const struct source *s, size_t i) { return i < s->len ? s->code[i] : '\0'; }

/* word at i has r->before just before it (spaces allowed after a word like "new"). */
static bool preceded(const struct source *s, size_t i, const char *before)
{
    if (!before)
        return true;
    size_t n = strlen(before), e = i;
    if (scan_is_ident(before[n - 1])) {
        size_t p = scan_prev(s, i);
        if (p == SCAN_NONE)
            return false;
        e = p + 1;
    }
    if (e < n || memcmp(s->code + e - n, before, n) != 0)
        return false;
    return e == n || !scan_is_ident(before[0]) || !scan_is_ident(s->code[e - n - 1]);
}

/* The innermost loop whose header (not body) holds off. */
static const struct block *loop_header_at(const struct blocks *b, size_t off)
{
    const struct block *best = NULL;
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].kind == BLOCK_LOOP && off >= b->v[i].head && off < b->v[i].body)
            best = &b->v[i];
    return best;
}

/* r->word( called (after r->before) inside a loop body. */
static void check_call_in_loop(const struct source *s, const struct blocks *b,
                               const struct opt_rule *r, struct findings *out)
{
    size_t n = strlen(r->word);
    for (size_t i = scan_word(s, 0, s->len, r->word); i != SCAN_NONE;
         i = scan_word(s, i + n, s->len, r->word))
        if (at(s, scan_skip_ws(s, i + n, s->len)) == '(' && preceded(s, i, r->before) &&
            blocks_loop_at(b, i))
            report(s, r, i, out);
}

/* r->word( called (after r->before) in a loop's header: re-evaluated every iteration. */
static void check_call_in_header(const struct source *s, const struct blocks *b,
                                 const struct opt_rule *r, struct findings *out)
{
    size_t n = strlen(r->word);
    for (size_t i = scan_word(s, 0, s->len, r->word); i != SCAN_NONE;
         i = scan_word(s, i + n, s->len, r->word)) {
        const struct block *l =
            at(s, scan_skip_ws(s, i + n, s->len)) == '(' && preceded(s, i, r->before)
                ? loop_header_at(b, i)
                : NULL;
        if (!l)
            continue;
        char w[8];
        scan_ident_at(s, l->head, w, sizeof(w));
        /* Python's for header runs once: only a while condition repeats. */
        if (lang_family(s->lang) == FAMILY_PYTHON && strcmp(w, "while") != 0)
            continue;
        report(s, r, i, out);
    }
}

/* for i in range(len(x)): */
static void check_range_len(const struct source *s, const struct blocks *b,
                            const struct opt_rule *r, struct findings *out)
{
    for (size_t i = scan_word(s, 0, s->len, "range"); i != SCAN_NONE;
         i = scan_word(s, i + 5, s->len, "range")) {
        size_t k = scan_skip_ws(s, i + 5, s->len);
        if (at(s, k) == '(' && scan_word_at(s, scan_skip_ws(s, k + 1, s->len), "len") &&
            loop_header_at(b, i))
            report(s, r, i, out);
    }
}

/* Was name assigned a string literal (name = "..." / '' / f"...") before off? */
static bool string_variable(const struct source *s, const char *name, size_t off)
{
    size_t n = strlen(name);
    for (size_t i = scan_word(s, 0, off, name); i != SCAN_NONE;
         i = scan_word(s, i + n, off, name)) {
        size_t e = scan_skip_ws(s, i + n, off);
        if (at(s, e) != '=' || at(s, e + 1) == '=')
            continue;
        size_t v = scan_skip_ws(s, e + 1, off);
        while (v < off && strchr("rbfuRBFU", s->code[v]) && scan_is_ident(s->code[v]) &&
               at(s, v + 1) != ' ' && !source_string_at(s, v))
            v++;
        if (source_string_at(s, v))
            return true;
    }
    return false;
}

/* s += "..." (or s += x where s holds a string) inside a loop. */
static void check_concat_in_loop(const struct source *s, const struct blocks *b,
                                 const struct opt_rule *r, struct findings *out)
{
    for (size_t i = 0; i + 1 < s->len; i++) {
        if (s->code[i] != '+' || s->code[i + 1] != '=' || (i > 0 && s->code[i - 1] == '+'))
            continue;
        char name[64];
        if (scan_ident_before(s, i, name, sizeof(name)) == SCAN_NONE || !blocks_loop_at(b, i))
            continue;
        size_t v = scan_skip_ws(s, i + 2, s->len);
        bool literal = false;
        for (size_t k = v; k < s->len && k < v + 3; k++)
            if (source_string_at(s, k)) {
                literal = true;
                break;
            }
        if (literal || scan_word_at(s, v, "str") || string_variable(s, name, i))
            report(s, r, i, out);
        i++;
    }
}

/* `in NAME` inside a loop body (not a for header) where NAME was assigned a list literal. */
static void check_list_membership(const struct source *s, const struct blocks *b,
                                  const struct opt_rule *r, struct findings *out)
{
    for (size_t i = scan_word(s, 0, s->len, "in"); i != SCAN_NONE;
         i = scan_word(s, i + 2, s->len, "in")) {
        if (!blocks_loop_at(b, i) || loop_header_at(b, i))
            continue;
        /* the `for` of a comprehension: [x for x in items] */
        size_t ls = scan_stmt_start(s, i);
        size_t f = scan_word(s, ls, i, "for");
        if (f != SCAN_NONE && scan_word(s, f, i, "in") == SCAN_NONE)
            continue;
        char name[64];
        size_t v = scan_skip_ws(s, i + 2, s->len);
        size_t e = scan_ident_at(s, v, name, sizeof(name));
        if (!name[0] || at(s, e) == '(' || at(s, e) == '.')
            continue;
        size_t n = strlen(name);
        for (size_t d = scan_word(s, 0, s->len, name); d != SCAN_NONE;
             d = scan_word(s, d + n, s->len, name)) {
            size_t eq = scan_skip_ws(s, d + n, s->len);
            if (at(s, eq) == '=' && at(s, eq + 1) != '=' &&
                at(s, scan_skip_ws(s, eq + 1, s->len)) == '[') {
                report(s, r, i, out);
                break;
            }
        }
    }
}

/* What a loop iterates over: Python `for x in EXPR:` and JS `for (x of EXPR)` give EXPR;
 * C-style `for (init; i < BOUND; step)` gives BOUND. Spaces dropped. */
static void loop_key(const struct source *s, const struct block *l, char *key, size_t len)
{
    key[0] = '\0';
    size_t from = SCAN_NONE, to = l->body;
    size_t in = scan_word(s, l->head, l->body, "in");
    size_t of = scan_word(s, l->head, l->body, "of");
    if (in != SCAN_NONE && lang_family(s->lang) == FAMILY_PYTHON) {
        from = in + 2;
        to = l->body - 1; /* the colon */
    } else if (of != SCAN_NONE || in != SCAN_NONE) {
        from = (of != SCAN_NONE ? of : in) + 2;
        size_t open = scan_skip_ws(s, l->head + 3, l->body);
        to = at(s, open) == '(' ? scan_match(s, open) : l->body;
    } else {
        size_t semi = SCAN_NONE;
        for (size_t i = l->head; i < l->body; i++)
            if (s->code[i] == ';') {
                semi = i;
                break;
            }
        if (semi == SCAN_NONE)
            return;
        for (size_t i = semi + 1; i < l->body && s->code[i] != ';'; i++)
            if (s->code[i] == '<') {
                from = i + 1 + (at(s, i + 1) == '=');
                break;
            }
        if (from == SCAN_NONE)
            return;
        to = from;
        while (to < l->body && s->code[to] != ';')
            to++;
    }
    size_t o = 0;
    for (size_t i = from; i < to && i < s->len && o + 1 < len; i++)
        if (!scan_is_space(s->code[i]))
            key[o++] = s->code[i];
    key[o] = '\0';
}

/* A loop inside another loop (same function) over the same collection or bound. */
static void check_nested_same(const struct source *s, const struct blocks *b,
                              const struct opt_rule *r, struct findings *out)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct block *inner = &b->v[i];
        if (inner->kind != BLOCK_LOOP)
            continue;
        char ki[128];
        loop_key(s, inner, ki, sizeof(ki));
        if (!ki[0])
            continue;
        for (int p = inner->parent; p >= 0 && b->v[p].kind != BLOCK_FUNCTION; p = b->v[p].parent) {
            if (b->v[p].kind != BLOCK_LOOP)
                continue;
            char ko[128];
            loop_key(s, &b->v[p], ko, sizeof(ko));
            if (strcmp(ki, ko) == 0) {
                report(s, r, inner->head, out);
                break;
            }
        }
    }
}

#define NESTED_MSG "nested loop over the same collection: O(n^2) comparisons"
#define NESTED_FIX                                                                                 \
    "index the items once (a dict/set/hash map keyed on what is compared), or sort and sweep"

static const struct opt_rule rules[] = {
    /* Python */
    {"py.regex-compile-in-loop", LANGS_PY, "medium", "re.compile() runs on every iteration",
     "compile the pattern once, before the loop (or at module level)", check_call_in_loop,
     "compile", "re."},
    {"py.len-in-loop-condition", LANGS_PY, "low",
     "len() is re-evaluated on every iteration of the while",
     "keep the length in a variable before the loop if the collection does not change",
     check_call_in_header, "len", NULL},
    {"py.range-len", LANGS_PY, "low", "for i in range(len(x)) indexes the collection on every step",
     "iterate directly (for item in x) or use enumerate(x)", check_range_len, NULL, NULL},
    {"py.string-concat-in-loop", LANGS_PY, "medium",
     "string built with += in a loop copies it each time (quadratic)",
     "collect the parts in a list and ''.join() them after the loop", check_concat_in_loop, NULL,
     NULL},
    {"py.list-membership-in-loop", LANGS_PY, "medium",
     "'in' on a list inside a loop is a linear search each time",
     "make it a set (or dict) once, before the loop", check_list_membership, NULL, NULL},
    {"py.nested-loop-same-collection", LANGS_PY, "medium", NESTED_MSG, NESTED_FIX,
     check_nested_same, NULL, NULL},
    /* JavaScript and TypeScript */
    {"js.regexp-in-loop", LANGS_JS, "medium", "new RegExp() is built on every iteration",
     "build the RegExp once, before the loop", check_call_in_loop, "RegExp", "new"},
    {"js.string-concat-in-loop", LANGS_JS, "low", "string built with += in a loop",
     "push the parts to an array and join('') after the loop", check_concat_in_loop, NULL, NULL},
    {"js.includes-in-loop", LANGS_JS, "medium",
     ".includes() inside a loop is a linear search each time",
     "build a Set once, before the loop, and use set.has()", check_call_in_loop, "includes", "."},
    {"js.indexof-in-loop", LANGS_JS, "medium",
     ".indexOf() inside a loop is a linear search each time",
     "build a Set or Map once, before the loop", check_call_in_loop, "indexOf", "."},
    {"js.nested-loop-same-collection", LANGS_JS, "medium", NESTED_MSG, NESTED_FIX,
     check_nested_same, NULL, NULL},
    /* C and C++ */
    {"c.strlen-in-loop-condition", LANGS_C, "high",
     "strlen() in the loop condition rescans the string every iteration (quadratic)",
     "compute the length once before the loop, or test s[i] != '\\0'", check_call_in_header,
     "strlen", NULL},
    {"c.strcat-in-loop", LANGS_C, "medium",
     "strcat() in a loop rescans the destination each time (quadratic)",
     "keep a pointer to the end (or the length) and append there", check_call_in_loop, "strcat",
     NULL},
    {"c.regcomp-in-loop", LANGS_C, "medium", "regcomp() compiles the pattern on every iteration",
     "compile once before the loop and regfree() after it", check_call_in_loop, "regcomp", NULL},
    {"c.nested-loop-same-bound", LANGS_C, "medium", NESTED_MSG, NESTED_FIX, check_nested_same, NULL,
     NULL},
};

void optimize_suggest(const struct source *s, const struct blocks *b, struct findings *out)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (rules[i].langs & LANG_BIT(s->lang))
            rules[i].check(s, b, &rules[i], out);
    findings_finish(out);
}

size_t optimize_count(void) { return sizeof(rules) / sizeof(rules[0]); }
const char *optimize_rule_id(size_t i) { return rules[i].id; }
const char *optimize_rule_impact(size_t i) { return rules[i].impact; }
