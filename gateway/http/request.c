/* request — a request's life: recycling, attached contexts, replies, error mapping and the
 * access log line. */
#include "gateway/http/request.h"
#include "common/clock.h"
#include "common/json_print.h"

#include <errno.h>
#include <event2/buffer.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "common/log.h"
#include "gateway/db/pgpool.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/conns.h"

/* Under AddressSanitizer a spare request is poisoned, so a use after request_free is still
 * caught though the memory is kept; so is the context space not handed out yet. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The header in front of every context: its type, the next (older) context, and whether its
 * memory came from the heap rather than the request's space. */
struct request_ctx {
    const struct request_ctx_type *type;
    struct request_ctx *next;
    bool heap;
    _Alignas(16) unsigned char data[];
};

static bool valid_client_id(const char *s) { return s && json_is_identifier(s, 64); }

/* Writes "<prefix>-<n>" (the id of a request that brought none) without printf: it runs for
 * nearly every request, and printf's format parsing was a large share of the cheapest
 * requests' work (docs/gateway.md). out has room for it: the prefix is 8 characters and n is
 * written in digits (below 2^53 requests). */
static void format_request_id(char *out, const char *prefix, unsigned long n)
{
    size_t len = strlen(prefix);
    memcpy(out, prefix, len);
    out[len++] = '-';
    char digits[JSON_NUMBER_MAX];
    size_t k = json_print_number((double)n, digits);
    memcpy(out + len, digits, k + 1);
}

/* A request with its HTTP fields zeroed, recycled when one is spare. The context space is
 * zeroed as it is handed out, and the route match by router_match. */
static struct request *request_alloc(struct gateway *gw)
{
    struct request *r;
    if (gw->spare_count > 0) {
        r = gw->spare_requests[--gw->spare_count];
        UNPOISON(r, offsetof(struct request, ctx_space));
        UNPOISON(&r->match, sizeof(r->match));
    } else if ((r = malloc(sizeof(*r)))) {
        POISON(r->ctx_space, sizeof(r->ctx_space));
    } else {
        return NULL;
    }
    memset(r, 0, offsetof(struct request, ctx_space));
    return r;
}

void request_spares_free(struct gateway *gw)
{
    while (gw->spare_count > 0)
        free(gw->spare_requests[--gw->spare_count]);
}

struct request *request_new(struct gateway *gw, struct evhttp_request *req)
{
    struct request *r = request_alloc(gw);
    if (!r)
        return NULL;
    r->req = req;
    r->gw = gw;
    r->ok_status = 200;
    TAILQ_INIT(&r->query);
    r->started = clock_now();
    const char *client_id =
        evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
    if (valid_client_id(client_id))
        snprintf(r->id, sizeof(r->id), "%s", client_id);
    else
        format_request_id(r->id, gw->id_prefix, ++gw->next_id);
    gw->inflight++;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q && evhttp_parse_query_str(q, &r->query) < 0) {
        evhttp_clear_headers(&r->query);
        TAILQ_INIT(&r->query);
    }
    return r;
}

void *request_ctx_new(struct request *r, const struct request_ctx_type *type, size_t size)
{
    /* Rounded up so the next context in the space stays aligned. */
    size_t need = (sizeof(struct request_ctx) + size + 15) & ~(size_t)15;
    struct request_ctx *c;
    if (need <= sizeof(r->ctx_space) - r->ctx_used) {
        c = (struct request_ctx *)(void *)(r->ctx_space + r->ctx_used);
        UNPOISON(c, need);
        r->ctx_used += need;
        memset(c, 0, need);
    } else if ((c = calloc(1, need))) {
        c->heap = true;
    } else {
        return NULL;
    }
    c->type = type;
    c->next = r->ctx;
    r->ctx = c;
    return c->data;
}

void *request_ctx(const struct request *r, const struct request_ctx_type *type)
{
    for (struct request_ctx *c = r->ctx; c; c = c->next)
        if (c->type == type)
            return c->data;
    return NULL;
}

/* Runs each context's free function, newest first, and gives back their memory. */
static void free_contexts(struct request *r)
{
    while (r->ctx) {
        struct request_ctx *c = r->ctx;
        r->ctx = c->next;
        if (c->type->free)
            c->type->free(c->data);
        if (c->heap)
            free(c);
    }
    POISON(r->ctx_space, r->ctx_used);
}

