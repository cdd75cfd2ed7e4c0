/* chunkext — chunk extensions made readable to evhttp (chunkext.h). The rules below follow
 * libevent 2.1.12's http.c: evhttp_get_body (which requests have a body and how it is framed),
 * evhttp_get_body_length, evhttp_handle_chunked_read (a chunk's data is not followed by a
 * CRLF of its own: the CRLF is read as an empty size line, which is skipped) and
 * evhttp_read_trailer. */
#include "gateway/http/chunkext.h"

#include <string.h>
#include <strings.h>

static void start_request(struct chunkext *t)
{
    t->state = CHUNKEXT_HEAD;
    t->first_line = true;
    t->may_have_body = false;
    t->te_count = 0;
    t->chunked = false;
    t->has_length = false;
    t->length = 0;
}

static void start_line(struct chunkext *t)
{
    t->line_len = 0;
    t->cr_pending = false;
    t->size = 0;
    t->size_done = false;
}

void chunkext_init(struct chunkext *t)
{
    memset(t, 0, sizeof(*t));
    start_request(t);
    start_line(t);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Only plain decimal digits are followed; evhttp's strtoll would also take a sign or blanks. */
static bool read_length(const char *s, uint64_t *out)
{
    if (!*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
        return false;
    uint64_t v = 0;
    for (; *s; s++)
        v = v * 10 + (uint64_t)(*s - '0');
    *out = v;
    return true;
}

/* The value of a header line as evhttp keeps it: leading spaces skipped, trailing blanks cut. */
static char *header_value(char *colon)
{
    char *v = colon + 1;
    v += strspn(v, " ");
    size_t len = strlen(v);
    while (len > 0 && strchr(" \t\r\n", v[len - 1]))
        v[--len] = '\0';
    return v;
}

static void head_line_done(struct chunkext *t)
{
    bool whole = t->line_len < CHUNKEXT_LINE_MAX;
    t->line[whole ? t->line_len : CHUNKEXT_LINE_MAX - 1] = '\0';
    if (t->line_len == 0) {
        if (t->first_line || t->te_count > 1) {
            t->state = CHUNKEXT_OFF; /* blank lines before a request, or an ambiguous body */
        } else if (!t->may_have_body) {
            start_request(t);
        } else if (t->te_count == 1 && t->chunked) {
            t->state = CHUNKEXT_SIZE;
        } else if (t->has_length && t->length > 0) {
            t->state = CHUNKEXT_BODY;
            t->left = t->length;
        } else {
            start_request(t); /* no body */
        }
        return;
    }
    if (t->first_line) {
        t->first_line = false;
        size_t method = strcspn(t->line, " ");
        t->may_have_body = (method == 4 && memcmp(t->line, "POST", 4) == 0) ||
                           (method == 3 && memcmp(t->line, "PUT", 3) == 0) ||
                           (method == 5 && memcmp(t->line, "PATCH", 5) == 0);
        return;
    }
    if (t->line[0] == ' ' || t->line[0] == '\t') {
        t->state = CHUNKEXT_OFF; /* a folded line continues the header before it */
        return;
    }
    char *colon = strchr(t->line, ':');
    if (!colon)
        return; /* evhttp refuses the request and closes */
    *colon = '\0';
    if (strcasecmp(t->line, "Transfer-Encoding") == 0) {
        if (++t->te_count == 1) {
            if (!whole)
                t->state = CHUNKEXT_OFF;
            else
                t->chunked = strcasecmp(header_value(colon), "chunked") == 0;
        }
    } else if (strcasecmp(t->line, "Content-Length") == 0 && !t->has_length) {
        if (!whole || !read_length(header_value(colon), &t->length))
            t->state = CHUNKEXT_OFF;
        t->has_length = true;
    }
}

/* One byte of a chunk-size line that is not its LF; p points at it in the buffer. */
static void size_byte(struct chunkext *t, char *p)
{
    if (t->size_done)
        return; /* an extension's text: evhttp ignores everything after the space */
    int d = hex_value(*p);
    if (d >= 0) {
        if (t->size > (UINT64_C(1) << 59)) {
            t->state = CHUNKEXT_OFF; /* evhttp refuses a size this large anyway */
            return;
        }
        t->size = t->size * 16 + (uint64_t)d;
        return;
    }
    if (t->line_len == 0) {
        t->state = CHUNKEXT_OFF; /* blanks, a sign or anything else evhttp's strtoll reads */
        return;
    }
    t->size_done = true;
    if (*p == ';' || *p == '\t')
        *p = ' ';
    else if (*p != ' ')
        t->state = CHUNKEXT_OFF; /* evhttp refuses the line and closes */
}

static void line_done(struct chunkext *t)
{
    switch (t->state) {
    case CHUNKEXT_HEAD: head_line_done(t); break;
    case CHUNKEXT_SIZE:
        if (t->line_len == 0)
            break; /* the CRLF after a chunk's data */
        if (t->size == 0) {
            t->state = CHUNKEXT_TRAILER;
        } else {
            t->state = CHUNKEXT_DATA;
            t->left = t->size;
        }
        break;
    case CHUNKEXT_TRAILER:
        if (t->line_len == 0)
            start_request(t);
        break;
    default: break;
    }
    start_line(t);
}

/* One byte of a line (any state but BODY, DATA and OFF). */
static void line_byte(struct chunkext *t, char *p)
{
    if (*p == '\n') {
        line_done(t);
        return;
    }
    if (t->cr_pending) {
        /* A CR not followed by LF is part of the line; on a size line evhttp refuses it. */
        t->cr_pending = false;
        if (t->state == CHUNKEXT_SIZE) {
            t->state = CHUNKEXT_OFF;
            return;
        }
        if (t->state == CHUNKEXT_HEAD && t->line_len < CHUNKEXT_LINE_MAX)
            t->line[t->line_len] = '\r';
        t->line_len++;
    }
    if (*p == '\r') {
        t->cr_pending = true;
        return;
    }
    if (t->state == CHUNKEXT_SIZE)
        size_byte(t, p);
    else if (t->state == CHUNKEXT_HEAD && t->line_len < CHUNKEXT_LINE_MAX)
        t->line[t->line_len] = *p;
    t->line_len++;
}

static void follow(struct chunkext *t, char *p, size_t len)
{
    size_t i = 0;
    while (i < len && t->state != CHUNKEXT_OFF) {
        if (t->state == CHUNKEXT_BODY || t->state == CHUNKEXT_DATA) {
            size_t skip = t->left < len - i ? (size_t)t->left : len - i;
            i += skip;
            t->left -= skip;
            if (t->left == 0) {
                if (t->state == CHUNKEXT_BODY)
                    start_request(t);
                else
                    t->state = CHUNKEXT_SIZE;
            }
            continue;
        }
        line_byte(t, p + i);
        i++;
    }
}

void chunkext_feed(struct chunkext *t, struct evbuffer *buf, size_t from, size_t n)
{
    struct evbuffer_ptr at;
    if (n == 0 || t->state == CHUNKEXT_OFF ||
        evbuffer_ptr_set(buf, &at, from, EVBUFFER_PTR_SET) < 0)
        return;
    size_t left = n;
    while (left > 0 && t->state != CHUNKEXT_OFF) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(buf, (ev_ssize_t)left, &at, &v, 1) < 1 || v.iov_len == 0)
            break;
        size_t len = v.iov_len < left ? v.iov_len : left;
        follow(t, v.iov_base, len);
        left -= len;
        if (evbuffer_ptr_set(buf, &at, len, EVBUFFER_PTR_ADD) < 0)
            break;
    }
}
