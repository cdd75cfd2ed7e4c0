/* jsonpath — path strings for errors and violations (see jsonpath.h). */
#include "worker/agents/data_processor/jsonpath.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void append(struct jsonpath *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct jsonpath *p, const char *fmt, ...)
{
    if (p->len >= sizeof(p->text) - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->text + p->len, sizeof(p->text) - p->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(p->text) - p->len) {
        p->len = sizeof(p->text) - 1;
        memcpy(p->text + p->len - 3, "...", 3);
    } else {
        p->len += (size_t)n;
    }
}

void jsonpath_init(struct jsonpath *p, const char *root)
{
    p->len = 0;
    p->text[0] = '\0';
    append(p, "%s", root);
}

static bool is_identifier(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '$'))
            return false;
    return true;
}

size_t jsonpath_key(struct jsonpath *p, const char *key)
{
    size_t before = p->len;
    if (is_identifier(key)) {
        append(p, "%s%s", p->len ? "." : "", key);
        return before;
    }
    append(p, "[\"");
    for (const unsigned char *c = (const unsigned char *)key; *c; c++) {
        if (*c == '"' || *c == '\\')
            append(p, "\\%c", *c);
        else if (*c < 0x20)
            append(p, "\\u%04x", *c);
        else
            append(p, "%c", *c);
    }
    append(p, "\"]");
    return before;
}

size_t jsonpath_index(struct jsonpath *p, size_t index)
{
    size_t before = p->len;
    append(p, "[%zu]", index);
    return before;
}

void jsonpath_pop(struct jsonpath *p, size_t len)
{
    if (len < p->len) {
        p->len = len;
        p->text[len] = '\0';
    }
}
