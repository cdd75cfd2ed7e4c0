/* reembed — brings memories embedded by another built-in model over to a built-in
 * provider's model. Search only compares vectors of one model, so after the default changed
 * (from local-hash-v1-256 to local-wordnet-v1-512) the older memories would take no part in
 * semantic search. A gateway whose provider is built in (cheap, offline) pages through them
 * once after it starts, embeds them and updates them in place, a small page at a time (the
 * embedding on a work thread, so the loop keeps answering); the fs_documents notifications bring
 * the new vectors into every gateway's cache. Until a memory is re-embedded, semantic search skips
 * it (keyword search finds it as before). Several gateways may do it at once: each update applies
 * only while the row still has the other model and the content it read. Vectors of a remote (or
 * unknown) model are kept, since they cost API calls to make and switching back uses them again; a
 * warning at start counts them. A remote provider re-embeds nothing. */
#ifndef FLOWSTATE_REEMBED_H
#define FLOWSTATE_REEMBED_H

#include <event2/event.h>

struct reembed;
struct pgpool;
struct embed_provider;
struct workpool;

/* Starts the pass for built-in provider p (which must outlive it) through pool, on base's
 * timers, embedding on work's threads. NULL on allocation failure. */
struct reembed *reembed_new(struct event_base *base, struct pgpool *pool, struct workpool *work,
                            const struct embed_provider *p);
/* Stops the pass: a page being embedded is cancelled (work must still be alive); a query in
 * flight is dropped with the pool, which is freed after this and never calls back once the
 * loop has stopped. Accepts NULL. */
void reembed_free(struct reembed *r);

#endif
