/* Unit tests for common/embed: the hash provider is deterministic, normalised, puts
 * related texts closer than unrelated ones, and maps a text without words to the zero
 * vector; the tokeniser's stemming; the PostgreSQL array round trip. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/embed.h"
#include "tests/unit/harness.h"

static const struct embed_provider *local(void) { return embed_provider_find("hash"); }

static double norm(const float *v, int n) { return sqrt(embed_dot(v, v, n)); }

static double similarity(const char *a, const char *b)
{
    float va[EMBED_HASH_DIMS], vb[EMBED_HASH_DIMS];
    if (embed_text(local(), a, strlen(a), va) < 0 || embed_text(local(), b, strlen(b), vb) < 0)
        return -2;
    return embed_dot(va, vb, EMBED_HASH_DIMS);
}

static void provider_case(const void *arg)
{
    (void)arg;
    REQUIRE(local() != NULL);
    CHECK_STR(local()->model, "local-hash-v1-256");
    CHECK_LONG(local()->dims, 256);
    CHECK(embed_provider_find("openai") == NULL); /* remote: built by the gateway's embedder */
}

/* Texts that must embed to a unit vector, the same one every time. */
static const char *const unit_rows[] = {
    "PostgreSQL group commit batches inserts", "z", "Ünïcödé wörds stay words", "x1 y2 z3 42",
    "the the the database database",
};

static void normalised_case(const void *arg)
{
    const char *text = arg;
    float a[EMBED_HASH_DIMS], b[EMBED_HASH_DIMS];
    REQUIRE(embed_text(local(), text, strlen(text), a) == 0);
    REQUIRE(embed_text(local(), text, strlen(text), b) == 0);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    CHECK(fabs(norm(a, EMBED_HASH_DIMS) - 1.0) < 1e-5);
}

/* Texts without a word (or only stop words) embed to zeros. */
static const char *const empty_rows[] = {"", "   ", "!?.,;-- ()", "the and of"};

static void empty_case(const void *arg)
{
    const char *text = arg;
    float v[EMBED_HASH_DIMS];
    REQUIRE(embed_text(local(), text, strlen(text), v) == 0);
    CHECK(norm(v, EMBED_HASH_DIMS) == 0);
}

/* anchor, a related text, an unrelated one: related must be closer. */
struct closer_row {
    const char *anchor, *related, *unrelated;
};

static const struct closer_row closer_rows[] = {
    {"indexing postgres tables speeds up queries", "a postgres index makes the query faster",
     "my cat likes fish"},
    {"optimize database performance", "database optimization tips", "growing tomatoes in summer"},
    {"the worker crashed with a memory leak", "memory leaks crash workers", "bake sourdough bread"},
    {"TLS certificate expired", "expiring certificates break TLS", "guitar scales practice"},
    {"Running the tests", "test runner", "holiday travel plans"},
};

static void closer_case(const void *arg)
{
    const struct closer_row *row = arg;
    double rel = similarity(row->anchor, row->related),
           unrel = similarity(row->anchor, row->unrelated);
    CHECK(rel > unrel);
    CHECK(rel > 0.2);
    CHECK(fabs(similarity(row->anchor, row->anchor) - 1.0) < 1e-5);
}

static void case_insensitive_case(const void *arg)
{
    (void)arg;
    CHECK(fabs(similarity("PostgreSQL Vacuum", "postgresql vacuum") - 1.0) < 1e-5);
    CHECK(fabs(similarity("tables, indexes!", "table index") - 1.0) < 1e-5);
}

static void long_text_case(const void *arg)
{
    (void)arg;
    static char big[EMBED_TEXT_MAX * 2];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + (i % 7 == 6 ? ' ' - 'a' : (int)(i % 26)));
    float a[EMBED_HASH_DIMS], b[EMBED_HASH_DIMS];
    REQUIRE(embed_text(local(), big, sizeof(big), a) == 0);
    REQUIRE(embed_text(local(), big, EMBED_TEXT_MAX, b) == 0);
    CHECK(memcmp(a, b, sizeof(a)) == 0); /* only the first EMBED_TEXT_MAX bytes count */
}

struct stem_row {
    const char *text, *want;
};

static const struct stem_row stem_rows[] = {
    {"indexes", "index"}, {"indexing", "index"}, {"indexed", "index"}, {"queries", "query"},
    {"running", "run"},   {"class", "class"},    {"status", "status"}, {"stored", "stor"},
    {"store", "stor"},    {"is", NULL},          {"The", NULL},        {"ÉCOLE", "Écol"},
};

static void collect(const char *tok, size_t len, void *arg)
{
    char *out = arg;
    if (!out[0] && len < 64)
        memcpy(out, tok, len + 1);
}

static void stem_case(const void *arg)
{
    const struct stem_row *row = arg;
    char got[64] = "";
    embed_tokens(row->text, strlen(row->text), collect, got);
    if (!row->want) {
        CHECK_STR(got, "");
        return;
    }
    CHECK_STR(got, row->want); /* non-ASCII bytes are kept (only ASCII is lowercased) */
}

static void pg_array_case(const void *arg)
{
    (void)arg;
    float v[EMBED_HASH_DIMS], back[EMBED_HASH_DIMS];
    const char *text = "vector round trip";
    REQUIRE(embed_text(local(), text, strlen(text), v) == 0);
    char *s = embed_to_pg_array(v, EMBED_HASH_DIMS);
    REQUIRE(s != NULL);
    CHECK(s[0] == '{' && s[strlen(s) - 1] == '}');
    CHECK(embed_from_pg_array(s, back, EMBED_HASH_DIMS) == 0);
    for (int i = 0; i < EMBED_HASH_DIMS; i++)
        if (!CHECK(fabsf(v[i] - back[i]) < 1e-5f))
            break;
    CHECK(embed_from_pg_array(s, back, EMBED_HASH_DIMS - 1) < 0);
    free(s);
    CHECK(embed_from_pg_array("{1,2,3}", back, 3) == 0 && back[2] == 3.0f);
    CHECK(embed_from_pg_array("{1,2,3}x", back, 3) < 0);
    CHECK(embed_from_pg_array("{1,2}", back, 3) < 0);
    CHECK(embed_from_pg_array("1,2,3", back, 3) < 0);
    CHECK(embed_from_pg_array(NULL, back, 3) < 0);
    CHECK(embed_from_pg_array("{1,x,3}", back, 3) < 0);
}

void register_embed_tests(void)
{
    test_add("embed hash provider", provider_case, NULL);
    for (size_t i = 0; i < COUNT_OF(unit_rows); i++)
        test_addf(normalised_case, unit_rows[i], "embed normalised %zu", i);
    for (size_t i = 0; i < COUNT_OF(empty_rows); i++)
        test_addf(empty_case, empty_rows[i], "embed empty %zu", i);
    for (size_t i = 0; i < COUNT_OF(closer_rows); i++)
        test_addf(closer_case, &closer_rows[i], "embed related closer %zu", i);
    test_add("embed case and punctuation", case_insensitive_case, NULL);
    test_add("embed long text capped", long_text_case, NULL);
    for (size_t i = 0; i < COUNT_OF(stem_rows); i++)
        test_addf(stem_case, &stem_rows[i], "embed stem %s", stem_rows[i].text);
    test_add("embed pg array", pg_array_case, NULL);
}
