/* embedder — the gateway's embedding provider, built from the embed-* settings, and the
 * only way the gateway embeds a text. The built-in providers run inline (a few
 * microseconds a memory once its words are cached, under a millisecond before; see
 * docs/memory.md). A
 * remote one (OpenAI-compatible, Ollama) blocks on the network, so its calls run on a
 * workpool of their own (workpool.h), apart from the CPU work threads so that slow calls
 * never hold up clustering or scans. Every failed remote call is logged and written as an
 * embed.failed events row; successes are logged at debug level and summed into one embed.calls
 * events row a minute. */
#ifndef FLOWSTATE_EMBEDDER_H
#define FLOWSTATE_EMBEDDER_H

#include <event2/event.h>
#include <stddef.h>

struct config;
struct pgpool;
struct embedder;
struct embed_provider;
struct workpool;

/* Threads calling a remote provider, and the most texts that may wait for one. */
#define EMBEDDER_THREADS 4
#define EMBEDDER_QUEUE_MAX 256

/* Builds the provider the embed-* settings of cfg name (and starts the threads for a remote
 * one, which hand results back on base and write their events rows through pool; a built-in
 * one re-embeds other models' memories on work's threads, see reembed.h). Returns
 * NULL having written why to err (a missing embed-model or embed-dims, a WordNet database
 * that cannot be opened, out of memory). */
struct embedder *embedder_new(struct event_base *base, struct pgpool *pool, struct workpool *work,
                              const struct config *cfg, char *err, size_t errlen);
/* Stops the threads (waiting for calls in flight) and drops queued texts without calling
 * back: call it after the requests have finished, and before work is freed. Accepts NULL. */
void embedder_free(struct embedder *e);

const struct embed_provider *embedder_provider(const struct embedder *e);

/* Called on the loop with the text's vector (the provider's dims floats, valid during the
 * call), or vec NULL and a one-line reason when the provider failed. */
typedef void (*embedder_cb)(const float *vec, const char *error, void *arg);

/* Embeds len bytes of text (copied; at most EMBED_TEXT_MAX are used) for purpose
 * ("store", "search": recorded with failures). Returns 0 when cb will be called exactly
 * once — for the local provider before this returns — or -1 when the queue is full or
 * memory ran out (cb is never called; answer 503). */
int embedder_submit(struct embedder *e, const char *purpose, const char *text, size_t len,
                    embedder_cb cb, void *arg) __attribute__((warn_unused_result));

#endif
