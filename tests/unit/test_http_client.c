/* Unit tests for common/http_client (libcurl), against a scripted HTTP server on a loopback
 * port in a thread of this process: the request as sent (request line with the base URL's
 * path, Host, Authorization, Content-Length, no Expect round trip), answers with
 * Content-Length, chunked or running to the end of the connection, HEAD (no body), 100
 * Continue, keep-alive reuse, a keep-alive the server dropped (sent again on a new
 * connection), non-2xx answers, no answer, a server closing mid-answer, timeouts, answers
 * too large, refused connections, malformed answers, unusable URLs, and https. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/http_client.h"
#include "tests/unit/harness.h"

/* What the server does on one connection: answers each request in turn, then closes (or,
 * with linger_ms, first waits that long). A NULL answer means: read the request, answer
 * nothing. With greet, answers[0] is sent as soon as the connection is accepted, before
 * anything is read. */
struct conn_script {
    const char *answers[3];
    int linger_ms;
    bool greet;
};

struct server {
    int fd, port;
    const struct conn_script *conns;
    int nconns, accepted;
    char requests[4][2048]; /* the requests received, in order */
    int nrequests;
    pthread_t thread;
};

/* Reads one request (head and Content-Length body) into buf; false at the end. */
static bool read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    char *end = NULL;
    while (!(end = strstr(buf, "\r\n\r\n"))) {
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
    }
    const char *cl = strstr(buf, "Content-Length: ");
    size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
    while (len < want) {
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return true;
}

static void *serve(void *arg)
{
    struct server *s = arg;
    for (int i = 0; i < s->nconns; i++) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        s->accepted++;
        const struct conn_script *cs = &s->conns[i];
        if (cs->greet) {
            ssize_t w = send(c, cs->answers[0], strlen(cs->answers[0]), MSG_NOSIGNAL);
            (void)w;
            usleep(100 * 1000); /* let the client read it before the close */
            close(c);
            continue;
        }
        for (int a = 0; a < 3 && (cs->answers[a] || a == 0); a++) {
            char *req = s->requests[s->nrequests < 4 ? s->nrequests : 3];
            memset(req, 0, sizeof(s->requests[0]));
            if (!read_request(c, req, sizeof(s->requests[0])))
                break;
            s->nrequests++;
            if (!cs->answers[a])
                break;
            ssize_t w = send(c, cs->answers[a], strlen(cs->answers[a]), MSG_NOSIGNAL);
            (void)w;
        }
        if (cs->linger_ms)
            usleep((useconds_t)cs->linger_ms * 1000);
        close(c);
    }
    return NULL;
}

static bool server_start(struct server *s, const struct conn_script *conns, int nconns)
{
    memset(s, 0, sizeof(*s));
    s->conns = conns;
    s->nconns = nconns;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s->fd, 8) < 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &len) < 0)
        return false;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->thread, NULL, serve, s) == 0;
}

static void server_stop(struct server *s)
{
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static struct http_client *client_for(const struct server *s, const char *path, long timeout_ms)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
    return http_client_new(url, "k1", timeout_ms);
}

#define OK_ANSWER(body) "HTTP/1.1 200 OK\r\nContent-Length: " #body "\r\n\r\n"

static void request_case(const void *arg)
{
    (void)arg;
    static const struct conn_script conns[] = {
        {.answers = {"HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
                     "HTTP/1.1 200 OK\r\ncontent-length:  2 \r\n\r\n[]"}}};
    struct server s;
    REQUIRE(server_start(&s, conns, 1));
    struct http_client *hc = client_for(&s, "/base/", 2000);
    struct http_response r;
    CHECK_LONG(http_client_send(hc, "POST", "/api/jobs", "{\"x\":true}", &r), 201);
    CHECK_STR(r.body, "{\"a\":1}");
    CHECK_LONG(r.body_len, 7);
    CHECK_LONG(http_client_send(hc, "GET", "/health", NULL, &r), 200); /* same connection */
    CHECK_STR(r.body, "[]");
    http_client_free(hc);
    server_stop(&s);
    CHECK_LONG(s.accepted, 1);
    CHECK_LONG(s.nrequests, 2);
    char want[256];
    snprintf(want, sizeof(want), "POST /base/api/jobs HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", s.port);
    CHECK(strncmp(s.requests[0], want, strlen(want)) == 0);
    CHECK_CONTAINS(s.requests[0], "\r\nAuthorization: Bearer k1\r\n");
    CHECK_CONTAINS(s.requests[0], "\r\nContent-Type: application/json\r\n");
    CHECK_CONTAINS(s.requests[0], "\r\nContent-Length: 10\r\n\r\n{\"x\":true}");
    CHECK(strncmp(s.requests[1], "GET /base/health HTTP/1.1\r\n", 27) == 0);
    CHECK_LACKS(s.requests[1], "Content-Length");
}

/* An answer to HEAD has no body even when it gives a Content-Length; the next answer on
 * the connection is read from where the head ended. */
