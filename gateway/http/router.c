/* router — segment-by-segment path matching with percent-decoded parameters. */
#include "gateway/http/router.h"

#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes src[0..len) into dst (NUL-terminated). Returns -1 on a bad escape or %00. */
static int decode_segment(const char *src, size_t len, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = hexval(src[i + 1]);
            int lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            dst[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dst[o++] = src[i];
        }
    }
    dst[o] = '\0';
    return 0;
}

/* Tries one pattern against path; fills params on success. */
static int match_pattern(const char *pattern, const char *path, struct route_match *m)
{
    const char *p = pattern, *s = path;
    size_t used = 0;
    m->nparams = 0;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return -1;
        p++;
        s++;
        size_t plen = strcspn(p, "/");
        size_t slen = strcspn(s, "/");
        if (p[0] == ':') {
            if (slen == 0 || m->nparams >= ROUTER_MAX_PARAMS || used + slen + 1 > sizeof(m->buf))
                return -1;
            char *dst = m->buf + used;
            if (decode_segment(s, slen, dst) < 0)
                return -1;
            m->params[m->nparams].name = p + 1;
            m->params[m->nparams].name_len = plen - 1;
            m->params[m->nparams].value = dst;
            m->nparams++;
            used += strlen(dst) + 1;
        } else if (plen != slen || strncmp(p, s, plen) != 0) {
            return -1;
        }
        p += plen;
        s += slen;
    }
    if (*s == '/' && s[1] == '\0')
        s++;
    return *p == '\0' && *s == '\0' ? 0 : -1;
}

int router_match(const struct route *table, size_t n, enum route_method method, const char *path,
                 struct route_match *m)
{
    m->route = NULL;
    m->nparams = 0;
    m->allowed = 0;
    if (!path || path[0] != '/' || strlen(path) > ROUTER_MAX_PATH)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (match_pattern(table[i].pattern, path, m) < 0)
            continue;
        if (table[i].method == method) {
            m->route = &table[i];
            return 0;
        }
        m->allowed |= (unsigned)table[i].method;
    }
    m->nparams = 0; /* a pattern tried last may have matched some before failing */
    return m->allowed ? -2 : -1;
}

const char *router_param(const struct route_match *m, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].name_len == len && strncmp(m->params[i].name, name, len) == 0)
            return m->params[i].value;
    return NULL;
}

const char *router_allow_header(unsigned methods, char *buf, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{METHOD_GET, "GET"},
                 {METHOD_POST, "POST"},
                 {METHOD_PUT, "PUT"},
                 {METHOD_DELETE, "DELETE"},
                 {METHOD_PATCH, "PATCH"}};
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(methods & names[i].bit))
            continue;
        size_t need = (o ? 2 : 0) + strlen(names[i].name);
        if (o + need >= len)
            break; /* whole names only */
        o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", names[i].name);
    }
    return buf;
}
