/* router: a golden table of (method, path) against the REAL route table (gateway/routes.c):
 * the pattern matched or 404/405 with the allowed methods, and the decoded parameters.
 * Then the matching rules that the real table cannot show, and router_allow_header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/apikey.h"
#include "gateway/http/router.h"
#include "gateway/routes.h"
#include "tests/unit/harness.h"

#define GET METHOD_GET
#define POST METHOD_POST
#define PUT METHOD_PUT
#define DELETE METHOD_DELETE
#define PATCH METHOD_PATCH
#define OTHER METHOD_OTHER

enum { NOT_FOUND = -1, NOT_ALLOWED = -2 };

struct route_case {
    enum route_method method;
    const char *path;
    int rc;                   /* 0, NOT_FOUND or NOT_ALLOWED */
    const char *pattern;      /* rc 0: the route's pattern */
    unsigned allowed;         /* NOT_ALLOWED: the methods the path does allow */
    const char *params[2][2]; /* rc 0: {name, decoded value} pairs, the only ones */
};

/* clang-format off */
#define OK0(m, p, pat) {m, p, 0, pat, 0, {{NULL, NULL}, {NULL, NULL}}}
#define OK1(m, p, pat, n, v) {m, p, 0, pat, 0, {{n, v}, {NULL, NULL}}}
#define E404(m, p) {m, p, NOT_FOUND, NULL, 0, {{NULL, NULL}, {NULL, NULL}}}
#define E405(m, p, allow) {m, p, NOT_ALLOWED, NULL, allow, {{NULL, NULL}, {NULL, NULL}}}
/* clang-format on */

