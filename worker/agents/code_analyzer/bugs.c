/* bugs — the rule table and its checks. A check scans the code view for its pattern and
 * reports each hit under the rule's id; several rows share one check (one per language
 * family, or one per dangerous function), so no pattern logic is written twice. */
#include "worker/agents/code_analyzer/bugs.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "worker/agents/code_analyzer/lang.h"
#include "worker/agents/code_analyzer/scan.h"

struct bug_rule;
typedef void (*bug_check_fn)(const struct source *s, const struct bug_rule *r,
                             struct findings *out);

struct bug_rule {
    const char *id;
    unsigned langs; /* LANG_BIT mask */
    const char *severity;
    const char *message;
    bug_check_fn check;
    const char *arg; /* the check's parameter (a function name, ...) or NULL */
};

static void report(const struct source *s, const struct bug_rule *r, size_t off,
                   struct findings *out)
{
    findings_add(out, source_line_of(s, off), r->id, r->severity, r->message, NULL);
}

/* Each offset where word w stands, in order; returns SCAN_NONE when done. */
static size_t next_word(const struct source *s, size_t from, const char *w)
{
    return scan_word(s, from, s->len, w);
}

static char at(const struct source *s, size_t i) { return i < s->len ? s->code[i] : '\0'; }

/* The first '=' in code[j..close) standing directly inside the brackets that open the
 * scan (depth 1: not in a nested pair), or close when none does. *depth carries the nesting
 * from one call to the next, so a caller walks every such '=' by resuming after the last. */
static size_t next_inner_equals(const struct source *s, size_t j, size_t close, long *depth)
{
    for (; j < close; j++) {
        char c = s->code[j];
        if (c == '(' || c == '[' || c == '{')
            ++*depth;
        else if (c == ')' || c == ']' || c == '}')
            --*depth;
        else if (c == '=' && *depth == 1)
            return j;
    }
    return close;
}

/* A call of the function r->arg: `name(`, not a method (`.name(`, `->name(`) and not its
 * own definition (`def name(`, `function name(`). */
static void check_call(const struct source *s, const struct bug_rule *r, struct findings *out)
{
    size_t n = strlen(r->arg);
    for (size_t i = next_word(s, 0, r->arg); i != SCAN_NONE; i = next_word(s, i + n, r->arg)) {
        if (at(s, scan_skip_ws(s, i + n, s->len)) != '(')
            continue;
        size_t p = scan_prev(s, i);
        if (p != SCAN_NONE && (s->code[p] == '.' || s->code[p] == '>' || s->code[p] == ':'))
            continue;
        char before[16];
        scan_ident_before(s, i, before, sizeof(before));
        if (strcmp(before, "def") == 0 || strcmp(before, "function") == 0)
            continue;
        report(s, r, i, out);
    }
}

static void check_bare_except(const struct source *s, const struct bug_rule *r,
                              struct findings *out)
{
    for (size_t i = next_word(s, 0, "except"); i != SCAN_NONE; i = next_word(s, i + 6, "except"))
        if (at(s, scan_skip_ws(s, i + 6, s->len)) == ':')
            report(s, r, i, out);
}

/* def f(x=[]), def f(x={}), def f(x=list()) ... */
static void check_mutable_default(const struct source *s, const struct bug_rule *r,
                                  struct findings *out)
{
    for (size_t i = next_word(s, 0, "def"); i != SCAN_NONE; i = next_word(s, i + 3, "def")) {
        size_t k = scan_skip_ws(s, i + 3, s->len);
        while (k < s->len && scan_is_ident(s->code[k]))
            k++;
        k = scan_skip_ws(s, k, s->len);
        if (at(s, k) != '(')
            continue;
        size_t close = scan_match(s, k);
        long depth = 0;
        for (size_t j = next_inner_equals(s, k, close, &depth); j < close;
             j = next_inner_equals(s, j + 1, close, &depth)) {
            if (at(s, j + 1) == '=' || strchr("=!<>:", at(s, j - 1)))
                continue;
            size_t v = scan_skip_ws(s, j + 1, close);
            char w[8];
            scan_ident_at(s, v, w, sizeof(w));
            bool call = at(s, scan_skip_ws(s, v + strlen(w), close)) == '(';
            if (at(s, v) == '[' || at(s, v) == '{' ||
                (call &&
                 (strcmp(w, "list") == 0 || strcmp(w, "dict") == 0 || strcmp(w, "set") == 0)))
                report(s, r, j, out);
        }
        i = close > i ? close - 3 : i;
    }
}

