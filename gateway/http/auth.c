/* auth — Bearer key verification with a TTL cache in front of api_keys. */
#include "gateway/http/auth.h"
#include "common/clock.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/http/request.h"

#define CACHE_SLOTS 1024 /* power of two */
#define NEGATIVE_TTL_MAX 5

struct cache_entry {
    char hash[APIKEY_HASH_HEX_LEN + 1]; /* empty: free slot */
    int role;                           /* < 0: no such key */
    time_t expires;
};

struct authcache {
    int ttl;
    int used;
    struct cache_entry slots[CACHE_SLOTS];
};

struct authcache *authcache_new(int ttl_seconds)
{
    struct authcache *c = calloc(1, sizeof(*c));
    if (c)
        c->ttl = ttl_seconds;
    return c;
}

void authcache_free(struct authcache *cache) { free(cache); }

static size_t slot_of(const char *hash)
{
    /* The hash is already uniformly random hex: its first 8 digits make a fine index. */
    return (size_t)strtoul(
               (char[9]){hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7], 0},
               NULL, 16) &
           (CACHE_SLOTS - 1);
}

static struct cache_entry *find(struct authcache *c, const char *hash)
{
    size_t i = slot_of(hash);
    for (size_t probe = 0; probe < CACHE_SLOTS; probe++, i = (i + 1) & (CACHE_SLOTS - 1)) {
        struct cache_entry *e = &c->slots[i];
        if (e->hash[0] == '\0')
            return NULL;
        if (strcmp(e->hash, hash) == 0)
            return e;
    }
    return NULL;
}

int authcache_get(struct authcache *c, const char *hash, enum role *role)
{
    struct cache_entry *e = find(c, hash);
    if (!e || e->expires <= (time_t)clock_now())
        return -1;
    if (e->role < 0)
        return 0;
    *role = (enum role)e->role;
    return 1;
}

void authcache_put(struct authcache *c, const char *hash, int role)
{
    if (c->ttl <= 0)
        return;
    struct cache_entry *e = find(c, hash);
    if (!e) {
        /* Keep the table at most half full; dropping everything is rare and cheap. */
        if (c->used >= CACHE_SLOTS / 2) {
            memset(c->slots, 0, sizeof(c->slots));
            c->used = 0;
        }
        size_t i = slot_of(hash);
        while (c->slots[i].hash[0])
            i = (i + 1) & (CACHE_SLOTS - 1);
        e = &c->slots[i];
        memcpy(e->hash, hash, APIKEY_HASH_HEX_LEN + 1);
        c->used++;
    }
    e->role = role;
    e->expires =
        (time_t)clock_now() + (role < 0 && c->ttl > NEGATIVE_TTL_MAX ? NEGATIVE_TTL_MAX : c->ttl);
}

void authcache_evict(struct authcache *c, const char *hash)
{
    struct cache_entry *e = find(c, hash);
    if (e)
        e->expires = 0; /* keeps the probe chain intact */
}

/* Continuation state while the key is looked up in the database. */
struct auth_pending {
    void (*next)(struct request *r);
    char hash[APIKEY_HASH_HEX_LEN + 1];
};

static const struct request_ctx_type auth_pending_ctx = {"auth lookup", NULL};

static void unauthorized(struct request *r, const char *why)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
                      "Bearer realm=\"flowstate\"");
    request_error(r, 401, "unauthorized", NULL, "%s", why);
}

static void authorize(struct request *r, enum role role, void (*next)(struct request *r))
{
    r->role = role;
    if (!(r->match.route->roles & ROLE_BIT(role))) {
        request_error(r, 403, "forbidden", NULL, "the %s role may not use this route",
                      apikey_role_name(role));
        return;
    }
    next(r);
}

static void lookup_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    const struct auth_pending *p = request_ctx(r, &auth_pending_ctx);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    enum role role;
    if (PQntuples(res) == 0 || apikey_role_parse(PQgetvalue(res, 0, 0), &role) < 0) {
        authcache_put(r->gw->auth, p->hash, -1);
        unauthorized(r, "unknown or revoked API key");
        return;
    }
    authcache_put(r->gw->auth, p->hash, (int)role);
    authorize(r, role, p->next);
}

void auth_request(struct request *r, void (*next)(struct request *r))
{
    if (r->match.route->roles == 0 || !r->gw->auth_on) {
        r->role = ROLE_ADMIN;
        next(r);
        return;
    }
    const char *header =
        evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
    if (!header) {
        unauthorized(r, "an API key is required: Authorization: Bearer <key>");
        return;
    }
    if (strncasecmp(header, "Bearer ", 7) != 0) {
        unauthorized(r, "the Authorization header must be: Bearer <key>");
        return;
    }
    const char *key = header + 7;
    while (*key == ' ')
        key++;
    size_t len = strlen(key);
    while (len && key[len - 1] == ' ')
        len--;
    if (!apikey_well_formed(key, len)) {
        unauthorized(r, "unknown or revoked API key");
        return;
    }
    char hash[APIKEY_HASH_HEX_LEN + 1];
    apikey_hash(key, len, hash);
    enum role role;
    switch (authcache_get(r->gw->auth, hash, &role)) {
    case 1: authorize(r, role, next); return;
    case 0: unauthorized(r, "unknown or revoked API key"); return;
    default: break;
    }
    struct auth_pending *p = request_ctx_new(r, &auth_pending_ctx, sizeof(*p));
    if (!p) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    p->next = next;
    memcpy(p->hash, hash, sizeof(hash));
    const char *params[1] = {p->hash};
    if (pgpool_query(r->gw->pool, Q_AUTH_LOOKUP, 1, params, lookup_done, r) < 0)
        request_unavailable(r);
}
