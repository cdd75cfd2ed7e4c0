/* apikey — API keys and roles: generating keys, hashing them for storage and lookup, and
 * the role names. A key is "fsk_" + 43 base64url characters (256 random bits); only its
 * SHA-256 is ever stored, so a database dump reveals no usable key. */
#ifndef FLOWSTATE_APIKEY_H
#define FLOWSTATE_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#define APIKEY_PREFIX "fsk_"
#define APIKEY_LEN (4 + 43)
#define APIKEY_HASH_HEX_LEN 64
/* The first characters of a key, kept in clear so operators can tell keys apart. */
#define APIKEY_SHOWN_PREFIX_LEN 8

enum role { ROLE_ADMIN, ROLE_OPERATOR, ROLE_AGENT, ROLE_VIEWER, ROLE__COUNT };

#define ROLE_BIT(r) (1u << (r))
#define ROLES_ALL                                                                                  \
    (ROLE_BIT(ROLE_ADMIN) | ROLE_BIT(ROLE_OPERATOR) | ROLE_BIT(ROLE_AGENT) | ROLE_BIT(ROLE_VIEWER))
#define ROLES_WRITERS (ROLE_BIT(ROLE_ADMIN) | ROLE_BIT(ROLE_OPERATOR) | ROLE_BIT(ROLE_AGENT))
#define ROLES_ADMIN ROLE_BIT(ROLE_ADMIN)

/* Returns 0 and sets *out for "admin", "operator", "agent" or "viewer"; -1 otherwise. */
int apikey_role_parse(const char *name, enum role *out);
const char *apikey_role_name(enum role role);

/* Writes a fresh random key (APIKEY_LEN characters + NUL) into out. Returns 0, or -1 when
 * the system has no randomness to give. */
int apikey_generate(char out[APIKEY_LEN + 1]) __attribute__((warn_unused_result));

/* Writes the lowercase hex SHA-256 of key (64 characters + NUL) into out. */
void apikey_hash(const char *key, size_t len, char out[APIKEY_HASH_HEX_LEN + 1]);

/* Copies the first APIKEY_SHOWN_PREFIX_LEN characters of key into out (NUL-terminated). */
void apikey_shown_prefix(const char *key, char out[APIKEY_SHOWN_PREFIX_LEN + 1]);

/* True when s looks like a key we issued (prefix, length, alphabet): a cheap filter
 * before any lookup. */
bool apikey_well_formed(const char *s, size_t len);

#endif