/* The SQL statement words, each with the word that must follow somewhere in the literal. */
static const char *const sql_pairs[][2] = {
    {"select", "from"}, {"insert", "into"}, {"update", "set"}, {"delete", "from"}};

static bool looks_like_sql(const char *t, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)t[i]))
        i++;
    for (size_t k = 0; k < sizeof(sql_pairs) / sizeof(sql_pairs[0]); k++) {
        size_t n = strlen(sql_pairs[k][0]);
        if (len - i > n && strncasecmp(t + i, sql_pairs[k][0], n) == 0 &&
            isspace((unsigned char)t[i + n])) {
            const char *w = sql_pairs[k][1];
            size_t wn = strlen(w);
            for (size_t j = i + n; j + wn <= len; j++)
                if (strncasecmp(t + j, w, wn) == 0)
                    return true;
        }
    }
    return false;
}

/* A SQL literal glued to values: an f-string or template with placeholders, `+` on either
 * side (to a non-literal), Python's `%` or `.format(`, or a C printf-family format with %s. */
static void check_sql(const struct source *s, const struct bug_rule *r, struct findings *out)
{
    bool py = s->lang == LANG_PYTHON,
         c = lang_family(s->lang) == FAMILY_C && !(LANGS_JS & LANG_BIT(s->lang));
    for (size_t k = 0; k < s->nstrs; k++) {
        const struct code_string *lit = &s->strs[k];
        if (!looks_like_sql(s->text + lit->body, lit->body_end - lit->body))
            continue;
        bool dynamic = (lit->flags & STR_FORMAT) != 0;
        size_t nx = scan_skip_ws(s, lit->end, s->len);
        size_t pv = scan_prev(s, lit->off);
        char after = at(s, nx), before = pv != SCAN_NONE ? s->code[pv] : '\0';
        if (after == '+' && at(s, scan_skip_ws(s, nx + 1, s->len)) != '"' &&
            at(s, scan_skip_ws(s, nx + 1, s->len)) != '\'')
            dynamic = true;
        if (before == '+' && pv > 0 && at(s, scan_prev(s, pv)) != '"' &&
            at(s, scan_prev(s, pv)) != '\'')
            dynamic = true;
        if (py && (after == '%' ||
                   (after == '.' && scan_word_at(s, scan_skip_ws(s, nx + 1, s->len), "format"))))
            dynamic = true;
        if (c && memmem(s->text + lit->body, lit->body_end - lit->body, "%s", 2)) {
            size_t st = scan_stmt_start(s, lit->off);
            if (memmem(s->code + st, lit->off - st, "printf", 6))
                dynamic = true;
        }
        if (dynamic)
            report(s, r, lit->off, out);
    }
}

static const char *const secret_suffixes[] = {"password",  "passwd",  "pwd",       "secret",
                                              "apikey",    "token",   "secretkey", "privatekey",
                                              "accesskey", "authkey", NULL};

/* True when an identifier names a credential: its letters (no _ or -), lower-cased, end
 * with one of the suffixes ("DB_PASSWORD", "apiKey", "github_token"). */
static bool secret_name(const char *id)
{
    char low[64];
    size_t o = 0;
    for (; *id && o + 1 < sizeof(low); id++)
        if (*id != '_' && *id != '-')
            low[o++] = (char)tolower((unsigned char)*id);
    low[o] = '\0';
    for (const char *const *sfx = secret_suffixes; *sfx; sfx++) {
        size_t n = strlen(*sfx);
        if (o >= n && strcmp(low + o - n, *sfx) == 0)
            return true;
    }
    return false;
}

/* name = "literal", name := "literal", name: "literal" (JS objects), with a non-empty
 * literal that is the whole value. */
static void check_secret(const struct source *s, const struct bug_rule *r, struct findings *out)
{
    for (size_t k = 0; k < s->nstrs; k++) {
        const struct code_string *lit = &s->strs[k];
        if (lit->body_end == lit->body || (lit->flags & STR_FORMAT))
            continue;
        size_t op = scan_prev(s, lit->off);
        if (op == SCAN_NONE || (s->code[op] != '=' && s->code[op] != ':'))
            continue;
        size_t name_end = op;
        if (s->code[op] == '=') {
            if (op > 0 && strchr("=!<>", s->code[op - 1]))
                continue;
            if (op > 0 && s->code[op - 1] == ':')
                name_end = op - 1;
        }
        size_t e = lit->end;
        while (e < s->len && (s->code[e] == ' ' || s->code[e] == '\t' || s->code[e] == '\r'))
            e++;
        if (at(s, e) && !strchr(";,)}\n", at(s, e)))
            continue; /* part of a larger expression */
        char name[64];
        if (scan_ident_before(s, name_end, name, sizeof(name)) != SCAN_NONE && secret_name(name))
            report(s, r, lit->off, out);
    }
}

