/* embed — text embeddings behind one interface. A provider has a name, a model id stored
 * beside every vector it makes (search only compares vectors of the same model), a
 * dimension and an embed function. The built-in ones are deterministic, offline and pure CPU
 * and run inline: "local" (the default) relates words by meaning through WordNet
 * (embed_wordnet.h); "hash" hashes words, word pairs and character trigrams. The remote ones (an
 * OpenAI-compatible /v1/embeddings endpoint, Ollama) are the same struct with an api and no embed
 * function: their calls block on the network, so the gateway makes them on its embedder threads
 * (gateway/memory/embedder.c, common/embed_remote.c). */
#ifndef FLOWSTATE_EMBED_H
#define FLOWSTATE_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest dimension any provider may return (callers may size buffers with it); the
 * embed-dims setting is bounded by it. */
#define EMBED_DIMS_MAX 4096
/* The built-in providers' dimensions and model ids: "local" (WordNet) and "hash". */
#define EMBED_LOCAL_DIMS 512
#define EMBED_LOCAL_MODEL "local-wordnet-v1-512"
#define EMBED_HASH_DIMS 256
#define EMBED_HASH_MODEL "local-hash-v1-256"
/* Longer words are cut to this many bytes by the tokeniser. */
#define EMBED_TOKEN_MAX 48
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
    const char *name;  /* the embed-provider setting: "local", "hash", "openai", "ollama" */
    const char *model; /* stored in documents.embedding_model: "local-wordnet-v1-512",
                        * "openai:text-embedding-3-small", "ollama:nomic-embed-text" */
    int dims;
    enum embed_api api;
    /* Writes dims floats to out: L2-normalised, or all zero for a text without words.
     * Returns 0, or -1 when the provider failed (the caller stores no embedding). */
    int (*embed)(const struct embed_provider *p, const char *text, size_t len, float *out);
    /* Loads what embed needs (NULL: nothing). Returns 0, or -1 with the reason in err. */
    int (*check)(char *err, size_t errlen);
};

/* The in-process provider called name ("local", "hash"), or NULL when there is none (remote
 * providers are built from settings by the gateway's embedder). */
const struct embed_provider *embed_provider_find(const char *name);

/* The built-in provider after prev (NULL: the first), or NULL after the last. */
const struct embed_provider *embed_provider_next(const struct embed_provider *prev);

/* Makes sure in-process provider p can embed (the WordNet database opens), so a gateway
 * fails at start rather than storing memories without vectors. Returns 0, or -1 with the
 * reason in err. */
int embed_provider_check(const struct embed_provider *p, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Embeds text with in-process provider p (len bytes; at most EMBED_TEXT_MAX are read). */
int embed_text(const struct embed_provider *p, const char *text, size_t len, float *out)
    __attribute__((warn_unused_result));

/* Calls fn for each word of text (at most EMBED_TEXT_MAX bytes): runs of ASCII letters and
 * digits and bytes >= 0x80, ASCII lowercased, cut at EMBED_TOKEN_MAX bytes. tok is
 * NUL-terminated and valid only during the call. */
typedef void (*embed_token_cb)(const char *tok, size_t len, void *arg);
void embed_words(const char *text, size_t len, embed_token_cb fn, void *arg);
/* Calls fn for each normalised token of text: embed_words with light stemming and stop
 * words dropped (the words the hash provider hashes, and clustering's terms). */
void embed_tokens(const char *text, size_t len, embed_token_cb fn, void *arg);

/* A feature's 64-bit hash: FNV-1a over a kind byte and the bytes, then a 64-bit finaliser
 * (splitmix64) so the low bits used for the dimension and the high bit used for the sign
 * are well mixed. */
uint64_t embed_feature_hash(char kind, const char *s, size_t len);
/* Adds weight w to feature h's dimension of acc (dims floats), with h's sign. */
void embed_add_feature(float *acc, int dims, uint64_t h, float w);
/* Scales v (dims floats) to unit L2 norm; a zero vector stays zero. */
void embed_normalise(float *v, int dims);

/* Dot product of two vectors of n floats (cosine similarity for normalised vectors). */
double embed_dot(const float *a, const float *b, int n);

/* Formats v (n floats) as a PostgreSQL array literal "{0.1,-0.2,…}" into a new string
 * (caller frees), or NULL on allocation failure. */
char *embed_to_pg_array(const float *v, int n);
/* Parses a PostgreSQL real[] text value into out (exactly n floats). Returns 0 or -1. */
int embed_from_pg_array(const char *text, float *out, int n);

#endif