void request_free(struct request *r)
{
    if (!r)
        return;
    struct gateway *gw = r->gw;
    if (r->body)
        cJSON_Delete(r->body);
    evhttp_clear_headers(&r->query);
    free_contexts(r);
    if (gw->spare_count < GATEWAY_SPARE_REQUESTS) {
        POISON(r, offsetof(struct request, ctx_space));
        POISON(&r->match, sizeof(r->match));
        gw->spare_requests[gw->spare_count++] = r;
    } else {
        free(r);
    }
    gw->inflight--;
    gateway_request_done(gw);
}

static const char *method_name(enum route_method m)
{
    switch (m) {
    case METHOD_GET: return "GET";
    case METHOD_POST: return "POST";
    case METHOD_PUT: return "PUT";
    case METHOD_DELETE: return "DELETE";
    case METHOD_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

static void log_request(struct request *r, int status)
{
    double ms = (clock_now() - r->started) * 1e3;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    char qpath[256];
    log_msg(status >= 500 ? LOG_WARN : LOG_INFO,
            "msg=request req_id=%s method=%s path=%s status=%d dur_ms=%.3f", r->id,
            method_name(r->method), log_quote(path ? path : "", qpath, sizeof(qpath)), status, ms);
}

/* evhttp closes a connection once its Connection: close reply is written. */
static void drained_connection_closed(struct evhttp_connection *evcon, void *arg)
{
    struct gateway *gw = arg;
    gw->closing--;
    gateway_request_done(gw);
}

const char *request_body_text(struct request *r, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    *len = evbuffer_get_length(in);
    const char *text = (const char *)evbuffer_pullup(in, -1);
    return text ? text : "";
}

bool request_parse_body(struct request *r)
{
    size_t len;
    const char *text = request_body_text(r, &len);
    struct field_error err;
    r->body = json_parse_object(text, len, &err);
    if (r->body)
        return true;
    if (!err.field[0])
        request_error(r, 500, "internal", NULL, "out of memory"); /* frees r */
    else
        request_error(r, 400, "invalid_json", NULL, "%s", err.message); /* frees r */
    return false;
}

void request_reply(struct request *r, int status, const char *json, size_t len)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "X-Request-Id", r->id);
    if (r->gw->draining) {
        evhttp_add_header(out, "Connection", "close");
        /* The reply is only queued here; the loop must run until it is written, or the
         * last replies of a drain would be lost when the loop exits. evhttp serves one
         * request per connection at a time, so a connection is counted once. */
        struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
        if (evcon) {
            conns_on_close(r->gw->conns, evcon, drained_connection_closed, r->gw);
            r->gw->closing++;
        }
    }
    struct evbuffer *buf = evhttp_request_get_output_buffer(r->req);
    evbuffer_add(buf, json, len);
    evbuffer_add(buf, "\n", 1);
    log_request(r, status);
    evhttp_send_reply(r->req, status, NULL, NULL);
    request_free(r);
}

void request_reply_wrapped(struct request *r, int status, const char *key, const char *json_text)
{
    struct evbuffer *buf = evhttp_request_get_output_buffer(r->req);
    evbuffer_add_printf(buf, "{\"%s\":", key);
    evbuffer_add(buf, json_text, strlen(json_text));
    request_reply(r, status, "}", 1);
}

void request_error(struct request *r, int status, const char *code, const char *field,
                   const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", message);
    if (field)
        cJSON_AddStringToObject(err, "field", field);
    char *text = json_print(root);
    cJSON_Delete(root);
    if (status == 503)
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "1");
    if (text) {
        request_reply(r, status, text, strlen(text));
        free(text);
    } else {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        request_reply(r, 500, oom, sizeof(oom) - 1);
    }
}

void request_field_error(struct request *r, const struct field_error *err)
{
    request_error(r, 400, "invalid_field", err->field, "%s", err->message);
}

void request_unavailable(struct request *r)
{
    request_error(r, 503, "unavailable", NULL,
                  "the database is unavailable or the gateway is overloaded; retry later");
}

