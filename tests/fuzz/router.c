/* router — paths and methods against the real route table (gateway/routes.c). The input's
 * first byte picks the method, the rest is the path.
 *
 * Checks: a match is for the asked method, with one parameter per ":name" segment of its
 * pattern, each found by router_param; the same route and parameters come back for the path
 * rebuilt from the pattern with every parameter byte percent-encoded (decoding and matching
 * agree); a 405 names allowed methods that exclude the asked one, and their Allow header. */
#include "tests/fuzz/fuzz.h"

#include "gateway/http/router.h"
#include "gateway/routes.h"

static const enum route_method methods[] = {METHOD_GET,    METHOD_POST,  METHOD_PUT,
                                            METHOD_DELETE, METHOD_PATCH, METHOD_OTHER};

/* The path of m's pattern with each parameter percent-encoded, or false when it does not fit
 * out. */
static bool rebuild(const struct route_match *m, char *out, size_t len)
{
    size_t o = 0;
    int k = 0;
    for (const char *p = m->route->pattern; *p;) {
        size_t seg = strcspn(p + 1, "/") + 1; /* "/name" */
        if (p[1] == ':') {
            if (o + 1 >= len)
                return false;
            out[o++] = '/';
            for (const unsigned char *v = (const unsigned char *)m->params[k].value; *v; v++) {
                if (o + 3 >= len)
                    return false;
                o += (size_t)snprintf(out + o, len - o, "%%%02X", *v);
            }
            k++;
        } else {
            if (o + seg >= len)
                return false;
            memcpy(out + o, p, seg);
            o += seg;
        }
        p += seg;
    }
    out[o] = '\0';
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum route_method method =
        methods[fuzz_byte(&data, &size) % (sizeof(methods) / sizeof(methods[0]))];
    char *path = fuzz_cstring(data, size);
    static struct route_match m, again;
    int rc = router_match(routes, routes_count, method, path, &m);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2, "rc %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(m.route && m.route->method == method, "matched another method's route");
        int colons = 0;
        for (const char *p = m.route->pattern; (p = strstr(p, "/:")); p++)
            colons++;
        FUZZ_CHECK(m.nparams == colons, "%d parameters for %s", m.nparams, m.route->pattern);
        for (int k = 0; k < m.nparams; k++) {
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)m.params[k].name_len, m.params[k].name);
            FUZZ_CHECK(router_param(&m, name) == m.params[k].value, "router_param(%s)", name);
            FUZZ_CHECK(m.params[k].value[0], "an empty parameter %s", name);
        }
        char rebuilt[3 * ROUTER_MAX_PATH];
        if (rebuild(&m, rebuilt, ROUTER_MAX_PATH + 1)) {
            FUZZ_CHECK(router_match(routes, routes_count, method, rebuilt, &again) == 0 &&
                           again.route == m.route && again.nparams == m.nparams,
                       "%s matched %s, but %s does not", path, m.route->pattern, rebuilt);
            for (int k = 0; k < m.nparams; k++)
                FUZZ_CHECK(strcmp(again.params[k].value, m.params[k].value) == 0,
                           "parameter %d of %s", k, rebuilt);
        }
    } else {
        FUZZ_CHECK(m.route == NULL && m.nparams == 0, "a failed match kept a route");
        FUZZ_CHECK((rc == -2) == (m.allowed != 0), "rc %d with allowed %u", rc, m.allowed);
        FUZZ_CHECK(!(m.allowed & (unsigned)method), "405 for an allowed method");
        char allow[64];
        router_allow_header(m.allowed, allow, sizeof(allow));
        FUZZ_CHECK(rc == -1 || m.allowed == METHOD_OTHER || allow[0], "an empty Allow header");
    }
    free(path);
    return 0;
}
