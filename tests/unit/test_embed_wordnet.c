/* Unit tests for common/embed_wordnet through the "local" provider: the default model and
 * its dimension, deterministic unit vectors, texts related by meaning (synonyms, broader
 * and narrower words, other forms) closer than unrelated ones although they share no word,
 * words WordNet does not know still matching themselves, and the same vectors from several
 * threads at once (WordNet's library is not thread-safe; the embedder serialises it). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/embed.h"
#include "tests/unit/harness.h"

#define D EMBED_LOCAL_DIMS

static const struct embed_provider *wordnet(void) { return embed_provider_find("local"); }

static double similarity(const char *a, const char *b)
{
    float va[D], vb[D];
    if (embed_text(wordnet(), a, strlen(a), va) < 0 || embed_text(wordnet(), b, strlen(b), vb) < 0)
        return -2;
    return embed_dot(va, vb, D);
}

static void provider_case(const void *arg)
{
    (void)arg;
    REQUIRE(wordnet() != NULL);
    CHECK_STR(wordnet()->model, "local-wordnet-v1-512");
    CHECK_LONG(wordnet()->dims, 512);
    char err[256] = "";
    CHECK(embed_provider_check(wordnet(), err, sizeof(err)) == 0);
    CHECK_STR(err, "");
    /* the first provider is the default: what embed-provider=local names */
    CHECK(embed_provider_next(NULL) == wordnet());
    CHECK(embed_provider_next(wordnet()) == embed_provider_find("hash"));
    CHECK(embed_provider_next(embed_provider_find("hash")) == NULL);
}

static const char *const unit_rows[] = {
    "The cat sat on the mat.",       "z",
    "Ünïcödé wörds stay words",      "x1 y2 z3 42",
    "the the the database database", "Quarterly revenue grew 12%",
};

static void normalised_case(const void *arg)
{
    const char *text = arg;
    float a[D], b[D];
    REQUIRE(embed_text(wordnet(), text, strlen(text), a) == 0);
    REQUIRE(embed_text(wordnet(), text, strlen(text), b) == 0);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    CHECK(fabs(sqrt(embed_dot(a, a, D)) - 1.0) < 1e-5);
}

/* Nothing but function words: the zero vector, which matches nothing. */
static const char *const empty_rows[] = {"", "  !?  ", "the and of", "would have been"};

static void empty_case(const void *arg)
{
    const char *text = arg;
    float v[D];
    REQUIRE(embed_text(wordnet(), text, strlen(text), v) == 0);
    CHECK(embed_dot(v, v, D) == 0);
}

/* anchor, a text related by meaning (sharing no content word), an unrelated one. */
struct closer_row {
    const char *anchor, *related, *unrelated;
};

static const struct closer_row closer_rows[] = {
    {"feline resting on a rug", "The cat sat on the mat", "Quarterly revenue grew 12%"},
    {"car", "automobile", "banana"},
    {"the physician prescribed a drug", "doctor gave medicine", "the stock market fell"},
    {"salary increase", "higher wages", "the kitten slept"},
    {"income", "revenue", "kitten"},
    {"dog", "puppy", "invoice"},
    {"sick", "illness", "guitar"},
    {"running shoes", "ran a marathon", "tax return"},
    {"the kubectl rollout", "kubectl", "tennis"}, /* unknown word: matches itself */
    {"Zorblax crashed", "zorblax restart", "feline resting"},
};

static void closer_case(const void *arg)
{
    const struct closer_row *row = arg;
    double rel = similarity(row->anchor, row->related),
           unrel = similarity(row->anchor, row->unrelated);
    CHECK(rel > unrel);
    CHECK(rel > 0.05);
    CHECK(fabs(similarity(row->anchor, row->anchor) - 1.0) < 1e-5);
}

/* Other forms of a word are the same word to WordNet. */
static void forms_case(const void *arg)
{
    (void)arg;
    CHECK(fabs(similarity("cats", "cat") - 1.0) < 1e-5);
    CHECK(similarity("Geese!", "goose") > 0.7); /* goose is also a verb; geese is not */
    CHECK(similarity("ran", "running") > 0.5);
    /* a typo WordNet does not know shares character trigrams with nothing it knows, but two
     * identical typos match fully */
    CHECK(fabs(similarity("databse", "DATABSE") - 1.0) < 1e-5);
}

struct thread_arg {
    const float *want;
    int mismatches;
};

static const char *const thread_texts[] = {
    "The cat sat on the mat",           "Quarterly revenue grew 12%",
    "bird of prey hunting rodents",     "a memory leak in the worker process",
    "the surgeon removed the appendix",
};

static void *thread_main(void *arg)
{
    struct thread_arg *t = arg;
    float v[D];
    for (int round = 0; round < 50; round++)
        for (size_t i = 0; i < COUNT_OF(thread_texts); i++)
            if (embed_text(wordnet(), thread_texts[i], strlen(thread_texts[i]), v) < 0 ||
                memcmp(v, t->want + i * D, sizeof(v)) != 0)
                t->mismatches++;
    return NULL;
}

static void threads_case(const void *arg)
{
    (void)arg;
    static float want[COUNT_OF(thread_texts) * D];
    for (size_t i = 0; i < COUNT_OF(thread_texts); i++)
        REQUIRE(embed_text(wordnet(), thread_texts[i], strlen(thread_texts[i]), want + i * D) == 0);
    pthread_t th[4];
    struct thread_arg ta[4];
    for (int i = 0; i < 4; i++) {
        ta[i] = (struct thread_arg){want, 0};
        REQUIRE(pthread_create(&th[i], NULL, thread_main, &ta[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_LONG(ta[i].mismatches, 0);
    }
}

void register_embed_wordnet_tests(void)
{
    test_add("embed wordnet provider", provider_case, NULL);
    for (size_t i = 0; i < COUNT_OF(unit_rows); i++)
        test_addf(normalised_case, unit_rows[i], "embed wordnet normalised %zu", i);
    for (size_t i = 0; i < COUNT_OF(empty_rows); i++)
        test_addf(empty_case, empty_rows[i], "embed wordnet empty %zu", i);
    for (size_t i = 0; i < COUNT_OF(closer_rows); i++)
        test_addf(closer_case, &closer_rows[i], "embed wordnet related closer %zu", i);
    test_add("embed wordnet word forms", forms_case, NULL);
    test_add("embed wordnet threads", threads_case, NULL);
}