/* clang-format off */
static const struct route_case route_cases[] = {
    /* public */
    OK0(GET, "/health", "/health"),
    OK0(GET, "/health/", "/health"),
    OK0(GET, "/ready", "/ready"),
    E405(POST, "/health", GET),
    E405(DELETE, "/ready", GET),
    E404(GET, "/healthz"),
    E404(GET, "/health/x"),
    E404(GET, "/"),
    E404(GET, "/HEALTH"),
    /* agents */
    OK0(POST, "/api/agents/register", "/api/agents/register"),
    OK0(GET, "/api/agents", "/api/agents"),
    OK0(GET, "/api/agents/", "/api/agents"),
    E405(POST, "/api/agents", GET),
    OK1(GET, "/api/agents/bob", "/api/agents/:agentName", "agentName", "bob"),
    OK1(GET, "/api/agents/bob/", "/api/agents/:agentName", "agentName", "bob"),
    OK1(PUT, "/api/agents/bob", "/api/agents/:agentName", "agentName", "bob"),
    E405(DELETE, "/api/agents/bob", GET | PUT),
    E405(POST, "/api/agents/bob", GET | PUT),
    E405(OTHER, "/api/agents/bob", GET | PUT),
    E405(DELETE, "/api/agents/register", POST | GET | PUT),
    /* percent-decoding of parameters */
    OK1(GET, "/api/agents/a%2Eb", "/api/agents/:agentName", "agentName", "a.b"),
    OK1(GET, "/api/agents/a%2eb", "/api/agents/:agentName", "agentName", "a.b"),
    OK1(GET, "/api/agents/%41", "/api/agents/:agentName", "agentName", "A"),
    OK1(GET, "/api/agents/a%20b", "/api/agents/:agentName", "agentName", "a b"),
    OK1(GET, "/api/agents/a%2Fb", "/api/agents/:agentName", "agentName", "a/b"),
    OK1(GET, "/api/agents/%25", "/api/agents/:agentName", "agentName", "%"),
    OK1(GET, "/api/agents/%C3%A9", "/api/agents/:agentName", "agentName", "\xc3\xa9"),
    OK1(GET, "/api/agents/a+b", "/api/agents/:agentName", "agentName", "a+b"),
    OK1(PUT, "/api/agents/x%2Dy/", "/api/agents/:agentName", "agentName", "x-y"),
    /* bad escapes: no route at all */
    E404(GET, "/api/agents/a%zz"),
    E404(GET, "/api/agents/a%z1"),
    E404(GET, "/api/agents/a%1z"),
    E404(GET, "/api/agents/a%00b"),
    E404(GET, "/api/agents/%00"),
    E404(GET, "/api/agents/a%4"),
    E404(GET, "/api/agents/a%"),
    E404(GET, "/api/agents/%"),
    E404(GET, "/api/agents/%4/x"),
    E404(PUT, "/api/agents/a%g0"),
    /* empty segments, leading slash, extra segments */
    E404(GET, "/api/agents//x"),
    E404(GET, "/api/agents//"),
    E404(GET, "//api/agents"),
    E404(GET, "/api//agents"),
    E404(GET, "api/agents"),
    E404(GET, ""),
    E404(GET, "/api/agents/bob/extra"),
    E404(GET, "/api/agentsx"),
    E404(GET, "/API/agents"),
    E404(GET, "/api"),
    E404(GET, "/api/"),
    E404(GET, "/api/unknown"),
    /* jobs: literal routes win over :id for their method */
    OK0(POST, "/api/jobs", "/api/jobs"),
    OK0(GET, "/api/jobs", "/api/jobs"),
    E405(PUT, "/api/jobs", GET | POST),
    E405(DELETE, "/api/jobs/", GET | POST),
    OK0(GET, "/api/jobs/pending", "/api/jobs/pending"),
    OK0(GET, "/api/jobs/pending/", "/api/jobs/pending"),
    E405(DELETE, "/api/jobs/pending", GET),
    E405(POST, "/api/jobs/pending", GET),
    OK1(GET, "/api/jobs/42", "/api/jobs/:id", "id", "42"),
    OK1(GET, "/api/jobs/42/", "/api/jobs/:id", "id", "42"),
    OK1(GET, "/api/jobs/pendingx", "/api/jobs/:id", "id", "pendingx"),
    E405(DELETE, "/api/jobs/42", GET),
    OK1(GET, "/api/jobs/agent/bob", "/api/jobs/agent/:agentName", "agentName", "bob"),
    OK1(GET, "/api/jobs/agent/a%2Eb", "/api/jobs/agent/:agentName", "agentName", "a.b"),
    E404(GET, "/api/jobs/agent//"),
    E404(GET, "/api/jobs/agent/bob/x"),
    OK1(PUT, "/api/jobs/42/status", "/api/jobs/:jobId/status", "jobId", "42"),
    OK1(PUT, "/api/jobs/42/status/", "/api/jobs/:jobId/status", "jobId", "42"),
    E405(GET, "/api/jobs/42/status", PUT),
    E405(POST, "/api/jobs/42/status", PUT),
    E404(PUT, "/api/jobs//status"),
    E404(PUT, "/api/jobs/42/statuses"),
    E404(PUT, "/api/jobs/42/status/x"),
    E405(PUT, "/api/jobs/42%2Fstatus", GET), /* one segment: GET /api/jobs/:id */
    OK1(GET, "/api/jobs/42%2Fstatus", "/api/jobs/:id", "id", "42/status"),
    /* lifecycle: batch reports are literal routes listed before :id */
    OK0(POST, "/api/jobs/complete", "/api/jobs/complete"),
    OK0(POST, "/api/jobs/fail/", "/api/jobs/fail"),
    OK1(GET, "/api/jobs/complete", "/api/jobs/:id", "id", "complete"),
    E405(PUT, "/api/jobs/fail", POST | GET),
    OK1(POST, "/api/jobs/42/complete", "/api/jobs/:id/complete", "id", "42"),
    OK1(POST, "/api/jobs/42/fail", "/api/jobs/:id/fail", "id", "42"),
    OK1(POST, "/api/jobs/42/cancel", "/api/jobs/:id/cancel", "id", "42"),
    OK1(POST, "/api/jobs/42/retry/", "/api/jobs/:id/retry", "id", "42"),
    E405(GET, "/api/jobs/42/cancel", POST),
    E405(PUT, "/api/jobs/42/complete", POST),
    E404(POST, "/api/jobs/42/complete/x"),
    E404(POST, "/api/jobs/42/finish"),
    /* documents */
    OK0(POST, "/api/documents", "/api/documents"),
    OK0(GET, "/api/documents", "/api/documents"),
    E405(PUT, "/api/documents", GET | POST),
    OK0(GET, "/api/documents/search", "/api/documents/search"),
    OK0(POST, "/api/documents/cluster", "/api/documents/cluster"),
    OK1(GET, "/api/documents/7/similar", "/api/documents/:id/similar", "id", "7"),
    E405(POST, "/api/documents/search", GET),
    OK1(GET, "/api/documents/7", "/api/documents/:id", "id", "7"),
    E405(PUT, "/api/documents/7", GET),
    /* keys */
    OK0(POST, "/api/keys", "/api/keys"),
    OK0(GET, "/api/keys", "/api/keys"),
    E405(DELETE, "/api/keys", GET | POST),
    OK1(DELETE, "/api/keys/abc", "/api/keys/:id", "id", "abc"),
    OK1(DELETE, "/api/keys/12/", "/api/keys/:id", "id", "12"),
    E405(GET, "/api/keys/abc", DELETE),
    E405(OTHER, "/api/keys", GET | POST),
};
/* clang-format on */

