/* auth cache: the two bounded parts (a flood of unknown keys evicts only unknown keys), the
 * generation that keeps a stale lookup out, eviction and flushing. No channels: the fs_keys
 * side is exercised by tests/integration/test_key_cache.py. */
#include <stdio.h>
#include <string.h>

#include "common/apikey.h"
#include "gateway/http/auth.h"
#include "tests/unit/harness.h"

/* A distinct 64-digit hex "hash" for n (and its kind, so the two sets never meet). */
static void hash_of(unsigned long n, char kind, char out[APIKEY_HASH_HEX_LEN + 1])
{
    snprintf(out, APIKEY_HASH_HEX_LEN + 1, "%08lx%c%055lx", (n * 2654435761UL) & 0xffffffffUL, kind,
             n);
}

static void flood_keeps_valid_keys(const void *arg)
{
    (void)arg;
    struct authcache *c = authcache_new(30, 16, 64, NULL);
    REQUIRE(c);
    char h[APIKEY_HASH_HEX_LEN + 1];
    for (unsigned long i = 0; i < 16; i++) {
        hash_of(i, 'a', h);
        authcache_put(c, h, ROLE_AGENT, authcache_generation(c));
    }
    /* 100 times as many unknown keys as the unknown part holds: each is remembered... */
    for (unsigned long i = 0; i < 6400; i++) {
        hash_of(i, 'f', h);
        enum role role;
        CHECK_LONG(authcache_get(c, h, &role), -1);
        authcache_put(c, h, -1, authcache_generation(c));
        if (!CHECK_LONG(authcache_get(c, h, &role), 0))
            break;
    }
    CHECK_LONG(authcache_count(c, false), 64);
    /* ...and every valid key is still served from the cache. */
    CHECK_LONG(authcache_count(c, true), 16);
    for (unsigned long i = 0; i < 16; i++) {
        hash_of(i, 'a', h);
        enum role role = ROLE_VIEWER;
        CHECK_LONG(authcache_get(c, h, &role), 1);
        CHECK_LONG(role, ROLE_AGENT);
    }
    authcache_free(c);
}

static void valid_part_bounded(const void *arg)
{
    (void)arg;
    struct authcache *c = authcache_new(30, 8, 8, NULL);
    REQUIRE(c);
    char h[APIKEY_HASH_HEX_LEN + 1];
    int hits = 0;
    for (unsigned long i = 0; i < 100; i++) {
        hash_of(i, 'a', h);
        authcache_put(c, h, ROLE_ADMIN, authcache_generation(c));
    }
    CHECK_LONG(authcache_count(c, true), 8);
    for (unsigned long i = 0; i < 100; i++) {
        enum role role;
        hash_of(i, 'a', h);
        hits += authcache_get(c, h, &role) == 1;
    }
    CHECK_LONG(hits, 8); /* the chains stayed consistent through the evictions */
    hash_of(99, 'a', h);
    enum role role;
    CHECK_LONG(authcache_get(c, h, &role), 1); /* the newest is always kept */
    authcache_free(c);
}

static void evict_and_flush(const void *arg)
{
    (void)arg;
    struct authcache *c = authcache_new(30, 8, 8, NULL);
    REQUIRE(c);
    char a[APIKEY_HASH_HEX_LEN + 1], b[APIKEY_HASH_HEX_LEN + 1], u[APIKEY_HASH_HEX_LEN + 1];
    hash_of(1, 'a', a);
    hash_of(2, 'a', b);
    hash_of(3, 'f', u);
    authcache_put(c, a, ROLE_ADMIN, authcache_generation(c));
    authcache_put(c, b, ROLE_VIEWER, authcache_generation(c));
    authcache_put(c, u, -1, authcache_generation(c));
    enum role role;
    authcache_evict(c, a);
    CHECK_LONG(authcache_get(c, a, &role), -1);
    CHECK_LONG(authcache_get(c, b, &role), 1);
    CHECK_LONG(role, ROLE_VIEWER);
    authcache_evict(c, u); /* a key made valid again by hand is looked up again */
    CHECK_LONG(authcache_get(c, u, &role), -1);
    authcache_put(c, u, -1, authcache_generation(c));
    authcache_flush(c);
    CHECK_LONG(authcache_get(c, b, &role), -1);
    CHECK_LONG(authcache_get(c, u, &role), -1);
    CHECK_LONG(authcache_count(c, true), 0);
    CHECK_LONG(authcache_count(c, false), 0);
    /* An unknown key that turns out valid moves to the valid part. */
    authcache_put(c, u, -1, authcache_generation(c));
    authcache_put(c, u, ROLE_OPERATOR, authcache_generation(c));
    CHECK_LONG(authcache_get(c, u, &role), 1);
    CHECK_LONG(authcache_count(c, false), 0);
    authcache_free(c);
}

/* A lookup answered before a revocation arrived must not be cached after it. */
static void stale_lookup_ignored(const void *arg)
{
    (void)arg;
    struct authcache *c = authcache_new(30, 8, 8, NULL);
    REQUIRE(c);
    char a[APIKEY_HASH_HEX_LEN + 1];
    hash_of(1, 'a', a);
    unsigned long before = authcache_generation(c);
    authcache_evict(c, a); /* the revocation's notification */
    authcache_put(c, a, ROLE_ADMIN, before);
    enum role role;
    CHECK_LONG(authcache_get(c, a, &role), -1);
    authcache_free(c);
}

static void ttl_zero_caches_nothing(const void *arg)
{
    (void)arg;
    struct authcache *c = authcache_new(0, 8, 8, NULL);
    REQUIRE(c);
    char a[APIKEY_HASH_HEX_LEN + 1];
    hash_of(1, 'a', a);
    authcache_put(c, a, ROLE_ADMIN, authcache_generation(c));
    enum role role;
    CHECK_LONG(authcache_get(c, a, &role), -1);
    authcache_free(c);
}

void register_auth_cache_tests(void)
{
    test_add("auth cache: a flood of unknown keys evicts no valid key", flood_keeps_valid_keys,
             NULL);
    test_add("auth cache: the valid part is bounded", valid_part_bounded, NULL);
    test_add("auth cache: evict and flush", evict_and_flush, NULL);
    test_add("auth cache: a lookup older than an eviction is not cached", stale_lookup_ignored,
             NULL);
    test_add("auth cache: ttl 0 caches nothing", ttl_zero_caches_nothing, NULL);
}
