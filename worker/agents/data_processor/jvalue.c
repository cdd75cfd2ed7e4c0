/* jvalue — the one order, equality and canonical text of JSON values (see jvalue.h). */
#include "worker/agents/data_processor/jvalue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

enum rank { R_MISSING, R_NULL, R_FALSE, R_TRUE, R_NUMBER, R_STRING, R_ARRAY, R_OBJECT, R_OTHER };

static enum rank rank_of(const cJSON *v)
{
    if (!v)
        return R_MISSING;
    if (cJSON_IsNull(v))
        return R_NULL;
    if (cJSON_IsFalse(v))
        return R_FALSE;
    if (cJSON_IsTrue(v))
        return R_TRUE;
    if (cJSON_IsNumber(v))
        return R_NUMBER;
    if (cJSON_IsString(v))
        return R_STRING;
    if (cJSON_IsArray(v))
        return R_ARRAY;
    if (cJSON_IsObject(v))
        return R_OBJECT;
    return R_OTHER;
}

/* The member of obj with the smallest key greater than after (any key when after is NULL).
 * Walking an object this way visits its keys in sorted order without allocating; objects
 * in records are small, so the quadratic cost does not matter. */
static const cJSON *next_key(const cJSON *obj, const char *after)
{
    const cJSON *best = NULL;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (!c->string || (after && strcmp(c->string, after) <= 0))
            continue;
        if (!best || strcmp(c->string, best->string) < 0)
            best = c;
    }
    return best;
}

int jvalue_compare(const cJSON *a, const cJSON *b)
{
    enum rank ra = rank_of(a), rb = rank_of(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case R_NUMBER:
        return a->valuedouble < b->valuedouble ? -1 : a->valuedouble > b->valuedouble ? 1 : 0;
    case R_STRING: {
        int c = strcmp(a->valuestring, b->valuestring);
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    case R_ARRAY: {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next) {
            int c = jvalue_compare(x, y);
            if (c)
                return c;
        }
        return x ? 1 : y ? -1 : 0;
    }
    case R_OBJECT: {
        const cJSON *x = next_key(a, NULL), *y = next_key(b, NULL);
        for (; x && y; x = next_key(a, x->string), y = next_key(b, y->string)) {
            int c = strcmp(x->string, y->string);
            if (c)
                return c < 0 ? -1 : 1;
            c = jvalue_compare(x, y);
            if (c)
                return c;
        }
        return x ? 1 : y ? -1 : 0;
    }
    default: return 0;
    }
}

bool jvalue_equal(const cJSON *a, const cJSON *b) { return jvalue_compare(a, b) == 0; }

/* ---- canonical text ------------------------------------------------------------------ */

struct buf {
    struct strbuf s;
    bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (!b->oom && strbuf_add(&b->s, s, n) < 0)
        b->oom = true;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void put_string(struct buf *b, const char *s)
{
    put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': puts_(b, "\\\""); break;
        case '\\': puts_(b, "\\\\"); break;
        case '\n': puts_(b, "\\n"); break;
        case '\r': puts_(b, "\\r"); break;
        case '\t': puts_(b, "\\t"); break;
        case '\b': puts_(b, "\\b"); break;
        case '\f': puts_(b, "\\f"); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", *c);
                puts_(b, esc);
            } else {
                put(b, (const char *)c, 1);
            }
        }
    }
    put(b, "\"", 1);
}

static void put_number(struct buf *b, double d)
{
    char num[32];
    snprintf(num, sizeof(num), "%.15g", d);
    if (strtod(num, NULL) != d)
        snprintf(num, sizeof(num), "%.17g", d);
    puts_(b, num);
}

static void render(struct buf *b, const cJSON *v)
{
    switch (rank_of(v)) {
    case R_MISSING: puts_(b, "~"); break;
    case R_NULL: puts_(b, "null"); break;
    case R_FALSE: puts_(b, "false"); break;
    case R_TRUE: puts_(b, "true"); break;
    case R_NUMBER: put_number(b, v->valuedouble); break;
    case R_STRING: put_string(b, v->valuestring); break;
    case R_ARRAY:
        put(b, "[", 1);
        for (const cJSON *c = v->child; c; c = c->next) {
            render(b, c);
            if (c->next)
                put(b, ",", 1);
        }
        put(b, "]", 1);
        break;
    case R_OBJECT:
        put(b, "{", 1);
        for (const cJSON *c = next_key(v, NULL); c;) {
            put_string(b, c->string);
            put(b, ":", 1);
            render(b, c);
            c = next_key(v, c->string);
            if (c)
                put(b, ",", 1);
        }
        put(b, "}", 1);
        break;
    default: puts_(b, "null"); break;
    }
}

char *jvalue_render(const cJSON *v)
{
    struct buf b = {{0}, false};
    render(&b, v);
    if (b.oom) {
        free(b.s.p);
        return NULL;
    }
    return b.s.p;
}

const char *jvalue_type_name(const cJSON *v)
{
    static const char *const names[] = {"missing", "null",  "boolean", "boolean", "number",
                                        "string",  "array", "object",  "unknown"};
    return names[rank_of(v)];
}

int jvalue_depth(const cJSON *v)
{
    if (!v || !(cJSON_IsArray(v) || cJSON_IsObject(v)))
        return 0;
    int deepest = 0;
    for (const cJSON *c = v->child; c; c = c->next) {
        int d = jvalue_depth(c);
        if (d > deepest)
            deepest = d;
    }
    return deepest + 1;
}

const cJSON *jvalue_member(const cJSON *obj, const char *name)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}
