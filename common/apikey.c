/* apikey — key generation (OpenSSL RAND_bytes), SHA-256 hashing and role names. */
#include "common/apikey.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

static const char *const role_names[ROLE__COUNT] = {"admin", "operator", "agent", "viewer"};

int apikey_role_parse(const char *name, enum role *out)
{
    for (int r = 0; r < ROLE__COUNT; r++) {
        if (strcmp(name, role_names[r]) == 0) {
            *out = (enum role)r;
            return 0;
        }
    }
    return -1;
}

const char *apikey_role_name(enum role role)
{
    return role < ROLE__COUNT ? role_names[role] : "unknown";
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int apikey_generate(char out[APIKEY_LEN + 1])
{
    unsigned char raw[33]; /* 264 bits -> 44 chars; we keep 43 (258 bits) */
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    memcpy(out, APIKEY_PREFIX, 4);
    size_t o = 4;
    for (size_t i = 0; i + 2 < sizeof(raw) && o < APIKEY_LEN; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        for (int k = 3; k >= 0 && o < APIKEY_LEN; k--)
            out[o++] = b64url[(v >> (6 * k)) & 63];
    }
    out[APIKEY_LEN] = '\0';
    return 0;
}

/* SHA-256, fetched from OpenSSL's providers once per thread: EVP_sha256() makes OpenSSL 3
 * look the algorithm up again on every digest, a large share of hashing a key, which the
 * gateway does for every authenticated request (docs/measurements.md). */
static const EVP_MD *sha256(void)
{
    static __thread EVP_MD *fetched;
    if (!fetched)
        fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
    return fetched ? fetched : EVP_sha256();
}

void apikey_hash(const char *key, size_t len, char out[APIKEY_HASH_HEX_LEN + 1])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    unsigned int dlen = 0;
    EVP_Digest(key, len, digest, &dlen, sha256(), NULL);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[APIKEY_HASH_HEX_LEN] = '\0';
}

void apikey_shown_prefix(const char *key, char out[APIKEY_SHOWN_PREFIX_LEN + 1])
{
    size_t n = strnlen(key, APIKEY_SHOWN_PREFIX_LEN);
    memcpy(out, key, n);
    out[n] = '\0';
}

bool apikey_well_formed(const char *s, size_t len)
{
    if (len != APIKEY_LEN || strncmp(s, APIKEY_PREFIX, 4) != 0)
        return false;
    for (size_t i = 4; i < len; i++) {
        unsigned char c = (unsigned char)s[i]; /* b64url's alphabet */
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}
