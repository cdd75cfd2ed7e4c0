/* auth cache: the two bounded parts (a flood of unknown keys evicts only unknown keys), the
 * generation that keeps a stale lookup out, eviction and flushing, and what a poll's answer
 * drops. No event base: the polling itself is exercised by
 * tests/integration/test_key_cache.py. */
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
    struct authcache *c = authcache_new(30, 16, 64, NULL, NULL);
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
    struct authcache *c = authcache_new(30, 8, 8, NULL, NULL);
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
    struct authcache *c = authcache_new(30, 8, 8, NULL, NULL);
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
    struct authcache *c = authcache_new(30, 8, 8, NULL, NULL);
    REQUIRE(c);
    char a[APIKEY_HASH_HEX_LEN + 1];
    hash_of(1, 'a', a);
    unsigned long before = authcache_generation(c);
    authcache_evict(c, a); /* the revocation, read by a poll */
    authcache_put(c, a, ROLE_ADMIN, before);
    enum role role;
    CHECK_LONG(authcache_get(c, a, &role), -1);
    authcache_free(c);
}

static void ttl_zero_caches_nothing(const void *arg)
{
    (void)arg;
    struct authcache *c = authcache_new(0, 8, 8, NULL, NULL);
    REQUIRE(c);
    char a[APIKEY_HASH_HEX_LEN + 1];
    hash_of(1, 'a', a);
    authcache_put(c, a, ROLE_ADMIN, authcache_generation(c));
    enum role role;
    CHECK_LONG(authcache_get(c, a, &role), -1);
    authcache_free(c);
}

/* A cache holding valid keys a and b and the unknown key u, past its first poll's answer at
 * revision 10. */
static struct authcache *polled_cache(char a[], char b[], char u[])
{
    struct authcache *c = authcache_new(30, 8, 8, NULL, NULL);
    if (!c)
        return NULL;
    authcache_changes(c, 1, 10, NULL);
    hash_of(1, 'a', a);
    hash_of(2, 'a', b);
    hash_of(3, 'f', u);
    authcache_put(c, a, ROLE_ADMIN, authcache_generation(c));
    authcache_put(c, b, ROLE_VIEWER, authcache_generation(c));
    authcache_put(c, u, -1, authcache_generation(c));
    return c;
}

#define HASH_BUF (APIKEY_HASH_HEX_LEN + 1)

static void first_poll_drops_everything(const void *arg)
{
    (void)arg;
    struct authcache *c = authcache_new(30, 8, 8, NULL, NULL);
    REQUIRE(c);
    char a[HASH_BUF];
    hash_of(1, 'a', a);
    authcache_put(c, a, ROLE_ADMIN, authcache_generation(c));
    unsigned long before = authcache_generation(c);
    /* cached before the cache knew where the log stood: it may have been revoked since */
    authcache_changes(c, 1, 10, NULL);
    enum role role;
    CHECK_LONG(authcache_get(c, a, &role), -1);
    authcache_put(c, a, ROLE_ADMIN, before); /* a lookup sent before that answer */
    CHECK_LONG(authcache_get(c, a, &role), -1);
    authcache_put(c, a, ROLE_ADMIN, authcache_generation(c));
    authcache_changes(c, 1, 10, NULL); /* nothing new: kept */
    CHECK_LONG(authcache_get(c, a, &role), 1);
    authcache_free(c);
}

static void poll_drops_the_changed_keys(const void *arg)
{
    (void)arg;
    char a[HASH_BUF], b[HASH_BUF], u[HASH_BUF], other[HASH_BUF], changed[4 * HASH_BUF + 8];
    struct authcache *c = polled_cache(a, b, u);
    REQUIRE(c);
    hash_of(9, 'a', other);
    /* a revoked, u created (it was unknown), a key this gateway never saw; stray spaces and
     * a malformed word are skipped */
    snprintf(changed, sizeof(changed), " %s  %s %s xyz %s ", a, u, other, a);
    unsigned long before = authcache_generation(c);
    authcache_changes(c, 1, 12, changed);
    enum role role;
    CHECK_LONG(authcache_get(c, a, &role), -1);
    CHECK_LONG(authcache_get(c, u, &role), -1);
    CHECK_LONG(authcache_get(c, b, &role), 1);
    CHECK_LONG(role, ROLE_VIEWER);
    CHECK(authcache_generation(c) != before); /* lookups in flight are not cached */
    /* nothing new since 12: b stays */
    authcache_changes(c, 1, 12, NULL);
    CHECK_LONG(authcache_get(c, b, &role), 1);
    authcache_free(c);
}

static void poll_star_drops_everything(const void *arg)
{
    (void)arg;
    char a[HASH_BUF], b[HASH_BUF], u[HASH_BUF];
    struct authcache *c = polled_cache(a, b, u);
    REQUIRE(c);
    authcache_changes(c, 1, 11, "*"); /* a truncate, or too many changes to list */
    CHECK_LONG(authcache_count(c, true), 0);
    CHECK_LONG(authcache_count(c, false), 0);
    authcache_free(c);
}

/* The log kept no row this gateway had read (it fell 1,000 changes behind), or went back
 * (emptied by hand): whatever it lists, everything goes. */
static void poll_after_a_gap_drops_everything(const void *arg)
{
    (void)arg;
    char a[HASH_BUF], b[HASH_BUF], u[HASH_BUF], other[HASH_BUF];
    struct authcache *c = polled_cache(a, b, u);
    REQUIRE(c);
    hash_of(9, 'a', other);
    authcache_changes(c, 11, 1011, other);
    CHECK_LONG(authcache_count(c, true), 0);
    authcache_put(c, a, ROLE_ADMIN, authcache_generation(c));
    authcache_changes(c, 11, 1011, NULL); /* caught up: kept */
    CHECK_LONG(authcache_count(c, true), 1);
    authcache_changes(c, 0, 0, NULL); /* emptied */
    CHECK_LONG(authcache_count(c, true), 0);
    authcache_put(c, a, ROLE_ADMIN, authcache_generation(c));
    authcache_changes(c, 0, 0, NULL);
    CHECK_LONG(authcache_count(c, true), 1);
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
    test_add("auth cache: the first poll's answer drops everything", first_poll_drops_everything,
             NULL);
    test_add("auth cache: a poll drops the keys changed since the last",
             poll_drops_the_changed_keys, NULL);
    test_add("auth cache: a poll answering * drops everything", poll_star_drops_everything, NULL);
    test_add("auth cache: a poll after a gap in the log drops everything",
             poll_after_a_gap_drops_everything, NULL);
}