static void route_case_run(const void *arg)
{
    const struct route_case *c = arg;
    struct route_match m;
    memset(&m, 0xa5, sizeof(m)); /* no field may be read before router_match sets it */
    int rc = router_match(routes, routes_count, c->method, c->path, &m);
    CHECK_LONG(rc, c->rc);
    if (c->rc == 0) {
        if (CHECK(rc == 0) && CHECK(m.route != NULL)) {
            CHECK_STR(m.route->pattern, c->pattern);
            CHECK(m.route->method == c->method);
            int want_params = 0;
            for (int i = 0; i < 2 && c->params[i][0]; i++, want_params++)
                CHECK_STR(router_param(&m, c->params[i][0]), c->params[i][1]);
            CHECK_LONG(m.nparams, want_params);
        }
    } else {
        CHECK(m.route == NULL);
        CHECK_LONG(m.allowed, c->allowed);
    }
    CHECK(rc != 0 || router_param(&m, "nope") == NULL);
}

/* Parameter lookup is by whole name. */
static void param_lookup(const void *arg)
{
    (void)arg;
    struct route_match m;
    REQUIRE(router_match(routes, routes_count, PUT, "/api/jobs/9/status", &m) == 0);
    CHECK_STR(router_param(&m, "jobId"), "9");
    CHECK(router_param(&m, "job") == NULL);
    CHECK(router_param(&m, "jobIdx") == NULL);
    CHECK(router_param(&m, "id") == NULL);
    CHECK(router_param(&m, "") == NULL);
    REQUIRE(router_match(routes, routes_count, GET, "/api/jobs", &m) == 0);
    CHECK_LONG(m.nparams, 0);
    CHECK(router_param(&m, "id") == NULL);
}

/* Paths up to ROUTER_MAX_PATH bytes are matched; longer ones are not. */
static void path_length(const void *arg)
{
    (void)arg;
    static const char prefix[] = "/api/agents/";
    char *path = malloc(ROUTER_MAX_PATH + 2);
    REQUIRE(path != NULL);
    struct route_match m;

    /* exactly ROUTER_MAX_PATH: matches, the whole value decoded */
    memcpy(path, prefix, sizeof(prefix) - 1);
    memset(path + sizeof(prefix) - 1, 'x', ROUTER_MAX_PATH - (sizeof(prefix) - 1));
    path[ROUTER_MAX_PATH] = '\0';
    if (CHECK(router_match(routes, routes_count, GET, path, &m) == 0)) {
        const char *v = router_param(&m, "agentName");
        CHECK(v != NULL && strlen(v) == ROUTER_MAX_PATH - (sizeof(prefix) - 1));
    }

    /* one byte more: no match, even for an existing route */
    path[ROUTER_MAX_PATH] = 'x';
    path[ROUTER_MAX_PATH + 1] = '\0';
    CHECK(router_match(routes, routes_count, GET, path, &m) == NOT_FOUND);
    CHECK(m.route == NULL && m.allowed == 0);

    /* a long trailing run of slashes is still no match */
    memcpy(path, "/api/jobs", 9);
    memset(path + 9, '/', ROUTER_MAX_PATH - 9);
    path[ROUTER_MAX_PATH] = '\0';
    CHECK(router_match(routes, routes_count, GET, path, &m) == NOT_FOUND);
    free(path);
}