/* x == None, None != x */
static void check_none_compare(const struct source *s, const struct bug_rule *r,
                               struct findings *out)
{
    for (size_t i = next_word(s, 0, "None"); i != SCAN_NONE; i = next_word(s, i + 4, "None")) {
        size_t p = scan_prev(s, i), n = scan_skip_ws(s, i + 4, s->len);
        bool left = p != SCAN_NONE && p > 0 && s->code[p] == '=' && strchr("=!", s->code[p - 1]);
        bool right = strchr("=!", at(s, n)) && at(s, n) && at(s, n + 1) == '=';
        if (left || right)
            report(s, r, i, out);
    }
}

/* x is 1, x is not "a", "a" is x */
static void check_is_literal(const struct source *s, const struct bug_rule *r, struct findings *out)
{
    for (size_t i = next_word(s, 0, "is"); i != SCAN_NONE; i = next_word(s, i + 2, "is")) {
        size_t n = scan_skip_ws(s, i + 2, s->len);
        if (scan_word_at(s, n, "not"))
            n = scan_skip_ws(s, n + 3, s->len);
        if (at(s, n) == '-')
            n++;
        char c = at(s, n);
        size_t p = scan_prev(s, i);
        char b = p != SCAN_NONE ? s->code[p] : '\0';
        bool lit_right = isdigit((unsigned char)c) || source_string_at(s, n) != NULL;
        bool lit_left = b == '"' || b == '\'';
        if (lit_right || lit_left)
            report(s, r, i, out);
    }
}

/* subprocess.run(..., shell=True) */
static void check_shell_true(const struct source *s, const struct bug_rule *r, struct findings *out)
{
    for (size_t i = next_word(s, 0, "shell"); i != SCAN_NONE; i = next_word(s, i + 5, "shell")) {
        size_t e = scan_skip_ws(s, i + 5, s->len);
        if (at(s, e) == '=' && at(s, e + 1) != '=' &&
            scan_word_at(s, scan_skip_ws(s, e + 1, s->len), "True"))
            report(s, r, i, out);
    }
}

/* == and != (not === / !==), except against null (the idiom for null-or-undefined). */
static void check_loose_equality(const struct source *s, const struct bug_rule *r,
                                 struct findings *out)
{
    for (size_t i = 1; i + 1 < s->len; i++) {
        char c = s->code[i];
        if (s->code[i + 1] != '=' || (c != '=' && c != '!'))
            continue;
        if (at(s, i + 2) == '=' || (c == '=' && strchr("=!<>", s->code[i - 1]))) {
            i += 2;
            continue;
        }
        if (!scan_word_at(s, scan_skip_ws(s, i + 2, s->len), "null"))
            report(s, r, i, out);
        i++;
    }
}

/* `var name` declarations. */
static void check_var(const struct source *s, const struct bug_rule *r, struct findings *out)
{
    for (size_t i = next_word(s, 0, "var"); i != SCAN_NONE; i = next_word(s, i + 3, "var")) {
        size_t n = scan_skip_ws(s, i + 3, s->len);
        size_t p = scan_prev(s, i);
        if (n > i + 3 && (scan_is_ident(at(s, n)) || at(s, n) == '{' || at(s, n) == '[') &&
            (p == SCAN_NONE || s->code[p] != '.'))
            report(s, r, i, out);
    }
}

/* el.innerHTML = ... or += ... */
static void check_inner_html(const struct source *s, const struct bug_rule *r, struct findings *out)
{
    for (size_t i = next_word(s, 0, "innerHTML"); i != SCAN_NONE;
         i = next_word(s, i + 9, "innerHTML")) {
        size_t n = scan_skip_ws(s, i + 9, s->len);
        if (at(s, n) == '+')
            n++;
        if (at(s, n) == '=' && at(s, n + 1) != '=' && i > 0 && s->code[i - 1] == '.')
            report(s, r, i, out);
    }
}

