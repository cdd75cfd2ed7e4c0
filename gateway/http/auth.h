/* auth — who is calling: the Bearer API key is hashed, looked up in a small TTL cache and,
 * on a miss, in api_keys through the pool (never blocking the loop); then the route's
 * allowed roles decide between carrying on, 401 and 403. */
#ifndef FLOWSTATE_AUTH_H
#define FLOWSTATE_AUTH_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/apikey.h"

#define AUTHCACHE_NEGATIVE_TTL 5
#define AUTHCACHE_POLL_S 1

struct request;
struct authcache;
struct pgpool;

/* A cache of key hash -> role in two bounded parts: valid keys (kept ttl_seconds, at most
 * max_keys) and unknown or revoked keys (kept at most AUTHCACHE_NEGATIVE_TTL seconds, at most
 * max_unknown), so a flood of random keys only ever evicts its own kind. ttl_seconds 0: no
 * cache. With base (NULL: none), it polls api_key_changes through pool every
 * AUTHCACHE_POLL_S seconds while it holds anything (one poll at a time, never blocking the
 * loop) and drops the keys added, changed or removed since: a revocation anywhere reaches
 * it within about a second. NULL on allocation failure. */
struct authcache *authcache_new(int ttl_seconds, int max_keys, int max_unknown,
                                struct event_base *base, struct pgpool *pool);
void authcache_free(struct authcache *cache);
/* Returns 1 (known key, *role set), 0 (known to be invalid) or -1 (not cached). */
int authcache_get(struct authcache *cache, const char *hash, enum role *role);
/* A counter that moves whenever keys are dropped: an answer read from the database before
 * it moved may be stale, so authcache_put ignores it. */
unsigned long authcache_generation(const struct authcache *cache);
/* role < 0 records "no such key"; ignored when the generation read before the lookup
 * (generation) is no longer current. */
void authcache_put(struct authcache *cache, const char *hash, int role, unsigned long generation);
/* Applies one poll's answer: the oldest and newest revisions api_key_changes holds (0: it is
 * empty) and the hashes changed since the last poll, separated by spaces ("*": every key;
 * NULL: none). The first answer, and one after the log was pruned past the last, drop
 * everything. */
void authcache_changes(struct authcache *cache, long long oldest, long long newest,
                       const char *changed);
/* Drops one key (either kind). */
void authcache_evict(struct authcache *cache, const char *hash);
/* Drops every key. */
void authcache_flush(struct authcache *cache);
/* Entries held: valid keys (valid true) or unknown ones. */
int authcache_count(const struct authcache *cache, bool valid);

/* Authenticates r for its matched route and calls next(r) when it may proceed; otherwise
 * answers 401/403/503 itself. Public routes and FLOWSTATE_AUTH=off proceed at once (as
 * admin when auth is off). */
void auth_request(struct request *r, void (*next)(struct request *r));

#endif
