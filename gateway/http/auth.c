/* auth — Bearer key verification with a two-part TTL cache in front of api_keys, kept true by
 * polling api_key_changes once a second. */
#include "gateway/http/auth.h"
#include "common/clock.h"
#include "common/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/http/request.h"

/* One part of the cache: entries[0..used) chained from buckets by the hash's first digits. */
struct cache_entry {
    char hash[APIKEY_HASH_HEX_LEN + 1];
    int role; /* < 0: no such key */
    double expires;
    int next; /* next entry in the bucket, or -1 */
};

struct cache_part {
    int cap, used;
    size_t mask; /* buckets - 1 (a power of two) */
    uint64_t seed;
    int *buckets;
    struct cache_entry *entries;
};

struct authcache {
    int ttl;
    unsigned long generation;
    struct cache_part keys, unknown;
    /* The poll of api_key_changes (NULL without one). */
    struct pgpool *pool;
    struct event *poll_ev;
    bool polling;       /* a poll is in flight */
    bool poll_failing;  /* the last poll failed (logged once) */
    long long revision; /* the newest revision read; -1 before the first answer */
};

static int part_init(struct cache_part *p, int cap)
{
    size_t n = 1;
    while (n < (size_t)cap)
        n <<= 1;
    p->cap = cap;
    p->mask = n - 1;
    p->seed = ((uint64_t)random() << 33) ^ ((uint64_t)random() << 11) ^ (uint64_t)random();
    p->buckets = malloc(n * sizeof(*p->buckets));
    p->entries = malloc((size_t)cap * sizeof(*p->entries));
    if (!p->buckets || !p->entries)
        return -1;
    memset(p->buckets, 0xff, n * sizeof(*p->buckets)); /* -1: empty */
    return 0;
}

/* The first 16 digits of the hash, mixed with the part's random seed: a caller can choose
 * keys whose hashes share a few leading digits, but not ones that share a bucket without
 * knowing the seed, so it cannot make one long chain out of unknown keys. */
static size_t bucket_of(const struct cache_part *p, const char *hash)
{
    char digits[17];
    memcpy(digits, hash, 16);
    digits[16] = '\0';
    uint64_t x = ((uint64_t)strtoull(digits, NULL, 16) ^ p->seed) * 0x9e3779b97f4a7c15ULL;
    return (size_t)(x >> 32) & p->mask;
}

static int part_find(const struct cache_part *p, const char *hash)
{
    for (int i = p->buckets[bucket_of(p, hash)]; i >= 0; i = p->entries[i].next)
        if (strcmp(p->entries[i].hash, hash) == 0)
            return i;
    return -1;
}

/* The link that leads to entry i. */
static int *link_to(struct cache_part *p, int i)
{
    int *link = &p->buckets[bucket_of(p, p->entries[i].hash)];
    while (*link != i)
        link = &p->entries[*link].next;
    return link;
}

/* Removes entry i; the last entry moves into its place so entries stay dense. */
static void part_remove(struct cache_part *p, int i)
{
    *link_to(p, i) = p->entries[i].next;
    int last = --p->used;
    if (i != last) {
        *link_to(p, last) = i;
        p->entries[i] = p->entries[last];
    }
}

/* Adds or replaces hash's entry; when full, a random entry of this part makes room (cheaper
 * than an LRU list, and no pattern of requests can choose which one goes). */
static void part_put(struct cache_part *p, const char *hash, int role, double expires)
{
    int i = part_find(p, hash);
    if (i < 0) {
        if (p->used == p->cap)
            part_remove(p, (int)((unsigned long)random() % (unsigned long)p->cap));
        i = p->used++;
        struct cache_entry *e = &p->entries[i];
        memcpy(e->hash, hash, APIKEY_HASH_HEX_LEN + 1);
        size_t b = bucket_of(p, hash);
        e->next = p->buckets[b];
        p->buckets[b] = i;
    }
    p->entries[i].role = role;
    p->entries[i].expires = expires;
}

static void part_clear(struct cache_part *p)
{
    p->used = 0;
    memset(p->buckets, 0xff, (p->mask + 1) * sizeof(*p->buckets));
}

/* Removes the entries that have expired. From the end, so the entry part_remove moves into a
 * freed place has already been looked at. */
static void part_expire(struct cache_part *p, double now)
{
    for (int i = p->used - 1; i >= 0; i--)
        if (p->entries[i].expires <= now)
            part_remove(p, i);
}

static void poll_done(PGresult *res, void *arg)
{
    struct authcache *c = arg;
    c->polling = false;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        /* Nothing is lost meanwhile: the next poll reads every change since the last one. A
         * lost connection is logged by the pool; an error, once until a poll succeeds. */
        if (res && !c->poll_failing)
            log_warn("msg=\"key cache: polling api_key_changes failed\" error=\"%s\"",
                     PQresultErrorMessage(res));
        c->poll_failing = res != NULL;
        return;
    }
    c->poll_failing = false;
    long long oldest = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    long long newest = PQgetisnull(res, 0, 1) ? 0 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    authcache_changes(c, oldest, newest, PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2));
}

/* Once a second: one poll at a time, and none while nothing is cached (past the first, which
 * sets where the cache starts reading). */