/* if (x = 1) / while (x = next()): a single '=' directly inside the condition's parentheses
 * (an extra pair, `if ((x = f()))`, says it is meant). */
static void check_assign_in_condition(const struct source *s, const struct bug_rule *r,
                                      struct findings *out)
{
    static const char *const words[] = {"if", "while"};
    for (size_t w = 0; w < 2; w++) {
        size_t n = strlen(words[w]);
        for (size_t i = next_word(s, 0, words[w]); i != SCAN_NONE;
             i = next_word(s, i + n, words[w])) {
            size_t open = scan_skip_ws(s, i + n, s->len);
            if (at(s, open) != '(')
                continue;
            size_t close = scan_match(s, open);
            long depth = 0;
            for (size_t j = next_inner_equals(s, open, close, &depth); j < close;
                 j = next_inner_equals(s, j + 1, close, &depth)) {
                if (!strchr("=!<>+-*/%&|^", s->code[j - 1]) && !strchr("=>", at(s, j + 1))) {
                    report(s, r, j, out);
                    break;
                }
            }
        }
    }
}

/* p = malloc(n); followed by a use of p (p[i], *p, p->x, f(p)) before any test of it (if,
 * while, assert, return, !p, p == NULL). */
static bool malloc_first_mention_checked(const struct source *s, size_t use, const char *var)
{
    char w[16];
    scan_stmt_word(s, use, w, sizeof(w));
    if (strcmp(w, "if") == 0 || strcmp(w, "while") == 0 || strcmp(w, "assert") == 0 ||
        strcmp(w, "return") == 0 || strcmp(w, "free") == 0 || strcmp(w, "for") == 0)
        return true;
    size_t p = scan_prev(s, use);
    size_t n = scan_skip_ws(s, use + strlen(var), s->len);
    if (p != SCAN_NONE && (s->code[p] == '!' || s->code[p] == '?' || s->code[p] == '&'))
        return true;
    if (p != SCAN_NONE && p > 0 && s->code[p] == '=' && strchr("=!", s->code[p - 1]))
        return true;
    if ((at(s, n) == '=' || at(s, n) == '!') && at(s, n + 1) == '=')
        return true;
    if ((at(s, n) == '&' && at(s, n + 1) == '&') || (at(s, n) == '|' && at(s, n + 1) == '|') ||
        at(s, n) == '?')
        return true;
    return false;
}

static void check_malloc(const struct source *s, const struct bug_rule *r, struct findings *out)
{
    static const char *const allocs[] = {"malloc", "calloc", "realloc"};
    for (size_t a = 0; a < 3; a++) {
        size_t n = strlen(allocs[a]);
        for (size_t i = next_word(s, 0, allocs[a]); i != SCAN_NONE;
             i = next_word(s, i + n, allocs[a])) {
            if (at(s, scan_skip_ws(s, i + n, s->len)) != '(')
                continue;
            size_t p = scan_prev(s, i);
            if (p != SCAN_NONE && s->code[p] == ')') { /* a cast: (char *)malloc(...) */
                size_t depth = 0, k = p + 1;
                while (k > 0) {
                    k--;
                    if (s->code[k] == ')')
                        depth++;
                    else if (s->code[k] == '(' && --depth == 0)
                        break;
                }
                p = scan_prev(s, k);
            }
            if (p == SCAN_NONE || s->code[p] != '=' || (p > 0 && strchr("=!<>", s->code[p - 1])))
                continue;
            char var[64];
            if (scan_ident_before(s, p, var, sizeof(var)) == SCAN_NONE)
                continue;
            char w[16];
            scan_stmt_word(s, i, w, sizeof(w));
            if (strcmp(w, "if") == 0 || strcmp(w, "while") == 0)
                continue; /* if ((p = malloc(n)) == NULL) */
            size_t end = scan_stmt_end(s, i);
            size_t use = next_word(s, end, var);
            if (use != SCAN_NONE && !malloc_first_mention_checked(s, use, var))
                report(s, r, i, out);
        }
    }
}

