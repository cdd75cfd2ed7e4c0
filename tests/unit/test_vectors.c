/* Unit tests for gateway/memory/vecstore and the id helpers of gateway/memory/vectors:
 * insert, replace and remove (with the hash table staying consistent), the quantisation error
 * staying within the bound the search relies on, the candidates always containing the exact best
 * k (ties by the larger id), the allow-list and exclusion, and the bigint[] round trip. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/embed.h"
#include "gateway/memory/vecstore.h"
#include "gateway/memory/vectors.h"
#include "tests/unit/harness.h"

#define D 256

static unsigned long long rng_state = 88172645463325252ULL;

static double rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* A random unit vector, sparse (like the local embedder's) when sparse is set. */
static void random_unit(float *v, bool sparse)
{
    double n = 0;
    for (int i = 0; i < D; i++) {
        v[i] = (sparse && rnd() < 0.7) ? 0.0f : (float)(rnd() * 2 - 1);
        n += (double)v[i] * v[i];
    }
    for (int i = 0; i < D; i++)
        v[i] = n > 0 ? (float)(v[i] / sqrt(n)) : 0.0f;
}

static double exact(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < D; i++)
        s += (double)a[i] * b[i];
    return s;
}

static void put_remove_case(const void *arg)
{
    (void)arg;
    struct vecstore *s = vecstore_new(D);
    REQUIRE(s != NULL);
    float v[D], w[D], out[D], err;
    random_unit(v, false);
    random_unit(w, false);
    for (long long id = 1; id <= 5000; id++)
        REQUIRE(vecstore_put(s, id, id % 2 ? v : w) == 0);
    CHECK_LONG(vecstore_count(s), 5000);
    /* replace: the count stays, the vector changes */
    REQUIRE(vecstore_put(s, 7, w) == 0);
    CHECK_LONG(vecstore_count(s), 5000);
    REQUIRE(vecstore_get(s, 7, out, &err) == 0);
    CHECK(exact(out, w) > 0.999);
    for (long long id = 1; id <= 5000; id += 3)
        CHECK(vecstore_remove(s, id));
    CHECK(!vecstore_remove(s, 1));
    CHECK(!vecstore_remove(s, 99999));
    size_t left = 0;
    for (long long id = 1; id <= 5000; id++) {
        bool want = (id - 1) % 3 != 0;
        CHECK(vecstore_has(s, id) == want);
        left += want;
    }
    CHECK_LONG(vecstore_count(s), left);
    /* the survivors kept their own vectors */
    REQUIRE(vecstore_get(s, 8, out, &err) == 0);
    CHECK(exact(out, w) > 0.999);
    REQUIRE(vecstore_get(s, 9, out, &err) == 0);
    CHECK(exact(out, v) > 0.999);
    /* mark and sweep */
    vecstore_unmark_all(s);
    vecstore_mark(s, 2);
    REQUIRE(vecstore_put(s, 3, v) == 0);
    CHECK_LONG(vecstore_sweep(s), left - 2); /* all but 2 and 3 */
    CHECK_LONG(vecstore_count(s), 2);
    CHECK(vecstore_has(s, 2) && vecstore_has(s, 3) && !vecstore_has(s, 5));
    float bad[D] = {0};
    bad[3] = NAN;
    CHECK(vecstore_put(s, 11, bad) < 0);
    CHECK(!vecstore_has(s, 11));
    vecstore_clear(s);
    CHECK_LONG(vecstore_count(s), 0);
    CHECK(!vecstore_has(s, 2));
    vecstore_free(s);
}

/* The estimate is within its bound of the exact score, for exact and dequantised queries. */
static void bound_case(const void *arg)
{
    bool sparse = arg != NULL;
    struct vecstore *s = vecstore_new(D);
    REQUIRE(s != NULL);
    static float vs[500][D];
    for (int i = 0; i < 500; i++) {
        random_unit(vs[i], sparse);
        REQUIRE(vecstore_put(s, i + 1, vs[i]) == 0);
    }
    double worst = 0;
    for (int t = 0; t < 20; t++) {
        float q[D], qd[D], qerr = 0;
        random_unit(q, sparse);
        const float *query = q;
        if (t % 2) { /* a cached document as the query, as "similar" does */
            REQUIRE(vecstore_get(s, t + 1, qd, &qerr) == 0);
            memcpy(q, vs[t], sizeof(q));
            query = qd;
        }
        for (int i = 0; i < 500; i++) {
            double est, bound;
            REQUIRE(vecstore_estimate(s, i + 1, query, qerr, &est, &bound) == 0);
            double e = fabs(est - exact(q, vs[i]));
            CHECK(e <= bound);
            CHECK(bound < 0.05);
            worst = e > worst ? e : worst;
        }
    }
    CHECK(worst < 0.02);
    vecstore_free(s);
}

struct scored {
    double score;
    long long id;
};

static int scored_cmp(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->id < y->id ? 1 : -1;
}

