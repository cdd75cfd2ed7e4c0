/* request — one HTTP request from arrival to reply: its id, route match, role, parsed
 * body and query, the contexts handlers attach to it, and the single place replies are
 * written and logged. A request is freed by whichever reply function answers it, exactly
 * once, and its contexts with it; after that the handler must not touch it. Replying after
 * the client went away is safe (libevent frees its side). */
#ifndef FLOWSTATE_REQUEST_H
#define FLOWSTATE_REQUEST_H

#include <cjson/cJSON.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/apikey.h"
#include "common/json.h"
#include "gateway/http/router.h"

struct gateway;

/* A handler's state attached to a request (nginx's per-module request context): each kind
 * of context is one static descriptor in the module that owns it, which is also the key
 * request_ctx finds it by. free (may be NULL) releases what the context points to; the
 * context's own memory belongs to the request. */
struct request_ctx_type {
    const char *name;
    void (*free)(void *ctx);
};

/* Bytes of context space inside every request: the contexts of ordinary routes (the job
 * insert's batcher item, auth's pending lookup) fit, so they cost no allocation. */
#define REQUEST_CTX_SPACE 256

struct request_ctx; /* request.c: a context's header */

/* HTTP state only: what arrived, who sent it and how to answer. Handler state lives in
 * contexts (request_ctx_new). */
struct request {
    struct evhttp_request *req;
    struct gateway *gw;
    char id[72];
    enum route_method method;
    enum role role;
    double started;          /* clock_now() at arrival */
    cJSON *body;             /* the parsed JSON object, for routes with a body */
    struct evkeyvalq query;  /* decoded query string */
    int ok_status;           /* status a success reply uses (request_reply_first_cell, jobwait) */
    struct request_ctx *ctx; /* the attached contexts, newest first */
    size_t ctx_used;         /* bytes of ctx_space taken */
    /* Not zeroed when a recycled request is reused (request_new): ctx_space is handed out
     * zeroed piece by piece, and router_match sets every field of match it is read by. */
    _Alignas(16) unsigned char ctx_space[REQUEST_CTX_SPACE];
    struct route_match match; /* holds a 2 KB decode buffer */
};

/* Creates the context for an incoming request (id assigned, query parsed). NULL on
 * allocation failure or an unparsable URI (the caller answers 400). Contexts are recycled:
 * a freed one is kept for the next request (up to GATEWAY_SPARE_REQUESTS), since one is
 * larger than malloc's per-thread cache takes and every request needs one. */
struct request *request_new(struct gateway *gw, struct evhttp_request *req);
/* Frees the recycled contexts (gateway_close). */
void request_spares_free(struct gateway *gw);

/* Attaches a zeroed context of size bytes and type to r and returns it, or NULL when out of
 * memory (nothing attached). It comes from r's own space when it fits, else from the heap;
 * either way type->free runs on it exactly once, when r is freed, whichever reply answers
 * r. A type is attached at most once per request. */
void *request_ctx_new(struct request *r, const struct request_ctx_type *type, size_t size)
    __attribute__((warn_unused_result));
/* r's context of type, or NULL when none is attached. */
void *request_ctx(const struct request *r, const struct request_ctx_type *type);

/* The request body's bytes (contiguous; not NUL-terminated) and their number. */
const char *request_body_text(struct request *r, size_t *len);
/* Parses the body into r->body: true, or false after answering 400 (not a JSON object). The
 * gateway does this before the handler runs, except on BODY_JSON_TEXT routes. */
bool request_parse_body(struct request *r);

/* Replies with status and a JSON body of len bytes and frees r. */
void request_reply(struct request *r, int status, const char *json, size_t len);
/* Replies with {"key": json_text} (json_text already JSON). */
void request_reply_wrapped(struct request *r, int status, const char *key, const char *json_text);
/* Replies {"error":{"code","message","field"?}} and frees r. field may be NULL. */
void request_error(struct request *r, int status, const char *code, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 400 invalid_field from a field_error. */
void request_field_error(struct request *r, const struct field_error *err);
/* Maps a failed query to the right reply: NULL or connection/resource errors, a deadlock
 * or serialization failure -> 503 (retry), unique violation -> 409, anything else -> 500
 * with the detail only in the log. */
void request_db_error(struct request *r, const PGresult *res);
/* 503 unavailable with Retry-After. */
void request_unavailable(struct request *r);

/* pgpool callback for queries that return one row, one column: the response body.
 * No row -> 404. Uses r->ok_status. */
void request_reply_first_cell(PGresult *res, void *arg);

/* Submits a query whose single cell is the response body (see request_reply_first_cell). */
void request_query_body(struct request *r, int stmt, int nparams, const char *const *values,
                        int ok_status);

/* A decoded query parameter, or NULL. */
const char *request_query_param(struct request *r, const char *name);
/* Reads an integer query parameter within [min, max]. Returns 1 found, 0 absent, -1 invalid
 * (having answered 400). */
int request_query_int(struct request *r, const char *name, long min, long max, long *out);
/* A keyset page's query parameters as text for a query: limit (default when absent) and an id
 * cursor (the last id of the previous page; NULL when absent). */
struct page_query {
    char limit[24];
    char cursor_text[24];
    const char *cursor;
};
/* Reads ?limit= (1..max, default def) and, when by_id, ?cursor= (a positive 64-bit id) into
 * pq. Returns 0, or -1 having answered 400 naming the parameter. A cursor that is not an id
 * (a name, a key) is the caller's to check. */
int request_page_query(struct request *r, long def, long max, bool by_id, struct page_query *pq);
/* Reads a positive 64-bit id from path parameter name into buf (decimal text). Returns 0,
 * or -1 having answered 400 naming the field. */
int request_path_id(struct request *r, const char *name, char *buf, size_t len);

/* Checks an agent name (body field, path or query parameter): 1..AGENT_NAME_MAX characters of
 * [A-Za-z0-9_.-]. Returns 0, or -1 having answered 400 naming field. name may be NULL. */
int request_check_agent_name(struct request *r, const char *name, const char *field);

/* Who sent r, for per-caller caps: a 64-bit hash of its API key, or with auth off (every
 * caller is admin then) of its client address. */
uint64_t request_caller_key(struct request *r);

/* Frees r and its contexts without answering it: for requests dropped when the loop has
 * stopped (the reply functions call it otherwise). Accepts NULL. */
void request_free(struct request *r);

#endif