static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct authcache *c = arg;
    if (c->polling)
        return;
    double now = clock_now();
    part_expire(&c->keys, now);
    part_expire(&c->unknown, now);
    if (c->revision >= 0 && c->keys.used == 0 && c->unknown.used == 0)
        return;
    char revision[24];
    snprintf(revision, sizeof(revision), "%lld", c->revision < 0 ? 0 : c->revision);
    const char *params[1] = {revision};
    if (pgpool_query(c->pool, Q_AUTH_CHANGES, 1, params, poll_done, c) == 0)
        c->polling = true;
}

void authcache_changes(struct authcache *c, long long oldest, long long newest, const char *changed)
{
    if (c->revision < 0 || c->revision < oldest || newest < c->revision) {
        /* The first answer: what was cached before it may predate a change it cannot show.
         * Otherwise the log was pruned past this gateway's revision (it could not poll for
         * 1,000 changes), or was emptied by hand: changes may have been missed. */
        if (c->revision < 0)
            log_info("msg=\"key cache follows api_key_changes\" revision=%lld", newest);
        else
            log_info("msg=\"key cache dropped: api_key_changes no longer holds every change "
                     "since the last poll\" revision=%lld oldest=%lld newest=%lld",
                     c->revision, oldest, newest);
        authcache_flush(c);
    } else if (changed && strcmp(changed, "*") == 0) {
        authcache_flush(c);
    } else if (changed) {
        char hash[APIKEY_HASH_HEX_LEN + 1];
        for (const char *p = changed + strspn(changed, " "); *p; p += strspn(p, " ")) {
            size_t len = strcspn(p, " ");
            if (len == APIKEY_HASH_HEX_LEN) {
                memcpy(hash, p, len);
                hash[len] = '\0';
                authcache_evict(c, hash);
            }
            p += len;
        }
    }
    c->revision = newest;
}

struct authcache *authcache_new(int ttl_seconds, int max_keys, int max_unknown,
                                struct event_base *base, struct pgpool *pool)
{
    struct authcache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ttl = ttl_seconds;
    c->revision = -1;
    if (part_init(&c->keys, max_keys) < 0 || part_init(&c->unknown, max_unknown) < 0) {
        authcache_free(c);
        return NULL;
    }
    if (!base || ttl_seconds <= 0)
        return c;
    c->pool = pool;
    c->poll_ev = event_new(base, -1, EV_PERSIST, poll_cb, c);
    struct timeval tv = {AUTHCACHE_POLL_S, 0};
    if (!c->poll_ev || event_add(c->poll_ev, &tv) < 0) {
        authcache_free(c);
        return NULL;
    }
    event_active(c->poll_ev, EV_TIMEOUT, 0); /* the first poll at once */
    return c;
}

void authcache_free(struct authcache *c)
{
    if (!c)
        return;
    if (c->poll_ev)
        event_free(c->poll_ev);
    free(c->keys.buckets);
    free(c->keys.entries);
    free(c->unknown.buckets);
    free(c->unknown.entries);
    free(c);
}

int authcache_get(struct authcache *c, const char *hash, enum role *role)
{
    double now = clock_now();
    int i = part_find(&c->keys, hash);
    if (i >= 0 && c->keys.entries[i].expires > now) {
        *role = (enum role)c->keys.entries[i].role;
        return 1;
    }
    i = part_find(&c->unknown, hash);
    return i >= 0 && c->unknown.entries[i].expires > now ? 0 : -1;
}

unsigned long authcache_generation(const struct authcache *c) { return c->generation; }

void authcache_put(struct authcache *c, const char *hash, int role, unsigned long generation)
{
    if (c->ttl <= 0 || generation != c->generation)
        return;
    double now = clock_now();
    if (role < 0) {
        part_put(&c->unknown, hash, -1,
                 now + (c->ttl < AUTHCACHE_NEGATIVE_TTL ? c->ttl : AUTHCACHE_NEGATIVE_TTL));
        return;
    }
    int i = part_find(&c->unknown, hash);
    if (i >= 0)
        part_remove(&c->unknown, i);
    part_put(&c->keys, hash, role, now + c->ttl);
}

void authcache_evict(struct authcache *c, const char *hash)
{
    c->generation++;
    int i = part_find(&c->keys, hash);
    if (i >= 0)
        part_remove(&c->keys, i);
    if ((i = part_find(&c->unknown, hash)) >= 0)
        part_remove(&c->unknown, i);
}

void authcache_flush(struct authcache *c)
{
    c->generation++;
    part_clear(&c->unknown);
    part_clear(&c->keys);
}

int authcache_count(const struct authcache *c, bool valid)
{
    return valid ? c->keys.used : c->unknown.used;
}

/* Continuation state while the key is looked up in the database. */
struct auth_pending {
    void (*next)(struct request *r);
    unsigned long generation; /* the cache's when the lookup was sent */
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
        authcache_put(r->gw->auth, p->hash, -1, p->generation);
        unauthorized(r, "unknown or revoked API key");
        return;
    }
    authcache_put(r->gw->auth, p->hash, (int)role, p->generation);
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
    p->generation = authcache_generation(r->gw->auth);
    memcpy(p->hash, hash, sizeof(hash));
    const char *params[1] = {p->hash};
    if (pgpool_query(r->gw->pool, Q_AUTH_LOOKUP, 1, params, lookup_done, r) < 0)
        request_unavailable(r);
}
