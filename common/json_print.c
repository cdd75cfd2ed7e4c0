/* json_print — compact JSON text of a cJSON tree, as cJSON_PrintUnformatted writes it but without
 * its cost: cJSON 1.7.15 prints every number with sprintf("%1.15g") and reads it back with sscanf
 * to check it, even 17 or 0, and that round trip dominates printing job outcomes
 * (docs/measurements.md). Integers are written digit by digit here; other numbers keep cJSON's rule
 * (15 significant digits unless that loses the value, then 17), checked exactly with strtod where
 * cJSON accepted a near miss. Strings are escaped as cJSON escapes them. */
#include "common/json_print.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/swar.h"

#define EXACT_INT_MAX 9007199254740992.0 /* 2^53: every integer up to here is a double */

static bool put(struct strbuf *o, const char *s, size_t n) { return strbuf_add(o, s, n) == 0; }

size_t json_print_number(double d, char buf[JSON_NUMBER_MAX])
{
    if (isnan(d) || isinf(d))
        return (size_t)snprintf(buf, JSON_NUMBER_MAX, "null");
    if (d == floor(d) && fabs(d) < EXACT_INT_MAX && !(d == 0 && signbit(d))) {
        char digits[24];
        size_t n = 0;
        unsigned long long v = (unsigned long long)fabs(d);
        do {
            digits[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        size_t len = 0;
        if (d < 0)
            buf[len++] = '-';
        while (n)
            buf[len++] = digits[--n];
        buf[len] = '\0';
        return len;
    }
    int len = snprintf(buf, JSON_NUMBER_MAX, "%1.15g", d);
    if (strtod(buf, NULL) != d)
        len = snprintf(buf, JSON_NUMBER_MAX, "%1.17g", d);
    return (size_t)len;
}

static bool put_string(struct strbuf *o, const char *s);

int json_print_string(struct strbuf *b, const char *s)
{
    size_t len = b->len;
    if (put_string(b, s))
        return 0;
    strbuf_truncate(b, len);
    return -1;
}

static bool put_string(struct strbuf *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!put(o, "\"", 1))
        return false;
    const char *run = s, *end = s + strlen(s), *p = s;
    while (p < end) {
        /* Eight bytes at a time past text that needs no escape. */
        while (end - p >= 8) {
            uint64_t v = swar_load(p);
            uint64_t special = swar_below(v, 0x20) | swar_equal(v, '"') | swar_equal(v, '\\');
            if (special) {
                p += swar_first(special);
                break;
            }
            p += 8;
        }
        if (p >= end)
            break;
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (!put(o, run, (size_t)(p - run)) || !put(o, esc, n))
            return false;
        run = ++p;
    }
    return put(o, run, (size_t)(end - run)) && put(o, "\"", 1);
}

static bool put_item(struct strbuf *o, const cJSON *item)
{
    switch (item->type & 0xFF) {
    case cJSON_NULL: return put(o, "null", 4);
    case cJSON_False: return put(o, "false", 5);
    case cJSON_True: return put(o, "true", 4);
    case cJSON_Number: {
        if (item->valuestring)
            return put(o, item->valuestring, strlen(item->valuestring));
        char buf[JSON_NUMBER_MAX];
        size_t n = json_print_number(item->valuedouble, buf);
        return put(o, buf, n);
    }
    case cJSON_String: return item->valuestring && put_string(o, item->valuestring);
    case cJSON_Raw:
        return item->valuestring && put(o, item->valuestring, strlen(item->valuestring));
    case cJSON_Array:
    case cJSON_Object: {
        bool object = (item->type & 0xFF) == cJSON_Object;
        if (!put(o, object ? "{" : "[", 1))
            return false;
        for (const cJSON *c = item->child; c; c = c->next) {
            if (c != item->child && !put(o, ",", 1))
                return false;
            if (object && (!c->string || !put_string(o, c->string) || !put(o, ":", 1)))
                return false;
            if (!put_item(o, c))
                return false;
        }
        return put(o, object ? "}" : "]", 1);
    }
    default: return false; /* cJSON_Invalid */
    }
}

int json_print_append(struct strbuf *b, const cJSON *item)
{
    size_t len = b->len;
    if (item && put_item(b, item))
        return 0;
    strbuf_truncate(b, len);
    return -1;
}

char *json_print(const cJSON *item)
{
    struct strbuf o = {0};
    if (json_print_append(&o, item) < 0) {
        free(o.p);
        return NULL;
    }
    return o.p;
}