/* A NULL path (no URI) is a 404, not a crash. */
static void null_path(const void *arg)
{
    (void)arg;
    struct route_match m;
    CHECK(router_match(routes, routes_count, GET, NULL, &m) == NOT_FOUND);
    CHECK(m.route == NULL);
}

/* Every route in the real table is reachable: its own path (parameters filled in) finds it,
 * so no earlier route shadows it. Public routes are exactly /health and /ready, and only
 * POST and PUT routes take a body. */
static void route_reachable(const void *arg)
{
    const struct route *r = arg;
    char path[256];
    size_t o = 0;
    for (const char *p = r->pattern; *p && o + 16 < sizeof(path);) {
        if (*p == ':') {
            o += (size_t)snprintf(path + o, sizeof(path) - o, "v%zu", o);
            p += strcspn(p, "/");
        } else {
            path[o++] = *p++;
        }
    }
    path[o] = '\0';
    struct route_match m;
    CHECK_LONG(router_match(routes, routes_count, r->method, path, &m), 0);
    CHECK(m.route == r);
    bool public_path = strcmp(r->pattern, "/health") == 0 || strcmp(r->pattern, "/ready") == 0;
    CHECK((r->roles == 0) == public_path);
    CHECK((r->roles & ~(unsigned)ROLES_ALL) == 0);
    CHECK(!r->has_body || r->method == POST || r->method == PUT || r->method == PATCH);
    CHECK(r->handler != NULL);
    if (strncmp(r->pattern, "/api/keys", 9) == 0)
        CHECK_LONG(r->roles, ROLES_ADMIN);
}

/* ---- rules shown with a synthetic table ---------------------------------------------- */

static void dummy_handler(struct request *r) { (void)r; }

/* clang-format off */
static const struct route synthetic[] = {
    {GET, "/p/:a/:b/:c/:d", dummy_handler, 0, 0},
    {GET, "/q/:a/:b/:c/:d/:e", dummy_handler, 0, 0},
    {GET, "/r/:x", dummy_handler, 0, 0},
    {GET, "/r/literal", dummy_handler, 0, 0}, /* listed after :x, so never reached by GET */
    {POST, "/r/literal", dummy_handler, 0, 0},
};
/* clang-format on */

static void synthetic_rules(const void *arg)
{
    (void)arg;
    struct route_match m;
    /* ROUTER_MAX_PARAMS parameters are fine, one more is no match */
    if (CHECK(router_match(synthetic, COUNT_OF(synthetic), GET, "/p/1/2/3/4", &m) == 0)) {
        CHECK_LONG(m.nparams, 4);
        CHECK_STR(router_param(&m, "a"), "1");
        CHECK_STR(router_param(&m, "d"), "4");
    }
    CHECK(router_match(synthetic, COUNT_OF(synthetic), GET, "/q/1/2/3/4/5", &m) == NOT_FOUND);
    /* the first matching route wins */
    if (CHECK(router_match(synthetic, COUNT_OF(synthetic), GET, "/r/literal", &m) == 0)) {
        CHECK(m.route == &synthetic[2]);
        CHECK_STR(router_param(&m, "x"), "literal");
    }
    if (CHECK(router_match(synthetic, COUNT_OF(synthetic), POST, "/r/literal", &m) == 0))
        CHECK(m.route == &synthetic[4]);
    /* an empty table has no routes */
    CHECK(router_match(synthetic, 0, GET, "/r/x", &m) == NOT_FOUND);
}

/* A failed match leaves no parameters behind, even when a parameterised pattern matched part
 * of the path first (found by tests/fuzz/router.c: PUT /api/keys/3 kept :id's "3"). */
