/* head — raw requests through libevent's own parser: the input is sent as it is over a
 * loopback connection to an evhttp server set up like the gateway's (the NUL guard and the
 * chunk-extension tracker on each connection, http_strict_check_head on each request, then a
 * 200), and the write side is closed so the server sees the end of it.
 *
 * Checks: whatever comes back is HTTP; the connection is closed in the end, nothing waits;
 * and no request whose header lines hold a NUL byte is accepted (evhttp reads header lines as
 * C strings, so a NUL would hide what follows it: the guard turns it into a byte the strict
 * check refuses). */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "gateway/http/chunkext.h"
#include "gateway/http/strict.h"

struct server {
    struct event_base *base;
    struct sockaddr_in addr;
};

struct exchange {
    int accepted;         /* requests that passed the strict check */
    struct strbuf answer; /* what came back */
    bool closed, timed_out;
};

static struct exchange *current;

static void handle(struct evhttp_request *req, void *arg)
{
    struct request *r = request_new(fuzz_gateway(), req);
    if (!r)
        abort();
    if (!http_strict_check_head(r))
        return;
    current->accepted++;
    request_reply(r, 200, "{}", 2);
}

static const struct server *server(void)
{
    static struct server s;
    if (s.base)
        return &s;
    struct evhttp *http = NULL;
    struct evhttp_bound_socket *bound = NULL;
    socklen_t len = sizeof(s.addr);
    if (!(s.base = event_base_new()) || !(http = evhttp_new(s.base)))
        abort();
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_PATCH | EVHTTP_REQ_CONNECT);
    evhttp_set_max_headers_size(http, 64 * 1024);
    static struct chunkext chunks; /* one connection at a time */
    evhttp_set_bevcb(http, http_strict_bevcb, &chunks);
    evhttp_set_gencb(http, handle, NULL);
    if (!(bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0)) ||
        getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&s.addr, &len) < 0)
        abort();
    return &s;
}

static void client_read(evutil_socket_t fd, short what, void *arg)
{
    struct exchange *x = arg;
    if (what & EV_TIMEOUT) {
        x->timed_out = true;
        event_base_loopbreak(server()->base);
        return;
    }
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
        if (strbuf_add(&x->answer, buf, (size_t)n) < 0)
            abort();
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    x->closed = true;
    event_base_loopbreak(server()->base);
}

/* Whether a header line of the first request (after its request line, before the blank line
 * ending its head) holds a NUL. */
static bool nul_in_header_lines(const uint8_t *data, size_t size)
{
    const uint8_t *p = memchr(data, '\n', size), *end = data + size;
    for (; p && p + 1 < end; p = memchr(p + 1, '\n', (size_t)(end - p - 1))) {
        const uint8_t *line = p + 1;
        if (*line == '\n' || (*line == '\r' && line + 1 < end && line[1] == '\n'))
            return false; /* the blank line */
        const uint8_t *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            return false; /* never ends: not a complete head */
        if (memchr(line, '\0', (size_t)(eol - line)))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct server *s = server();
    struct exchange x = {0};
    current = &x;
    /* Each run's client closes first, so its port stays in TIME_WAIT for a minute: thousands
     * of runs a second would use up the ephemeral ports of one address (connect then fails
     * with EADDRNOTAVAIL). Every address of 127/8 is loopback; each run takes the next one. */
    static uint32_t runs;
    int fd = -1;
    /* A connection the kernel refuses once in a great while (seen once in CI after some
     * 90,000 runs, with no fd growth) is the harness's trouble, not the server's: try the
     * next address, and say why if it keeps failing. */
    for (int tries = 0; fd < 0; tries++) {
        struct sockaddr_in from = {.sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl(0x7f000002u + runs++ % 0xfffff0u)};
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && bind(fd, (const struct sockaddr *)&from, sizeof(from)) == 0 &&
            connect(fd, (const struct sockaddr *)&s->addr, sizeof(s->addr)) == 0)
            break;
        int e = errno;
        if (fd >= 0)
            close(fd);
        fd = -1;
        if (tries == 4) {
            fprintf(stderr, "fuzz-head: cannot connect to the server: %s\n", strerror(e));
            abort();
        }
    }
    for (size_t o = 0; o < size;) { /* the socket buffers hold the input */
        ssize_t n = write(fd, data + o, size - o);
        if (n <= 0)
            abort();
        o += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    struct event *ev = event_new(s->base, fd, EV_READ | EV_PERSIST, client_read, &x);
    const struct timeval limit = {5, 0};
    if (!ev || event_add(ev, &limit) < 0)
        abort();
    event_base_dispatch(s->base);
    event_free(ev);
    close(fd);
    FUZZ_CHECK(x.closed, "the server neither answered nor closed within 5 s");
    FUZZ_CHECK(x.answer.len == 0 || strncmp(x.answer.p, "HTTP/", 5) == 0,
               "the answer is not HTTP: %.80s", x.answer.p);
    FUZZ_CHECK(!x.accepted || !nul_in_header_lines(data, size),
               "a request with a NUL in a header line was accepted");
    free(x.answer.p);
    return 0;
}
