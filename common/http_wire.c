/* http_wire — plain HTTP/1.1 over one keep-alive TCP connection (see http_wire.h). */
#include "common/http_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct http_wire {
    char *host, *port;
    int fd;      /* -1 while not connected */
    char *in;    /* the answer as received */
    size_t in_len, in_cap;
    bool eof;    /* the server closed its side */
};

/* What one call is doing: its deadline and where its reason goes. */
struct call {
    struct http_wire *w;
    long long deadline_ms;
    long timeout_ms;
    char *err;
    size_t errlen;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_body_append(struct strbuf *b, const char *data, size_t n)
{
    if (b->len + n > HTTP_WIRE_MAX_ANSWER)
        return -1;
    return strbuf_add(b, data, n);
}

struct http_wire *http_wire_new(const char *host, const char *port)
{
    struct http_wire *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->fd = -1;
    w->host = strdup(host);
    w->port = strdup(port);
    if (!w->host || !w->port) {
        http_wire_free(w);
        return NULL;
    }
    return w;
}

static void disconnect(struct http_wire *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    w->in_len = 0;
    w->eof = false;
}

void http_wire_free(struct http_wire *w)
{
    if (!w)
        return;
    disconnect(w);
    free(w->host);
    free(w->port);
    free(w->in);
    free(w);
}

/* "<what> host:port[: detail]" as the call's reason; -1. */
static int fail(struct call *c, const char *what, const char *detail)
{
    snprintf(c->err, c->errlen, "%s %s:%s%s%s", what, c->w->host, c->w->port, detail ? ": " : "",
             detail ? detail : "");
    return -1;
}

/* Waits until fd is ready for events or the deadline passes (-1, reason set). */
static int wait_for(struct call *c, short events, long long deadline_ms, const char *what)
{
    for (;;) {
        long long left = deadline_ms - now_ms();
        if (left <= 0) {
            snprintf(c->err, c->errlen, "timed out after %ld ms %s %s:%s", c->timeout_ms, what,
                     c->w->host, c->w->port);
            return -1;
        }
        struct pollfd p = {.fd = c->w->fd, .events = events};
        int n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return fail(c, "cannot wait on", strerror(errno));
    }
}

static int connect_to(struct call *c, long connect_ms)
{
    struct http_wire *w = c->w;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(w->host, w->port, &hints, &res);
    if (rc != 0)
        return fail(c, "cannot resolve", gai_strerror(rc));
    long long connect_deadline = now_ms() + connect_ms;
    if (connect_deadline > c->deadline_ms)
        connect_deadline = c->deadline_ms;
    int last_errno = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        w->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (w->fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(w->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        if (connect(w->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return 0;
        }
        if (errno == EINPROGRESS) {
            if (wait_for(c, POLLOUT, connect_deadline, "connecting to") < 0) {
                freeaddrinfo(res);
                disconnect(w);
                return -1;
            }
            int so = 0;
            socklen_t len = sizeof(so);
            getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &so, &len);
            if (so == 0) {
                freeaddrinfo(res);
                return 0;
            }
            last_errno = so;
        } else {
            last_errno = errno;
        }
        disconnect(w);
    }
    freeaddrinfo(res);
    return fail(c, "cannot connect to", strerror(last_errno));
}

static int write_all(struct call *c, const char *head, size_t head_len, const char *body, size_t body_len)
{
    struct iovec iov[2] = {{(void *)(uintptr_t)head, head_len}, {(void *)(uintptr_t)body, body_len}};
    size_t left = head_len + body_len;
    while (left > 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t n = sendmsg(c->w->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                if (wait_for(c, POLLOUT, c->deadline_ms, "sending to") < 0)
                    return -1;
                continue;
            }
            if (errno == EPIPE || errno == ECONNRESET)
                c->w->eof = true; /* the server had closed the connection */
            return fail(c, "cannot send to", strerror(errno));
        }
        left -= (size_t)n;
        for (int i = 0; i < 2 && n > 0; i++) {
            size_t take = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + take;
            iov[i].iov_len -= take;
            n -= (ssize_t)take;
        }
    }
    return 0;
}

/* Reads more of the answer. 0 when bytes came, 1 at the end of the connection, -1 on error. */
static int read_more(struct call *c)
{
    struct http_wire *w = c->w;
    if (w->in_len + 1 >= w->in_cap) {
        if (w->in_cap >= HTTP_WIRE_MAX_ANSWER) {
            snprintf(c->err, c->errlen, "the answer from %s:%s is larger than %u bytes", w->host, w->port,
                     HTTP_WIRE_MAX_ANSWER);
            return -1;
        }
        size_t cap = w->in_cap ? w->in_cap * 2 : 16384;
        char *grown = realloc(w->in, cap);
        if (!grown)
            return fail(c, "out of memory reading from", NULL);
        w->in = grown;
        w->in_cap = cap;
    }
    for (;;) {
        ssize_t n = recv(w->fd, w->in + w->in_len, w->in_cap - w->in_len - 1, 0);
        if (n > 0) {
            w->in_len += (size_t)n;
            w->in[w->in_len] = '\0';
            return 0;
        }
        if (n == 0) {
            w->eof = true;
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            if (wait_for(c, POLLIN, c->deadline_ms, "waiting for an answer from") < 0)
                return -1;
            continue;
        }
        if (errno == ECONNRESET) {
            w->eof = true;
            return 1;
        }
        return fail(c, "cannot read from", strerror(errno));
    }
}

/* Makes sure the answer holds at least `want` bytes. -1 if it ends first or on error. */
static int need(struct call *c, size_t want)
{
    while (c->w->in_len < want) {
        int rc = read_more(c);
        if (rc != 0)
            return rc < 0 ? -1 : fail(c, "connection closed in the middle of an answer from", NULL);
    }
    return 0;
}

/* Finds "\r\n" at or after from, reading more as needed; its offset, or -1. */
static long line_end(struct call *c, size_t from, size_t limit)
{
    for (;;) {
        struct http_wire *w = c->w;
        char *p = w->in_len > from ? memmem(w->in + from, w->in_len - from, "\r\n", 2) : NULL;
        if (p)
            return p - w->in;
        if (w->in_len > from && w->in_len - from > limit)
            return fail(c, "line too long in the answer from", NULL);
        if (need(c, w->in_len + 1) < 0)
            return -1;
    }
}

/* The value of header `name` within head[0, len), or NULL; *vlen its length. */
static const char *header(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *end = head + len;
    for (const char *p = memchr(head, '\n', len); p && p + 1 < end; p = memchr(p, '\n', (size_t)(end - p))) {
        p++;
        if ((size_t)(end - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1, *e = memchr(v, '\r', (size_t)(end - v));
            if (!e)
                return NULL;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            *vlen = (size_t)(e - v);
            return v;
        }
    }
    return NULL;
}

static bool value_has(const char *v, size_t vlen, const char *token)
{
    size_t tlen = strlen(token);
    for (size_t i = 0; v && i + tlen <= vlen; i++)
        if (strncasecmp(v + i, token, tlen) == 0)
            return true;
    return false;
}

static int chunked_body(struct call *c, size_t pos, struct strbuf *out, size_t *end)
{
    for (;;) {
        long eol = line_end(c, pos, 1024);
        if (eol < 0)
            return -1;
        char *num_end;
        errno = 0;
        unsigned long long size = strtoull(c->w->in + pos, &num_end, 16);
        if (num_end == c->w->in + pos || errno || size > HTTP_WIRE_MAX_ANSWER)
            return fail(c, "bad chunk size in the answer from", NULL);
        pos = (size_t)eol + 2;
        if (size == 0)
            break;
        if (need(c, pos + size + 2) < 0)
            return -1;
        if (memcmp(c->w->in + pos + size, "\r\n", 2) != 0)
            return fail(c, "chunk without its line end in the answer from", NULL);
        if (http_body_append(out, c->w->in + pos, size) < 0)
            return fail(c, "answer too large from", NULL);
        pos += size + 2;
    }
    for (;;) { /* trailers, up to the blank line */
        long eol = line_end(c, pos, HTTP_WIRE_MAX_HEAD);
        if (eol < 0)
            return -1;
        bool blank = (size_t)eol == pos;
        pos = (size_t)eol + 2;
        if (blank)
            break;
    }
    *end = pos;
    return 0;
}

/* Reads one answer (skipping 1xx interim answers) into out; an answer to a HEAD request
 * has no body. Its status, or -1. *keep says whether the connection may carry the next
 * request. */
static int read_answer(struct call *c, bool head_request, struct strbuf *out, bool *keep)
{
    struct http_wire *w = c->w;
    size_t start = 0;
    for (;;) {
        char *blank;
        while (!(blank = w->in_len > start ? memmem(w->in + start, w->in_len - start, "\r\n\r\n", 4) : NULL)) {
            if (w->in_len - start > HTTP_WIRE_MAX_HEAD)
                return fail(c, "answer head too large from", NULL);
            int rc = read_more(c);
            if (rc < 0)
                return -1;
            if (rc > 0)
                return fail(c, w->in_len > start ? "connection closed in the middle of an answer from"
                                                 : "connection closed without an answer from",
                            NULL);
        }
        const char *head = w->in + start;
        size_t head_len = (size_t)(blank - head) + 2, pos = (size_t)(blank - w->in) + 4;
        int minor = 0, status = 0;
        if (sscanf(head, "HTTP/1.%1d %3d", &minor, &status) != 2 || status < 100 || status > 999)
            return fail(c, "no HTTP/1.x answer from", NULL);
        if (status < 200) { /* 100 Continue and friends: the real answer follows */
            start = pos;
            continue;
        }
        size_t vlen = 0;
        const char *conn = header(head, head_len, "Connection", &vlen);
        *keep = minor >= 1 ? !value_has(conn, vlen, "close") : value_has(conn, vlen, "keep-alive");
        const char *te = header(head, head_len, "Transfer-Encoding", &vlen);
        size_t cl_len = 0;
        const char *cl = header(head, head_len, "Content-Length", &cl_len);
        size_t end = pos;
        if (head_request || status == 204 || status == 304) {
            /* no body */
        } else if (te && value_has(te, vlen, "chunked")) {
            if (chunked_body(c, pos, out, &end) < 0)
                return -1;
        } else if (cl) {
            char *num_end;
            errno = 0;
            unsigned long long n = strtoull(cl, &num_end, 10);
            if (num_end != cl + cl_len || cl_len == 0 || errno || n > HTTP_WIRE_MAX_ANSWER)
                return fail(c, "bad Content-Length in the answer from", NULL);
            if (need(c, pos + n) < 0)
                return -1;
            if (http_body_append(out, w->in + pos, n) < 0)
                return fail(c, "answer too large from", NULL);
            end = pos + n;
        } else { /* the body runs to the end of the connection */
            for (;;) {
                int rc = read_more(c);
                if (rc < 0)
                    return -1;
                if (rc > 0)
                    break;
            }
            if (http_body_append(out, w->in + pos, w->in_len - pos) < 0)
                return fail(c, "answer too large from", NULL);
            end = w->in_len;
            *keep = false;
        }
        if (end != w->in_len) /* bytes nobody asked for: do not trust this connection again */
            *keep = false;
        return status;
    }
}

int http_wire_send(struct http_wire *w, const char *head, size_t head_len, const char *body,
                   size_t body_len, long timeout_ms, long connect_ms, struct strbuf *out, char *err,
                   size_t errlen)
{
    struct call c = {w, now_ms() + timeout_ms, timeout_ms, err, errlen};
    bool head_request = head_len > 5 && memcmp(head, "HEAD ", 5) == 0;
    for (int attempt = 0;; attempt++) {
        out->len = 0;
        if (out->p)
            out->p[0] = '\0';
        bool reused = w->fd >= 0;
        if (!reused && connect_to(&c, connect_ms) < 0)
            return 0;
        w->in_len = 0;
        w->eof = false;
        bool keep = false;
        int status = write_all(&c, head, head_len, body, body_len) < 0 ? -1 : read_answer(&c, head_request, out, &keep);
        if (status > 0) {
            if (!keep || w->eof)
                disconnect(w);
            w->in_len = 0;
            return status;
        }
        /* A keep-alive connection the server had already closed: nothing was answered, so
         * the request was not handled; send it once more on a new connection. */
        bool stale = reused && attempt == 0 && w->in_len == 0 && w->eof;
        disconnect(w);
        if (!stale)
            return 0;
    }
}
