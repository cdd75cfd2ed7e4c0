/* vectors — the gateway's cache of document embeddings for its provider's model, used by
 * semantic search, the semantic half of hybrid search and "similar" (documents.c) to find
 * the few candidate ids that SQL then scores exactly. Started by the first search that can
 * use it (a gateway that serves none holds no embeddings and no LISTEN on fs_documents):
 * it subscribes to fs_documents (channels.h), then loads asynchronously through the main
 * pool in keyset pages, is kept current by the gateway's own inserts and by the
 * fs_documents NOTIFYs of every gateway's (and any hand-written) insert, update and delete,
 * and is re-synced (mark and sweep, still serving) each time the LISTEN connection
 * reconnects. Until the first load finishes, or when the vector-cache setting is off, or
 * when the documents outgrow vector-cache-max, it offers nothing and searches take the
 * pgvector path (pgvector.h) or the exact SQL scan. */
#ifndef FLOWSTATE_VECTORS_H
#define FLOWSTATE_VECTORS_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

struct vectors;
struct vecstore;
struct pgpool;
struct channels;
struct embed_provider;

/* The cache for provider p's model (created empty; vectors_use starts it), loading through
 * pool, subscribing to fs_documents on channels, retrying on base's timers. enabled false
 * (the vector-cache setting off) or max 0: it never offers a store. max: the most documents
 * it holds (vector-cache-max). NULL on allocation failure. */
struct vectors *vectors_new(struct event_base *base, struct pgpool *pool, struct channels *channels,
                            const struct embed_provider *p, bool enabled, long max);
void vectors_free(struct vectors *v);

/* The fs_documents channel's hooks (channels.h; arg is the vectors): a notification, and
 * the LISTEN taking effect (again: after a lost connection), which starts the load or a
 * re-sync. */
void vectors_notify(const char *payload, void *arg);
void vectors_listening(bool again, void *arg);
/* Reads every row again (mark and sweep), still serving. */
void vectors_resync(void *arg);

/* The store to search for model, or NULL when the cache cannot answer for it (disabled,
 * not loaded yet, another model). vectors_use also starts the cache on its first call for
 * the provider's model. */
const struct vecstore *vectors_store(const struct vectors *v, const char *model);
const struct vecstore *vectors_use(struct vectors *v, const char *model);

/* A scan on a work thread (workpool.h) reads store s, which vectors_store returned, until
 * vectors_release: meanwhile the cache's changes go to a copy that replaces it, so s stays as
 * it was. Both on the loop thread; every hold is released, before vectors_free. */
void vectors_hold(struct vectors *v, const struct vecstore *s);
void vectors_release(struct vectors *v, const struct vecstore *s);

/* A document the gateway just stored (vec: the provider's dims floats), once the cache is
 * started. */
void vectors_put(struct vectors *v, long long id, const char *model, const float *vec);

/* "{1,2,3}" for n ids (caller frees), or NULL on allocation failure. */
char *vectors_ids_text(const long long *ids, long n);
/* Parses a bigint[] text value into a new sorted array (caller frees *out). Returns the
 * count, or -1 on a malformed value or allocation failure. */
long vectors_parse_ids(const char *text, long long **out);

#endif