/* The candidates hold the exact top k (score > 0, ties by larger id), for every k. */
static void topk_case(const void *arg)
{
    (void)arg;
    enum { N = 3000 };
    struct vecstore *s = vecstore_new(D);
    REQUIRE(s != NULL);
    static float vs[N][D];
    for (int i = 0; i < N; i++) {
        random_unit(vs[i], true);
        if (i % 10 == 9)
            memcpy(vs[i], vs[i - 1], sizeof(vs[i])); /* exact ties */
        REQUIRE(vecstore_put(s, i + 1, vs[i]) == 0);
    }
    static struct scored all[N];
    static long long cand[N];
    for (int t = 0; t < 10; t++) {
        float q[D];
        random_unit(q, true);
        int n = 0;
        for (int i = 0; i < N; i++) {
            double sc = exact(q, vs[i]);
            if (sc > 0 && i + 1 != 5)
                all[n++] = (struct scored){sc, i + 1};
        }
        qsort(all, (size_t)n, sizeof(all[0]), scored_cmp);
        int k = 1 + t * 7;
        long nc = vecstore_candidates(s, q, 0, NULL, 0, 5, k, cand, N);
        REQUIRE(nc >= (n < k ? n : k));
        CHECK(nc < N / 4);
        for (int j = 0; j < k && j < n; j++) {
            bool found = false;
            for (long c = 0; c < nc; c++)
                found |= cand[c] == all[j].id;
            CHECK(found);
        }
        for (long c = 0; c < nc; c++)
            CHECK(cand[c] != 5);
        /* too many candidates for max: -1 */
        CHECK(vecstore_candidates(s, q, 0, NULL, 0, 0, 50, cand, 3) == -1);
    }
    vecstore_free(s);
}

/* Only allowed ids are ranked. */
static void allow_case(const void *arg)
{
    (void)arg;
    struct vecstore *s = vecstore_new(D);
    REQUIRE(s != NULL);
    float q[D], v[D];
    random_unit(q, false);
    for (long long id = 1; id <= 100; id++) {
        random_unit(v, false);
        if (id % 2 == 0)
            memcpy(v, q, sizeof(v)); /* the even ids match perfectly */
        REQUIRE(vecstore_put(s, id, v) == 0);
    }
    long long allow[3] = {3, 5, 200}, out[100];
    long n = vecstore_candidates(s, q, 0, allow, 3, 0, 10, out, 100);
    REQUIRE(n >= 0 && n <= 2);
    for (long i = 0; i < n; i++)
        CHECK(out[i] == 3 || out[i] == 5);
    /* the perfect matches all tie: every one is a candidate, best (larger id) first */
    n = vecstore_candidates(s, q, 0, NULL, 0, 0, 3, out, 100);
    REQUIRE(n >= 50);
    CHECK_LONG(out[0], 100);
    CHECK_LONG(out[1], 98);
    /* a zero query matches nothing */
    float zero[D] = {0};
    CHECK_LONG(vecstore_candidates(s, zero, 0, NULL, 0, 0, 3, out, 100), 0);
    vecstore_free(s);
}

static void ids_text_case(const void *arg)
{
    (void)arg;
    long long ids[3] = {30, 2, 9007199254740993LL}, *back = NULL;
    char *t = vectors_ids_text(ids, 3);
    REQUIRE(t != NULL);
    CHECK_STR(t, "{30,2,9007199254740993}");
    CHECK_LONG(vectors_parse_ids(t, &back), 3);
    REQUIRE(back != NULL);
    CHECK(back[0] == 2 && back[1] == 30 && back[2] == 9007199254740993LL);
    free(back);
    free(t);
    t = vectors_ids_text(ids, 0);
    CHECK_STR(t, "{}");
    CHECK_LONG(vectors_parse_ids(t, &back), 0);
    free(back);
    free(t);
    CHECK_LONG(vectors_parse_ids("{1,x}", &back), -1);
    CHECK_LONG(vectors_parse_ids("1,2", &back), -1);
    CHECK_LONG(vectors_parse_ids("{1,2}junk", &back), -1);
}

/* Real embeddings: the candidates hold the exact best 10 of the local model. */
static void embed_case(const void *arg)
{
    (void)arg;
    static const char *const texts[] = {
        "PostgreSQL group commit batches inserts", "the slow orders query needed an index",
        "indexing makes slow queries faster",      "workers claim jobs with skip locked",
        "agents share memory through documents",   "hybrid search fuses keyword and semantic ranks",
        "the gateway keeps a cache of vectors",    "vectors are quantised to int8 with a scale"};
    const struct embed_provider *p = embed_provider_find("local");
    REQUIRE(p != NULL);
    struct vecstore *s = vecstore_new(p->dims);
    REQUIRE(s != NULL);
    float v[COUNT_OF(texts)][EMBED_LOCAL_DIMS], q[EMBED_LOCAL_DIMS];
    for (size_t i = 0; i < COUNT_OF(texts); i++) {
        REQUIRE(embed_text(p, texts[i], strlen(texts[i]), v[i]) == 0);
        REQUIRE(vecstore_put(s, (long long)i + 1, v[i]) == 0);
    }
    REQUIRE(embed_text(p, "slow query index", 16, q) == 0);
    long long out[16];
    long n = vecstore_candidates(s, q, 0, NULL, 0, 0, 1, out, 16);
    REQUIRE(n >= 1);
    CHECK(out[0] == 2 || out[0] == 3);
    vecstore_free(s);
}

void register_vectors_tests(void)
{
    test_add("vectors put, replace, remove, sweep", put_remove_case, NULL);
    test_add("vectors error bound (dense)", bound_case, NULL);
    test_add("vectors error bound (sparse)", bound_case, "sparse");
    test_add("vectors top-k candidates", topk_case, NULL);
    test_add("vectors allow list and ties", allow_case, NULL);
    test_add("vectors id text", ids_text_case, NULL);
    test_add("vectors local embeddings", embed_case, NULL);
}