static const struct bug_rule rules[] = {
    /* Python */
    {"py.bare-except", LANGS_PY, "medium",
     "bare 'except:' also catches SystemExit and KeyboardInterrupt; catch Exception or narrower",
     check_bare_except, NULL},
    {"py.mutable-default", LANGS_PY, "medium",
     "mutable default argument is shared between calls; default to None and create it inside",
     check_mutable_default, NULL},
    {"py.eval", LANGS_PY, "high", "eval() runs arbitrary code; use ast.literal_eval or a parser",
     check_call, "eval"},
    {"py.exec", LANGS_PY, "high", "exec() runs arbitrary code", check_call, "exec"},
    {"py.sql-injection", LANGS_PY, "critical",
     "SQL built from values by formatting or concatenation; use query parameters", check_sql, NULL},
    {"py.hardcoded-secret", LANGS_PY, "high",
     "credential assigned a literal; read it from the environment or a secret store", check_secret,
     NULL},
    {"py.none-comparison", LANGS_PY, "low",
     "compare with None using 'is' / 'is not', not == / !=", check_none_compare, NULL},
    {"py.is-literal", LANGS_PY, "medium",
     "'is' with a literal compares identity, not value; use ==", check_is_literal, NULL},
    {"py.shell-true", LANGS_PY, "high",
     "shell=True passes the command through the shell (injection risk); pass an argument list",
     check_shell_true, NULL},
    /* JavaScript and TypeScript */
    {"js.eval", LANGS_JS, "high", "eval() runs arbitrary code", check_call, "eval"},
    {"js.loose-equality", LANGS_JS, "low",
     "== / != coerce types; use === / !==", check_loose_equality, NULL},
    {"js.var", LANGS_JS, "low", "'var' is function-scoped and hoisted; use let or const", check_var,
     NULL},
    {"js.sql-injection", LANGS_JS, "critical",
     "SQL built from values by concatenation or a template; use query parameters", check_sql, NULL},
    {"js.hardcoded-secret", LANGS_JS, "high",
     "credential assigned a literal; read it from the environment or a secret store", check_secret,
     NULL},
    {"js.inner-html", LANGS_JS, "medium",
     "assigning innerHTML can inject script (XSS); use textContent or sanitise", check_inner_html,
     NULL},
    {"js.assign-in-condition", LANGS_JS, "medium",
     "assignment inside a condition; did you mean === ?", check_assign_in_condition, NULL},
    /* C and C++ */
    {"c.gets", LANGS_C, "critical", "gets() cannot limit its input: buffer overflow; use fgets",
     check_call, "gets"},
    {"c.strcpy", LANGS_C, "high",
     "strcpy() does not check the destination size; use snprintf or strlcpy", check_call, "strcpy"},
    {"c.strcat", LANGS_C, "high", "strcat() does not check the destination size; use snprintf",
     check_call, "strcat"},
    {"c.sprintf", LANGS_C, "medium", "sprintf() does not check the buffer size; use snprintf",
     check_call, "sprintf"},
    {"c.system", LANGS_C, "high", "system() runs a shell command (injection risk); use exec*()",
     check_call, "system"},
    {"c.malloc-unchecked", LANGS_C, "high", "allocation result used before it is checked for NULL",
     check_malloc, NULL},
    {"c.assign-in-condition", LANGS_C, "medium",
     "assignment inside a condition; did you mean == ? (wrap in extra parentheses if meant)",
     check_assign_in_condition, NULL},
    {"c.sql-injection", LANGS_C, "critical",
     "SQL built with a printf-style format; use prepared statements with parameters", check_sql,
     NULL},
    {"c.hardcoded-secret", LANGS_C, "high",
     "credential assigned a literal; read it from the environment or a secret store", check_secret,
     NULL},
    /* Other languages: the credential check applies everywhere */
    {"go.hardcoded-secret", LANG_BIT(LANG_GO), "high",
     "credential assigned a literal; read it from the environment or a secret store", check_secret,
     NULL},
    {"java.hardcoded-secret", LANG_BIT(LANG_JAVA), "high",
     "credential assigned a literal; read it from the environment or a secret store", check_secret,
     NULL},
    {"rust.hardcoded-secret", LANG_BIT(LANG_RUST), "high",
     "credential assigned a literal; read it from the environment or a secret store", check_secret,
     NULL},
    {"sh.hardcoded-secret", LANG_BIT(LANG_SHELL), "high",
     "credential assigned a literal; read it from the environment or a secret store", check_secret,
     NULL},
};

void bugs_detect(const struct source *s, struct findings *out)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (rules[i].langs & LANG_BIT(s->lang))
            rules[i].check(s, &rules[i], out);
    findings_finish(out);
}

size_t bugs_count(void) { return sizeof(rules) / sizeof(rules[0]); }
const char *bugs_rule_id(size_t i) { return rules[i].id; }
const char *bugs_rule_severity(size_t i) { return rules[i].severity; }
