/* scan — cursor helpers over the code-only view; see scan.h. Searches for a bracket's match
 * or a statement's ends look at most SCAN_WINDOW bytes away, so a hostile input (thousands
 * of unclosed brackets) costs linear time, not quadratic. */
#include "worker/agents/code_analyzer/scan.h"

#include <string.h>

#define SCAN_WINDOW 8192

bool scan_is_ident(char c)
{
    unsigned char u = (unsigned char)c;
    return u == '_' || (u >= '0' && u <= '9') || ((u | 32) >= 'a' && (u | 32) <= 'z') || u >= 0x80;
}

bool scan_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool scan_word_at(const struct source *s, size_t i, const char *w)
{
    size_t n = strlen(w);
    if (i + n > s->len || memcmp(s->code + i, w, n) != 0)
        return false;
    if (i > 0 && scan_is_ident(s->code[i - 1]))
        return false;
    return i + n == s->len || !scan_is_ident(s->code[i + n]);
}

size_t scan_word(const struct source *s, size_t from, size_t to, const char *w)
{
    size_t n = strlen(w);
    if (to > s->len)
        to = s->len;
    while (from + n <= to) {
        const char *p = memchr(s->code + from, w[0], to - from - n + 1);
        if (!p)
            return SCAN_NONE;
        size_t i = (size_t)(p - s->code);
        if (scan_word_at(s, i, w))
            return i;
        from = i + 1;
    }
    return SCAN_NONE;
}

size_t scan_skip_ws(const struct source *s, size_t i, size_t end)
{
    if (end > s->len)
        end = s->len;
    while (i < end && scan_is_space(s->code[i]))
        i++;
    return i < end ? i : end;
}

size_t scan_prev(const struct source *s, size_t i)
{
    while (i > 0) {
        i--;
        if (!scan_is_space(s->code[i]))
            return i;
    }
    return SCAN_NONE;
}

size_t scan_match(const struct source *s, size_t open)
{
    char o = s->code[open];
    char c = o == '(' ? ')' : o == '[' ? ']' : '}';
    long depth = 0;
    size_t limit = s->len - open > SCAN_WINDOW ? open + SCAN_WINDOW : s->len;
    for (size_t i = open; i < limit; i++) {
        if (s->code[i] == o)
            depth++;
        else if (s->code[i] == c && --depth == 0)
            return i;
    }
    return s->len;
}

size_t scan_ident_before(const struct source *s, size_t i, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t e = scan_prev(s, i);
    if (e == SCAN_NONE || !scan_is_ident(s->code[e]))
        return SCAN_NONE;
    size_t b = e;
    while (b > 0 && scan_is_ident(s->code[b - 1]))
        b--;
    scan_ident_at(s, b, buf, len);
    return b;
}

size_t scan_ident_at(const struct source *s, size_t i, char *buf, size_t len)
{
    size_t o = 0;
    while (i < s->len && scan_is_ident(s->code[i])) {
        if (o + 1 < len)
            buf[o++] = s->code[i];
        i++;
    }
    if (len)
        buf[o] = '\0';
    return i;
}

size_t scan_line_end(const struct source *s, size_t i)
{
    const char *p = i < s->len ? memchr(s->code + i, '\n', s->len - i) : NULL;
    return p ? (size_t)(p - s->code) : s->len;
}

size_t scan_stmt_start(const struct source *s, size_t i)
{
    size_t b = i;
    if (lang_family(s->lang) != FAMILY_C) {
        while (b > 0 && s->code[b - 1] != '\n')
            b--;
    } else {
        long depth = 0;
        size_t limit = b > SCAN_WINDOW ? b - SCAN_WINDOW : 0;
        while (b > limit) {
            char c = s->code[b - 1];
            if (c == ')' || c == ']')
                depth++;
            else if ((c == '(' || c == '[') && depth > 0)
                depth--;
            else if (depth == 0 && (c == ';' || c == '{' || c == '}'))
                break;
            b--;
        }
    }
    return scan_skip_ws(s, b, i);
}

size_t scan_stmt_end(const struct source *s, size_t i)
{
    long depth = 0;
    size_t limit = s->len - i > SCAN_WINDOW ? i + SCAN_WINDOW : s->len;
    for (; i < limit; i++) {
        char c = s->code[i];
        if (c == '(' || c == '[')
            depth++;
        else if ((c == ')' || c == ']') && depth > 0)
            depth--;
        else if (depth == 0 && (c == ';' || c == '{' || c == '}'))
            return i;
    }
    return s->len;
}

void scan_stmt_word(const struct source *s, size_t i, char *buf, size_t len)
{
    size_t b = scan_stmt_start(s, i);
    scan_ident_at(s, b, buf, len);
}
