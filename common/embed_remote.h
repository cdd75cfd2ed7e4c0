/* embed_remote — the wire side of the remote embedding providers: an OpenAI-compatible
 * endpoint (POST /v1/embeddings {"model","input":[…]} → data[i].embedding) and Ollama
 * (POST /api/embed {"model","input":[…]} → embeddings[…], or the older /api/embeddings
 * {"model","prompt"} → embedding). Builds request bodies, parses answers (checking the
 * dimension) and makes one blocking call with retries and backoff through an http_client.
 * Blocking: call it from a thread of its own (the gateway's embedder pool), never from an
 * event loop. */
#ifndef FLOWSTATE_EMBED_REMOTE_H
#define FLOWSTATE_EMBED_REMOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/embed.h"
#include "common/http_client.h"

/* What one remote embedding call came to (for the log and the events row). */
struct embed_call {
    int status;      /* last HTTP status, 0 when no answer came */
    int attempts;    /* requests sent (1 + retries) */
    double ms;       /* wall time of the whole call, retries and backoff included */
    char error[256]; /* why it failed; empty on success */
};

/* The path the provider's api posts to ("/v1/embeddings", "/api/embed", "/api/embeddings"). */
const char *embed_remote_path(enum embed_api api);

/* The request body for text (len bytes) as a new string (caller frees), or NULL on
 * allocation failure. model is the provider's own model name ("nomic-embed-text"). */
char *embed_remote_request(enum embed_api api, const char *model, const char *text, size_t len);

/* Parses an answer body into out (dims floats, L2-normalised here so dot products are
 * cosines). Returns 0, or -1 with a one-line reason in err (malformed JSON, no vector, a
 * dimension other than dims, a non-number). */
int embed_remote_parse(enum embed_api api, const char *body, size_t len, int dims, float *out,
                       char *err, size_t errlen);

/* Embeds text through hc (whose base URL and key are the provider's): up to attempts
 * requests while deadline_ms (from the start of the call) allows, backing off 100 ms,
 * 200 ms, 400 ms… (capped by the deadline) after a retryable answer. Returns 0 with out
 * filled, or -1; either way *call says how it went. */
int embed_remote_embed(struct http_client *hc, enum embed_api api, const char *model, int dims,
                       const char *text, size_t len, int attempts, long deadline_ms, float *out,
                       struct embed_call *call) __attribute__((warn_unused_result));

#endif