static void head_case(const void *arg)
{
    (void)arg;
    static const struct conn_script conns[] = {
        {.answers = {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}}};
    struct server s;
    REQUIRE(server_start(&s, conns, 1));
    struct http_client *hc = client_for(&s, "", 2000);
    struct http_response r;
    CHECK_LONG(http_client_send(hc, "HEAD", "/x", NULL, &r), 200);
    CHECK_LONG(r.body_len, 0);
    CHECK_LONG(http_client_send(hc, "GET", "/y", NULL, &r), 200);
    CHECK_STR(r.body, "ok");
    http_client_free(hc);
    server_stop(&s);
    CHECK_LONG(s.accepted, 1);
}

struct answer_row {
    const char *name;
    struct conn_script conn;
    int status;       /* 0: the call fails */
    const char *body; /* the body, or a substring of the error */
    int accepted;     /* connections the server saw */
};

static const struct answer_row answer_rows[] = {
    {"chunked",
     {.answers =
          {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nab\"c\r\n0A\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n"}},
     200,
     "ab\"c0123456789",
     1},
    {"to the end", {.answers = {"HTTP/1.0 200 OK\r\n\r\nall of it"}}, 200, "all of it", 1},
    {"100 continue",
     {.answers =
          {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"}},
     202,
     "ok",
     1},
    {"no content", {.answers = {"HTTP/1.1 204 No Content\r\n\r\n"}}, 204, "", 1},
    {"error status",
     {.answers =
          {"HTTP/1.1 503 Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"}},
     503,
     "busy",
     1},
    {"no answer", {.answers = {NULL}}, 0, "connection closed without an answer from 127.0.0.1", 1},
    {"cut short",
     {.answers = {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"}},
     0,
     "in the middle of an answer",
     1},
    {"cut short chunked",
     {.answers = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab"}},
     0,
     "in the middle of an answer",
     1},
    {"not http", {.answers = {"SSH-2.0-OpenSSH_9.2\r\n\r\n"}}, 0, "HTTP/0.9", 1},
    {"bad length",
     {.answers = {"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n"}},
     0,
     "127.0.0.1",
     1},
    {"bad chunk",
     {.answers = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}},
     0,
     "chunked-encoding",
     1},
    {"chunk overrun",
     {.answers = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"}},
     0,
     "chunked-encoding",
     1},
    {"too large",
     {.answers = {"HTTP/1.1 200 OK\r\nContent-Length: 70000000\r\n\r\n"}},
     0,
     "is larger than 67108864 bytes",
     1},
    {"silent",
     {.answers = {NULL}, .linger_ms = 1500},
     0,
     "timed out after 300 ms talking to 127.0.0.1",
     1},
};

static void answer_case(const void *arg)
{
    const struct answer_row *row = arg;
    struct server s;
    REQUIRE(server_start(&s, &row->conn, 1));
    struct http_client *hc = client_for(&s, "", 300);
    struct http_response r;
    int status = http_client_send(hc, "POST", "/x", "{}", &r);
    CHECK_LONG(status, row->status);
    if (row->status)
        CHECK_STR(r.body, row->body);
    else
        CHECK_CONTAINS(r.error, row->body);
    http_client_free(hc);
    server_stop(&s);
    CHECK_LONG(s.accepted, row->accepted);
}

/* The server closes a keep-alive connection after one answer without saying so: the next
 * request finds it closed, and goes once more on a new connection. */
static void stale_case(const void *arg)
{
    (void)arg;
    static const struct conn_script conns[] = {{.answers = {OK_ANSWER(1) "a"}},
                                               {.answers = {OK_ANSWER(1) "b"}}};
    struct server s;
    REQUIRE(server_start(&s, conns, 2));
    struct http_client *hc = client_for(&s, "", 2000);
    struct http_response r;
    CHECK_LONG(http_client_send(hc, "POST", "/x", "{}", &r), 200);
    CHECK_STR(r.body, "a");
    usleep(50 * 1000); /* the server has closed by now */
    CHECK_LONG(http_client_send(hc, "POST", "/x", "{}", &r), 200);
    CHECK_STR(r.body, "b");
    http_client_free(hc);
    server_stop(&s);
    CHECK_LONG(s.accepted, 2);
    CHECK_LONG(s.nrequests, 2);
}

/* Connection: close is obeyed: the next request opens a new connection. */
static void close_case(const void *arg)
{
    (void)arg;
    static const struct conn_script conns[] = {
        {.answers = {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na"},
         .linger_ms = 500},
        {.answers = {OK_ANSWER(1) "b"}}};
    struct server s;
    REQUIRE(server_start(&s, conns, 2));
    struct http_client *hc = client_for(&s, "", 2000);
    struct http_response r;
    CHECK_LONG(http_client_send(hc, "GET", "/x", NULL, &r), 200);
    CHECK_LONG(http_client_send(hc, "GET", "/x", NULL, &r),
               200); /* while the first still lingers */
    CHECK_STR(r.body, "b");
    http_client_free(hc);
    server_stop(&s);
    CHECK_LONG(s.accepted, 2);
}

static void refused_case(const void *arg)
{
    (void)arg;
    struct server s;
    static const struct conn_script none[] = {{.answers = {NULL}}};
    REQUIRE(server_start(&s, none, 0)); /* takes a free port, then gives it up */
    int port = s.port;
    server_stop(&s);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    struct http_client *hc = http_client_new(url, "", 1000);
    struct http_response r;
    CHECK_LONG(http_client_send(hc, "GET", "/health", NULL, &r), 0);
    CHECK_CONTAINS(r.error, "cannot connect to 127.0.0.1");
    CHECK_CONTAINS(r.error, "Connection refused");
    CHECK_STR(r.body, "");
    http_client_free(hc);
}

struct url_row {
    const char *url, *key, *path, *error;
};

static const struct url_row url_rows[] = {
    {"ftp://127.0.0.1/", "", "/x", "unsupported URL 'ftp://127.0.0.1'"},
    {"127.0.0.1:3001", "", "/x", "unsupported URL"},
    {"http://user:pw@127.0.0.1:3001", "", "/x", "credentials in the URL"},
    {"http://127.0.0.1:0", "", "/x", "bad port"},
    {"http://127.0.0.1:99999", "", "/x", "Port number was not a decimal number"},
    {"http://127.0.0.1:12ab", "", "/x", "Port number was not a decimal number"},
    {"http://[::1", "", "/x", "Bad IPv6 address"},
    {"http://", "", "/x", "unsupported URL"},
    {"http://:80", "", "/x", "No host part"},
    {"http://127.0.0.1/a b", "", "/x", "spaces or control characters"},
    {"http://127.0.0.1", "k\r\nX-Evil: 1", "/x", "spaces or control characters"},
    {"http://127.0.0.1", "", "/x\r\nX-Evil: 1", "spaces or control characters"},
    {"http://no-such-host.invalid", "", "/x", "cannot resolve no-such-host.invalid:80"},
};

static void url_case(const void *arg)
{
    const struct url_row *row = arg;
    struct http_client *hc = http_client_new(row->url, row->key, 1000);
    REQUIRE(hc != NULL);
    struct http_response r;
    CHECK_LONG(http_client_send(hc, "GET", row->path, NULL, &r), 0);
    CHECK_CONTAINS(r.error, row->error);
    http_client_free(hc);
}

/* A body over 1 KB goes with the request at once: no "Expect: 100-continue" round trip (the
 * server here, like the gateway, never sends 100 Continue, and a client waiting for it
 * stalls each report for a second). */
static void large_body_case(const void *arg)
{
    (void)arg;
    static const struct conn_script conns[] = {{.answers = {OK_ANSWER(2) "ok"}}};
    struct server s;
    REQUIRE(server_start(&s, conns, 1));
    char body[1502];
    memset(body, 'x', sizeof(body) - 1);
    body[0] = '"';
    body[sizeof(body) - 2] = '"';
    body[sizeof(body) - 1] = '\0';
    struct http_client *hc = client_for(&s, "", 10000);
    struct http_response r;
    CHECK_LONG(http_client_send(hc, "POST", "/x", body, &r), 200);
    CHECK_STR(r.body, "ok");
    http_client_free(hc);
    server_stop(&s);
    CHECK_LACKS(s.requests[0], "Expect");
    CHECK_CONTAINS(s.requests[0], "\r\nContent-Length: 1501\r\n");
    CHECK_CONTAINS(s.requests[0], body);
}

/* https:// goes through the same client: against a plain HTTP server the TLS handshake fails,
 * with OpenSSL's reason. */
static void https_case(const void *arg)
{
    (void)arg;
    static const struct conn_script conns[] = {{.answers = {OK_ANSWER(1) "a"}, .greet = true}};
    struct server s;
    REQUIRE(server_start(&s, conns, 1));
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", s.port);
    struct http_client *hc = http_client_new(url, "k", 2000);
    struct http_response r;
    CHECK_LONG(http_client_send(hc, "GET", "/x", NULL, &r), 0);
    CHECK_CONTAINS(r.error, "127.0.0.1");
    CHECK_CONTAINS(r.error, "SSL");
    http_client_free(hc);
    server_stop(&s);
}

void register_http_client_tests(void)
{
    test_add("http_client request and keep-alive", request_case, NULL);
    test_add("http_client HEAD answer without body", head_case, NULL);
    test_add("http_client large body without Expect", large_body_case, NULL);
    for (size_t i = 0; i < COUNT_OF(answer_rows); i++)
        test_addf(answer_case, &answer_rows[i], "http_client answer %s", answer_rows[i].name);
    test_add("http_client stale keep-alive sent again", stale_case, NULL);
    test_add("http_client connection close", close_case, NULL);
    test_add("http_client refused", refused_case, NULL);
    for (size_t i = 0; i < COUNT_OF(url_rows); i++)
        test_addf(url_case, &url_rows[i], "http_client url %s", url_rows[i].url);
    test_add("http_client https", https_case, NULL);
}
