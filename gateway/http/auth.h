/* auth — who is calling: the Bearer API key is hashed, looked up in a small TTL cache and,
 * on a miss, in api_keys through the pool (never blocking the loop); then the route's
 * allowed roles decide between carrying on, 401 and 403. */
#ifndef FLOWSTATE_AUTH_H
#define FLOWSTATE_AUTH_H

#include <stddef.h>

#include "common/apikey.h"

struct request;
struct authcache;

/* A cache of key hash -> role (or "no such key") entries kept ttl_seconds (0: no cache).
 * NULL on allocation failure. */
struct authcache *authcache_new(int ttl_seconds);
void authcache_free(struct authcache *cache);
/* Returns 1 (known key, *role set), 0 (known to be invalid) or -1 (not cached). */
int authcache_get(struct authcache *cache, const char *hash, enum role *role);
/* role < 0 records "no such key". */
void authcache_put(struct authcache *cache, const char *hash, int role);
void authcache_evict(struct authcache *cache, const char *hash);

/* Authenticates r for its matched route and calls next(r) when it may proceed; otherwise
 * answers 401/403/503 itself. Public routes and FLOWSTATE_AUTH=off proceed at once (as
 * admin when auth is off). */
void auth_request(struct request *r, void (*next)(struct request *r));

#endif
