/* log — logfmt lines on stderr, with quoting and secret redaction helpers. */
#include "common/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level) { current_level = level; }

enum log_level log_get_level(void) { return current_level; }

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < current_level)
        return;
    char line[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    /* One write per line so lines from several processes never interleave. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

const char *log_quote(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    if (len < 3) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        bool pair = *p == '"' || *p == '\\' || *p == '\n';
        if (o + (pair ? 2 : 1) + 2 > len)
            break; /* keep room for the closing quote and NUL */
        if (*p == '"' || *p == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)*p;
        } else if (*p == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else if (*p < 0x20 || *p == 0x7f) {
            buf[o++] = ' ';
        } else {
            buf[o++] = (char)*p;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* Appends n bytes of s to buf at *o, never past len - 1. */
static void put(char *buf, size_t len, size_t *o, const char *s, size_t n)
{
    while (n-- && *o + 1 < len)
        buf[(*o)++] = *s++;
    buf[*o] = '\0';
}

/* URL form: the userinfo password, and every password= in the query string. */
static void redact_url(const char *url, char *buf, size_t len)
{
    size_t o = 0;
    const char *auth = strstr(url, "://") + 3;
    put(buf, len, &o, url, (size_t)(auth - url));
    size_t host_end = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', host_end);
    const char *p = auth;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon) {
            put(buf, len, &o, auth, (size_t)(colon - auth));
            put(buf, len, &o, ":***", 4);
            p = at;
        }
    }
    while (*p) {
        bool key_start = p > url && (p[-1] == '?' || p[-1] == '&');
        if (key_start && !strncmp(p, "password=", 9)) {
            put(buf, len, &o, "password=***", 12);
            p += 9 + strcspn(p + 9, "&#");
        } else {
            put(buf, len, &o, p, 1);
            p++;
        }
    }
}

/* key = value form: values may be 'quoted' with \-escapes; spaces may surround '='. */
static void redact_conninfo(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    const char *p = s;
    while (*p) {
        const char *kstart = p;
        while (*p && *p != '=' && *p != ' ')
            p++;
        size_t klen = (size_t)(p - kstart);
        /* password, sslpassword, … */
        bool is_password = klen >= 8 && !strncmp(p - 8, "password", 8);
        while (*p == ' ')
            p++;
        if (*p != '=') { /* not a key: copy up to here and go on */
            put(buf, len, &o, kstart, (size_t)(p - kstart));
            if (p == kstart && *p)
                put(buf, len, &o, p++, 1);
            continue;
        }
        p++;
        while (*p == ' ')
            p++;
        const char *vstart = p;
        if (*p == '\'') {
            for (p++; *p && *p != '\''; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (*p)
                p++;
        } else {
            while (*p && *p != ' ')
                p++;
        }
        put(buf, len, &o, kstart, (size_t)(vstart - kstart));
        if (is_password)
            put(buf, len, &o, "***", 3);
        else
            put(buf, len, &o, vstart, (size_t)(p - vstart));
        while (*p == ' ')
            put(buf, len, &o, p++, 1);
    }
}

const char *log_redact_url(const char *url, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (!url)
        return buf;
    if (strstr(url, "://"))
        redact_url(url, buf, len);
    else
        redact_conninfo(url, buf, len);
    return buf;
}
