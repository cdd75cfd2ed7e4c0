/* vectors — the gateway's cache of document embeddings for its provider's model, used by
 * semantic search, the semantic half of hybrid search and "similar" (documents.c) to find
 * the few candidate ids that SQL then scores exactly. Loaded asynchronously through the
 * main pool in keyset pages once the LISTEN connection is up, kept current by the
 * gateway's own inserts and by the fs_documents NOTIFYs of every gateway's (and any
 * hand-written) insert, update and delete, and re-synced (mark and sweep, still serving)
 * each time the LISTEN connection reconnects. Until the first load finishes, or when the
 * vector-cache setting is off, or when the documents outgrow vector-cache-max, it offers
 * nothing and searches take the pgvector path (pgvector.h) or the exact SQL scan. */
#ifndef FLOWSTATE_VECTORS_H
#define FLOWSTATE_VECTORS_H

#include <stdbool.h>
#include <stddef.h>

struct gateway;
struct vectors;
struct vecstore;

/* The cache for gw's configured provider (created empty; the LISTEN pool's ready hook
 * starts the load). NULL on allocation failure. */
struct vectors *vectors_new(struct gateway *gw);
void vectors_free(struct vectors *v);

/* The LISTEN pool's hooks (arg is the vectors): a notification on fs_documents, and a
 * (re)connect, which starts a load or re-sync. */
void vectors_notify(const char *channel, const char *payload, void *arg);
void vectors_resync(void *arg);

/* The store to search for model, or NULL when the cache cannot answer for it (disabled,
 * not loaded yet, another model). */
const struct vecstore *vectors_store(const struct vectors *v, const char *model);

/* A document the gateway just stored (vec: the provider's dims floats). */
void vectors_put(struct vectors *v, long long id, const char *model, const float *vec);

/* "{1,2,3}" for n ids (caller frees), or NULL on allocation failure. */
char *vectors_ids_text(const long long *ids, long n);
/* Parses a bigint[] text value into a new sorted array (caller frees *out). Returns the
 * count, or -1 on a malformed value or allocation failure. */
long vectors_parse_ids(const char *text, long long **out);

#endif
