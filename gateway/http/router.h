/* router — matches a method and path against a route table with ":name" segments.
 * Pure and allocation-free, so the matching rules are unit-tested from a case table. */
#ifndef FLOWSTATE_ROUTER_H
#define FLOWSTATE_ROUTER_H

#include <stddef.h>

struct request;
typedef void (*route_handler_fn)(struct request *r);

/* Methods as bits, so a route table can say which methods a path allows (405 + Allow). */
enum route_method {
    METHOD_GET = 1 << 0,
    METHOD_POST = 1 << 1,
    METHOD_PUT = 1 << 2,
    METHOD_DELETE = 1 << 3,
    METHOD_PATCH = 1 << 4,
    METHOD_OTHER = 1 << 5,
};

/* What a route does with a request body. */
enum route_body {
    BODY_NONE = 0,      /* ignored */
    BODY_JSON = 1,      /* required: a JSON object (415, 413, 400 otherwise) */
    BODY_OPTIONAL = 2,  /* may be empty; when present, checked like BODY_JSON */
    BODY_JSON_TEXT = 3, /* as BODY_JSON, but the handler reads the text first (request_body_text)
                         * and parses it only if it wants the tree (request_parse_body) */
};

struct route {
    enum route_method method;
    const char *pattern; /* "/api/jobs/:id/status" */
    route_handler_fn handler;
    unsigned roles; /* ROLE_BIT()s allowed; 0 = public, no key needed */
    int has_body;   /* an enum route_body */
};

#define ROUTER_MAX_PARAMS 4
#define ROUTER_MAX_PATH 2048

struct route_match {
    const struct route *route;
    int nparams;
    struct {
        const char *name; /* points into the pattern, not NUL-terminated at the name's end */
        size_t name_len;
        const char *value; /* percent-decoded, NUL-terminated, in buf */
    } params[ROUTER_MAX_PARAMS];
    unsigned allowed; /* on 405: the methods the path does allow */
    char buf[ROUTER_MAX_PATH + ROUTER_MAX_PARAMS];
};

/* Literal segments must match exactly; ":name" matches one non-empty segment. The first
 * matching route wins, so list literal routes before parameterised ones. A trailing slash
 * is ignored. Returns 0 (m->route set), -1 no route has this path (404), or -2 the path
 * exists for other methods only (405; m->allowed set). m is fully set up either way
 * (route, nparams and allowed), so a reused m needs no clearing. */
int router_match(const struct route *table, size_t n, enum route_method method, const char *path,
                 struct route_match *m);

/* The decoded value of path parameter name, or NULL. */
const char *router_param(const struct route_match *m, const char *name);

/* Writes "GET, POST" etc. for the bits in methods. Returns buf. */
const char *router_allow_header(unsigned methods, char *buf, size_t len);

#endif
