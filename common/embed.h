/* embed — text embeddings behind one interface. A provider has a name, a model id stored
 * beside every vector it makes (search only compares vectors of the same model), a
 * dimension and an embed function. The built-in "local" provider is deterministic, offline
 * and pure CPU (feature hashing of words, word pairs and character trigrams) and runs
 * inline; the remote ones (an OpenAI-compatible /v1/embeddings endpoint, Ollama) are the
 * same struct with an api and no embed function: their calls block on the network, so the
 * gateway makes them on its embedder threads (gateway/memory/embedder.c, common/embed_remote.c). */
#ifndef FLOWSTATE_EMBED_H
#define FLOWSTATE_EMBED_H

#include <stdbool.h>
#include <stddef.h>

/* Largest dimension any provider may return (callers may size buffers with it); the
 * embed-dims setting is bounded by it. */
#define EMBED_DIMS_MAX 4096
/* The local provider's dimension and model id. */
#define EMBED_LOCAL_DIMS 256
#define EMBED_LOCAL_MODEL "local-hash-v1-256"
/* Only the first this many bytes of a text are embedded (the rest adds cost, little meaning). */
#define EMBED_TEXT_MAX (64 * 1024)

/* How a provider is reached. */
enum embed_api {
    EMBED_API_LOCAL,         /* in process: embed() below */
    EMBED_API_OPENAI,        /* POST {url}/v1/embeddings */
    EMBED_API_OLLAMA,        /* POST {url}/api/embed */
    EMBED_API_OLLAMA_LEGACY, /* POST {url}/api/embeddings, one prompt (Ollama before 0.3) */
};

struct embed_provider {
    const char *name;  /* what the embed-provider setting names: "local", "openai", "ollama" */
    const char *model; /* stored in documents.embedding_model: "local-hash-v1-256",
                        * "openai:text-embedding-3-small", "ollama:nomic-embed-text" */
    int dims;
    enum embed_api api;
    /* Writes dims floats to out: L2-normalised, or all zero for a text without words.
     * Returns 0, or -1 when the provider failed (the caller stores no embedding). */
    int (*embed)(const struct embed_provider *p, const char *text, size_t len, float *out);
};

/* The in-process provider called name ("local"), or NULL when there is none (remote
 * providers are built from settings by the gateway's embedder). */
const struct embed_provider *embed_provider_find(const char *name);

/* Embeds text with in-process provider p (len bytes; at most EMBED_TEXT_MAX are read). */
int embed_text(const struct embed_provider *p, const char *text, size_t len, float *out)
    __attribute__((warn_unused_result));

/* Calls fn for each normalised token of text (lowercased, light stemming, stop words
 * dropped): the same words the local provider hashes. tok is NUL-terminated and valid only
 * during the call. */
typedef void (*embed_token_cb)(const char *tok, size_t len, void *arg);
void embed_tokens(const char *text, size_t len, embed_token_cb fn, void *arg);

/* Dot product of two vectors of n floats (cosine similarity for normalised vectors). */
double embed_dot(const float *a, const float *b, int n);

/* Formats v (n floats) as a PostgreSQL array literal "{0.1,-0.2,…}" into a new string
 * (caller frees), or NULL on allocation failure. */
char *embed_to_pg_array(const float *v, int n);
/* Parses a PostgreSQL real[] text value into out (exactly n floats). Returns 0 or -1. */
int embed_from_pg_array(const char *text, float *out, int n);

#endif
