/* embed — the provider table, the tokeniser and the hashing both built-in embedders share,
 * and the hash embedder: tokenise (lowercase, split on anything not a letter or digit, light
 * suffix stemming, stop words dropped), hash each word, each pair of neighbouring words and
 * each character trigram of a word into a signed feature vector, damp repeated features
 * (sublinear tf) and L2-normalise. The WordNet embedder is in embed_wordnet.c. */
#include "common/embed.h"
#include "common/embed_wordnet.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Feature weights: a word counts fully, a word pair half, each trigram a little (they give
 * "index"/"indexes"/"indexing" and typos something in common without drowning words). */
#define W_WORD 1.0f
#define W_BIGRAM 0.5f
#define W_TRIGRAM 0.2f

static const char *const stop_words[] = {
    "a",     "about", "after", "all",   "also", "an",   "and",   "any",   "are",  "as",
    "at",    "be",    "been",  "but",   "by",   "can",  "do",    "doe",   "for",  "from",
    "had",   "has",   "have",  "how",   "i",    "if",   "in",    "into",  "is",   "it",
    "it",    "its",   "me",    "my",    "not",  "of",   "on",    "or",    "our",  "so",
    "than",  "that",  "the",   "their", "them", "then", "there", "these", "they", "via",
    "this",  "to",    "too",   "very",  "was",  "we",   "were",  "what",  "when", "where",
    "which", "while", "who",   "why",   "will", "with", "would", "you",   "your",
};

static bool is_stop_word(const char *w)
{
    for (size_t i = 0; i < sizeof(stop_words) / sizeof(stop_words[0]); i++)
        if (strcmp(w, stop_words[i]) == 0)
            return true;
    return false;
}

static bool ends_with(const char *w, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(w + len - n, suffix, n) == 0;
}

static bool is_vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

/* Light stemming in place: plural "s"/"ies", "ing", "ed", a final "e", and the doubled
 * consonant "running" leaves behind. Returns the new length. Digits-only words are kept. */
static size_t stem(char *w, size_t len)
{
    if (len > 4 && ends_with(w, len, "ies")) {
        len -= 2;
        w[len - 1] = 'y';
    } else if (len > 3 && w[len - 1] == 's' && !ends_with(w, len, "ss") &&
               !ends_with(w, len, "us") && !ends_with(w, len, "is")) {
        len -= 1;
    }
    if (len > 5 && ends_with(w, len, "ing"))
        len -= 3;
    else if (len > 4 && ends_with(w, len, "ed"))
        len -= 2;
    if (len > 3 && w[len - 1] == w[len - 2] && !is_vowel(w[len - 1]) && w[len - 1] != 'l' &&
        w[len - 1] != 's' && w[len - 1] >= 'a' && w[len - 1] <= 'z')
        len -= 1;
    if (len > 4 && w[len - 1] == 'e')
        len -= 1;
    w[len] = '\0';
    return len;
}

static bool is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

