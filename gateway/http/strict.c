/* strict — refusals for requests libevent 2.1 parses but should not accept (strict.h). */
#include "gateway/http/strict.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "gateway/http/chunkext.h"
#include "gateway/http/request.h"

static void refuse(struct request *r, int status, const char *code, const char *message)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Connection", "close");
    request_error(r, status, code, NULL, "%s", message);
}

/* HTAB is the only control byte a field value may hold; DEL counts as one too. */
static bool has_control_byte(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return true;
    return false;
}

bool http_strict_check_head(struct request *r)
{
    if (evhttp_request_get_command(r->req) == EVHTTP_REQ_CONNECT) {
        /* libevent keeps a CONNECT's connection open whatever the reply says (it expects a
         * proxy to tunnel), so the read side is shut: once the answer is written, the next
         * read ends the connection. */
        struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
        evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow",
                          "GET, HEAD, POST, PUT, DELETE");
        refuse(r, 405, "method_not_allowed", "CONNECT is not supported: this is not a proxy");
        if (fd >= 0)
            shutdown(fd, SHUT_RD);
        return false;
    }
    const char *length = NULL;
    bool chunked = false;
    struct evkeyvalq *h = evhttp_request_get_input_headers(r->req);
    for (struct evkeyval *kv = h->tqh_first; kv; kv = kv->next.tqe_next) {
        if (has_control_byte(kv->key) || has_control_byte(kv->value)) {
            refuse(r, 400, "bad_request",
                   "header names and values must not contain control characters");
            return false;
        }
        if (strcasecmp(kv->key, "Content-Length") == 0) {
            /* Identical repeats are harmless (RFC 9112 §6.3 lets a recipient accept them);
             * different ones are how requests are smuggled past a proxy. */
            if (length && strcmp(length, kv->value) != 0) {
                refuse(r, 400, "bad_request", "conflicting Content-Length headers");
                return false;
            }
            length = kv->value;
        } else if (strcasecmp(kv->key, "Transfer-Encoding") == 0) {
            chunked = true;
        }
    }
    if (length && chunked) {
        refuse(r, 400, "bad_request", "Content-Length together with Transfer-Encoding");
        return false;
    }
    return true;
}

bool http_strict_charset_ok(const char *ct)
{
    for (const char *p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        q += strspn(q, " \t");
        if (strncasecmp(q, "charset=", 8) != 0)
            continue;
        q += 8;
        bool quoted = *q == '"';
        q += quoted;
        if (strncasecmp(q, "utf-8", 5) != 0)
            return false;
        q += 5;
        q += quoted && *q == '"';
        return *q == '\0' || *q == ';' || *q == ' ' || *q == '\t';
    }
    return true;
}

/* evhttp reads header lines as C strings, so a NUL would silently cut a value short and the
 * rest would pass unseen. No valid request holds a raw NUL anywhere: not in the head, and
 * not in a body, since every body is JSON (where raw control bytes are invalid). So each
 * NUL is turned into 0x01 as it arrives, which the head check above and the JSON parser both
 * refuse. */
static void nul_guard(struct evbuffer *buf, size_t from)
{
    struct evbuffer_ptr at;
    if (evbuffer_ptr_set(buf, &at, from, EVBUFFER_PTR_SET) < 0)
        return;
    while ((at = evbuffer_search(buf, "", 1, &at)).pos >= 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(buf, 1, &at, &v, 1) < 1)
            return;
        *(char *)v.iov_base = '\x01';
        if (evbuffer_ptr_set(buf, &at, 1, EVBUFFER_PTR_ADD) < 0)
            return;
    }
}

/* Each read's bytes, before evhttp parses them. */
static void raw_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    if (info->n_added == 0)
        return;
    size_t from = evbuffer_get_length(buf) - info->n_added;
    nul_guard(buf, from);
    if (arg)
        chunkext_feed(arg, buf, from, info->n_added);
}

struct bufferevent *http_strict_bevcb(struct event_base *base, void *chunks)
{
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (chunks)
        chunkext_init(chunks);
    if (bev && !evbuffer_add_cb(bufferevent_get_input(bev), raw_input, chunks)) {
        bufferevent_free(bev);
        return NULL;
    }
    return bev;
}

void http_strict_forget(struct bufferevent *bev, void *chunks)
{
    evbuffer_remove_cb(bufferevent_get_input(bev), raw_input, chunks);
}