static void failed_match_clears_params(const void *arg)
{
    (void)arg;
    struct route_match m;
    CHECK(router_match(routes, routes_count, PUT, "/api/keys/3", &m) == NOT_ALLOWED);
    CHECK_LONG(m.nparams, 0);
    CHECK(router_param(&m, "id") == NULL);
    CHECK(router_match(synthetic, COUNT_OF(synthetic), GET, "/r/x/y", &m) == NOT_FOUND);
    CHECK_LONG(m.nparams, 0);
    CHECK(router_param(&m, "x") == NULL);
}

/* ---- router_allow_header ------------------------------------------------------------- */

struct allow_case {
    unsigned methods;
    size_t len;
    const char *want;
};

/* clang-format off */
static const struct allow_case allow_cases[] = {
    {0, 64, ""},
    {GET, 64, "GET"},
    {POST, 64, "POST"},
    {PUT, 64, "PUT"},
    {DELETE, 64, "DELETE"},
    {GET | POST, 64, "GET, POST"},
    {GET | PUT, 64, "GET, PUT"},
    {PUT | DELETE, 64, "PUT, DELETE"},
    {DELETE | GET, 64, "GET, DELETE"},
    {GET | POST | PUT | DELETE, 64, "GET, POST, PUT, DELETE"},
    {PATCH, 64, "PATCH"},
    {GET | PATCH, 64, "GET, PATCH"},
    {OTHER, 64, ""},
    {GET | OTHER, 64, "GET"},
    {GET | POST | PUT | DELETE, 23, "GET, POST, PUT, DELETE"}, /* exactly fits */
    {GET | POST, 4, "GET"},                                     /* room for GET only */
    {GET | POST, 10, "GET, POST"},
    /* a name that does not fit is left half-written instead of dropped */
    {GET | POST, 5, "GET"}, /* gives "GET," */
    {GET | POST, 9, "GET"}, /* gives "GET, POS" */
    {GET, 3, ""},           /* gives "GE" */
};
/* clang-format on */

static void allow_case_run(const void *arg)
{
    const struct allow_case *c = arg;
    char buf[64];
    memset(buf, '#', sizeof(buf));
    const char *out = router_allow_header(c->methods, buf, c->len);
    CHECK(out == buf);
    CHECK_STR(buf, c->want);
    /* nothing written past len */
    for (size_t i = c->len; i < sizeof(buf); i++)
        if (!CHECK(buf[i] == '#'))
            break;
}

/* ---- registration -------------------------------------------------------------------- */

static const char *method_name(enum route_method m)
{
    switch (m) {
    case METHOD_GET: return "GET";
    case METHOD_POST: return "POST";
    case METHOD_PUT: return "PUT";
    case METHOD_DELETE: return "DELETE";
    case METHOD_PATCH: return "PATCH";
    case METHOD_OTHER: return "OTHER";
    }
    return "?";
}

void register_router_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(route_cases); i++) {
        const struct route_case *c = &route_cases[i];
        char want[96];
        if (c->rc == 0)
            snprintf(want, sizeof(want), "%s", c->pattern);
        else if (c->rc == NOT_FOUND)
            snprintf(want, sizeof(want), "404");
        else
            snprintf(want, sizeof(want), "405 (allow 0x%x)", c->allowed);
        test_addf(route_case_run, c, "router %s \"%s\" -> %s", method_name(c->method), c->path,
                  want);
    }
    test_add("router param lookup by whole name", param_lookup, NULL);
    test_add("router path length limit", path_length, NULL);
    test_add("router NULL path", null_path, NULL);
    for (size_t i = 0; i < routes_count; i++)
        test_addf(route_reachable, &routes[i], "router table reaches %s %s",
                  method_name(routes[i].method), routes[i].pattern);
    test_add("router synthetic table rules", synthetic_rules, NULL);
    test_add("router failed match clears parameters", failed_match_clears_params, NULL);
    for (size_t i = 0; i < COUNT_OF(allow_cases); i++)
        test_addf(allow_case_run, &allow_cases[i], "router allow_header 0x%x len %zu -> \"%s\"",
                  allow_cases[i].methods, allow_cases[i].len, allow_cases[i].want);
}