void request_db_error(struct request *r, const PGresult *res)
{
    if (!res) {
        request_unavailable(r);
        return;
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!state)
        state = "";
    /* 08 connection, 40 rollback (deadlock, serialization), 53 resources, 57 operator
     * intervention (shutdown, cancel, timeout): all worth retrying */
    if (!strncmp(state, "08", 2) || !strncmp(state, "40", 2) || !strncmp(state, "53", 2) ||
        !strncmp(state, "57", 2)) {
        request_unavailable(r);
        return;
    }
    if (!strncmp(state, "22", 2)) { /* data exception: input validation should have caught it */
        char msg[512];
        log_warn("msg=\"query rejected input\" req_id=%s sqlstate=%s error=%s", r->id, state,
                 log_quote(PQresultErrorMessage(res), msg, sizeof(msg)));
        request_error(r, 400, "invalid_field", NULL, "a value was rejected by the database");
        return;
    }
    if (!strcmp(state, "23505")) {
        request_error(r, 409, "conflict", NULL, "a resource with that key already exists");
        return;
    }
    char msg[512];
    log_error("msg=\"query failed\" req_id=%s sqlstate=%s error=%s", r->id, state,
              log_quote(PQresultErrorMessage(res), msg, sizeof(msg)));
    request_error(r, 500, "internal", NULL, "internal error (request id %s)", r->id);
}

void request_reply_first_cell(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        request_error(r, 404, "not_found", NULL, "no such resource");
        return;
    }
    request_reply(r, r->ok_status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

void request_query_body(struct request *r, int stmt, int nparams, const char *const *values,
                        int ok_status)
{
    r->ok_status = ok_status;
    if (pgpool_query(r->gw->pool, stmt, nparams, values, request_reply_first_cell, r) < 0)
        request_unavailable(r);
}

const char *request_query_param(struct request *r, const char *name)
{
    return evhttp_find_header(&r->query, name);
}

int request_query_int(struct request *r, const char *name, long min, long max, long *out)
{
    const char *v = request_query_param(r, name);
    if (!v)
        return 0;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        request_error(r, 400, "invalid_field", name, "%s must be an integer from %ld to %ld", name,
                      min, max);
        return -1;
    }
    *out = n;
    return 1;
}

int request_page_query(struct request *r, long def, long max, bool by_id, struct page_query *pq)
{
    long limit = def, cursor = 0;
    int has_cursor = 0;
    if (request_query_int(r, "limit", 1, max, &limit) < 0 ||
        (by_id && (has_cursor = request_query_int(r, "cursor", 1, LONG_MAX, &cursor)) < 0))
        return -1;
    snprintf(pq->limit, sizeof(pq->limit), "%ld", limit);
    snprintf(pq->cursor_text, sizeof(pq->cursor_text), "%ld", cursor);
    pq->cursor = has_cursor ? pq->cursor_text : NULL;
    return 0;
}

int request_path_id(struct request *r, const char *name, char *buf, size_t len)
{
    const char *v = router_param(&r->match, name);
    char *end = NULL;
    errno = 0;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || n <= 0 || v[0] == '+' || v[0] == ' ') {
        request_error(r, 400, "invalid_field", name, "%s must be a positive integer", name);
        return -1;
    }
    snprintf(buf, len, "%lld", n);
    return 0;
}

int request_check_agent_name(struct request *r, const char *name, const char *field)
{
    if (name && json_is_identifier(name, AGENT_NAME_MAX))
        return 0;
    request_error(r, 400, "invalid_field", field,
                  "%s must be 1 to %d characters of letters, digits, '_', '.' or '-'", field,
                  AGENT_NAME_MAX);
    return -1;
}

/* Who is asking, for per-caller caps (jobwait, event streams): the API key, or with auth off (every
 * caller is admin then) the client's address. FNV-1a: 64 bits, so two callers share a count only by
 * a negligible chance. */
uint64_t request_caller_key(struct request *r)
{
    const char *who = NULL;
    if (r->gw->auth_on) {
        /* auth let it through, so it is "Bearer <key>" (the scheme in any case) */
        who = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
        who = who && strlen(who) > 7 ? who + 7 : who;
    }
    struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
    if (!who && conn) {
        char *host = NULL;
        ev_uint16_t port;
        evhttp_connection_get_peer(conn, &host, &port);
        who = host;
    }
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)(who ? who : ""); *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}