void embed_words(const char *text, size_t len, embed_token_cb fn, void *arg)
{
    char tok[EMBED_TOKEN_MAX + 1];
    size_t i = 0;
    if (len > EMBED_TEXT_MAX)
        len = EMBED_TEXT_MAX;
    while (i < len) {
        while (i < len && !is_word_byte((unsigned char)text[i]))
            i++;
        size_t n = 0;
        while (i < len && is_word_byte((unsigned char)text[i])) {
            unsigned char c = (unsigned char)text[i++];
            if (n < EMBED_TOKEN_MAX)
                tok[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        if (n == 0)
            continue;
        tok[n] = '\0';
        fn(tok, n, arg);
    }
}

struct stem_args {
    embed_token_cb fn;
    void *arg;
};

static void stem_word(const char *word, size_t len, void *arg)
{
    struct stem_args *sa = arg;
    char tok[EMBED_TOKEN_MAX + 1];
    memcpy(tok, word, len + 1);
    len = stem(tok, len);
    if (!is_stop_word(tok))
        sa->fn(tok, len, sa->arg);
}

void embed_tokens(const char *text, size_t len, embed_token_cb fn, void *arg)
{
    struct stem_args sa = {fn, arg};
    embed_words(text, len, stem_word, &sa);
}

uint64_t embed_feature_hash(char kind, const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    h = (h ^ (unsigned char)kind) * 1099511628211ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

struct local_state {
    float *acc;
    int dims;
    char prev[EMBED_TOKEN_MAX + 1];
    size_t prev_len;
};

static void add_feature(struct local_state *st, char kind, const char *s, size_t len, float w)
{
    embed_add_feature(st->acc, st->dims, embed_feature_hash(kind, s, len), w);
}

static void local_token(const char *tok, size_t len, void *arg)
{
    struct local_state *st = arg;
    add_feature(st, 'w', tok, len, W_WORD);
    if (st->prev_len) {
        char pair[2 * EMBED_TOKEN_MAX + 2];
        memcpy(pair, st->prev, st->prev_len);
        pair[st->prev_len] = ' ';
        memcpy(pair + st->prev_len + 1, tok, len);
        add_feature(st, 'b', pair, st->prev_len + 1 + len, W_BIGRAM);
    }
    char padded[EMBED_TOKEN_MAX + 3];
    padded[0] = '^';
    memcpy(padded + 1, tok, len);
    padded[len + 1] = '$';
    for (size_t i = 0; i + 3 <= len + 2; i++)
        add_feature(st, 't', padded + i, 3, W_TRIGRAM);
    memcpy(st->prev, tok, len + 1);
    st->prev_len = len;
}

void embed_add_feature(float *acc, int dims, uint64_t h, float w)
{
    acc[h % (uint64_t)dims] += (h >> 63) ? -w : w;
}

void embed_normalise(float *v, int dims)
{
    double norm = 0;
    for (int i = 0; i < dims; i++)
        norm += (double)v[i] * v[i];
    if (norm > 0) {
        float inv = (float)(1.0 / sqrt(norm));
        for (int i = 0; i < dims; i++)
            v[i] *= inv;
    }
}

static int hash_embed(const struct embed_provider *p, const char *text, size_t len, float *out)
{
    struct local_state st = {.acc = out, .dims = p->dims};
    memset(out, 0, sizeof(float) * (size_t)p->dims);
    embed_tokens(text, len, local_token, &st);
    for (int i = 0; i < p->dims; i++) {
        /* sublinear tf: a feature seen ten times counts about three times as much */
        float v = out[i];
        out[i] = v < 0 ? -log1pf(-v) : log1pf(v);
    }
    embed_normalise(out, p->dims);
    return 0;
}

static int wordnet_embed(const struct embed_provider *p, const char *text, size_t len, float *out)
{
    return embed_wordnet_text(text, len, out, p->dims);
}

static int wordnet_check(char *err, size_t errlen) { return embed_wordnet_open(err, errlen); }

/* The first is the default (the embed-provider setting's "local"). */
static const struct embed_provider providers[] = {
    {"local", EMBED_LOCAL_MODEL, EMBED_LOCAL_DIMS, EMBED_API_LOCAL, wordnet_embed, wordnet_check},
    {"hash", EMBED_HASH_MODEL, EMBED_HASH_DIMS, EMBED_API_LOCAL, hash_embed, NULL},
};

const struct embed_provider *embed_provider_find(const char *name)
{
    for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
        if (strcmp(name, providers[i].name) == 0)
            return &providers[i];
    return NULL;
}

const struct embed_provider *embed_provider_next(const struct embed_provider *prev)
{
    size_t n = sizeof(providers) / sizeof(providers[0]);
    size_t i = prev ? (size_t)(prev - providers) + 1 : 0;
    return i < n ? &providers[i] : NULL;
}

int embed_provider_check(const struct embed_provider *p, char *err, size_t errlen)
{
    return p->check ? p->check(err, errlen) : 0;
}

int embed_text(const struct embed_provider *p, const char *text, size_t len, float *out)
{
    if (!p->embed)
        return -1;
    return p->embed(p, text, len > EMBED_TEXT_MAX ? EMBED_TEXT_MAX : len, out);
}

double embed_dot(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

char *embed_to_pg_array(const float *v, int n)
{
    size_t cap = (size_t)n * 16 + 3, used = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[used++] = '{';
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(s + used, cap - used, "%s%.6g", i ? "," : "", (double)v[i]);
    s[used++] = '}';
    s[used] = '\0';
    return s;
}

int embed_from_pg_array(const char *text, float *out, int n)
{
    if (!text || *text++ != '{')
        return -1;
    for (int i = 0; i < n; i++) {
        char *end = NULL;
        out[i] = strtof(text, &end);
        if (end == text || (*end != (i + 1 < n ? ',' : '}')))
            return -1;
        text = end + 1;
    }
    return *text == '\0' ? 0 : -1;
}
