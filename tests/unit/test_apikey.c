/* apikey: generated keys, SHA-256 hashes (expected values from `printf %s input | sha256sum`),
 * the well-formedness filter and role names. */
#include <stdio.h>
#include <string.h>

#include "common/apikey.h"
#include "tests/unit/harness.h"

#define KEY_VALID "fsk_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE"

static bool in_alphabet(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* ---- generation ---------------------------------------------------------------------- */

enum { NKEYS = 64 };

static void generate_well_formed_and_distinct(const void *arg)
{
    (void)arg;
    static char keys[NKEYS][APIKEY_LEN + 1];
    bool seen[128] = {false};
    for (int i = 0; i < NKEYS; i++) {
        memset(keys[i], '#', sizeof(keys[i]));
        REQUIRE(apikey_generate(keys[i]) == 0);
        CHECK_LONG(strlen(keys[i]), APIKEY_LEN);
        CHECK(strncmp(keys[i], APIKEY_PREFIX, 4) == 0);
        CHECK(apikey_well_formed(keys[i], strlen(keys[i])));
        for (int k = 4; k < APIKEY_LEN; k++) {
            CHECK(in_alphabet(keys[i][k]));
            seen[(unsigned char)keys[i][k] & 127] = true;
        }
        for (int j = 0; j < i; j++)
            CHECK(strcmp(keys[i], keys[j]) != 0);
    }
    /* 64 keys x 43 characters use most of the 64-letter alphabet, including - and _ */
    int letters = 0;
    for (int c = 0; c < 128; c++)
        letters += seen[c];
    CHECK(letters >= 60);
}

/* ---- hashing ------------------------------------------------------------------------- */

struct hash_case {
    const char *label;
    const char *input;
    size_t len;
    const char *hex;
};

static const struct hash_case hash_cases[] = {
    {"empty", "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"flowstate", "flowstate", 9,
     "a689dae869927ec9e11ddd308f8f7af34f247c5d5d816476dcc44ac810d57a44"},
    {"key of A", "fsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", APIKEY_LEN,
     "da7ae51ccd42a6d91f901aac90433ba818c3cc935260a07d61171ced1c1ee573"},
    {"key of the alphabet", KEY_VALID, APIKEY_LEN,
     "79305a00732f98501c81c54897e75b3a475bfebbe9403289ee6ca1a4dca20b61"},
    /* only len bytes are hashed */
    {"prefix of a longer string", "abcdef", 3,
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
};

static void hash_case_run(const void *arg)
{
    const struct hash_case *c = arg;
    char out[APIKEY_HASH_HEX_LEN + 8];
    memset(out, '#', sizeof(out));
    apikey_hash(c->input, c->len, out);
    CHECK_STR(out, c->hex);
    CHECK(out[APIKEY_HASH_HEX_LEN + 1] == '#'); /* nothing past the NUL */
}

/* ---- well-formedness ----------------------------------------------------------------- */

struct wf_case {
    const char *label;
    const char *s;
    size_t len; /* 0: strlen(s) */
    bool want;
};

static const struct wf_case wf_cases[] = {
    {"valid", KEY_VALID, 0, true},
    {"valid, all A", "fsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0, true},
    {"valid, - and _", "fsk_-------------------------------------------", 0, true},
    {"valid, len stops before extra text", KEY_VALID "x", APIKEY_LEN, true},
    {"wrong prefix fsk-", "fsk-abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE", 0, false},
    {"wrong prefix FSK_", "FSK_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE", 0, false},
    {"wrong prefix fsx_", "fsx_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE", 0, false},
    {"no prefix", "abcdabcdefghijklmnopqrstuvwxyz0123456789-_ABCDE", 0, false},
    {"one short", "fsk_abcdefghijklmnopqrstuvwxyz0123456789-_ABCD", 0, false},
    {"one long", KEY_VALID "F", 0, false},
    {"len one short", KEY_VALID, APIKEY_LEN - 1, false},
    {"empty", "", 0, false},
    {"prefix only", "fsk_", 0, false},
    {"standard base64 +", "fsk_abcdefghijklmnopqrstuvwxyz0123456789+_ABCDE", 0, false},
    {"standard base64 /", "fsk_abcdefghijklmnopqrstuvwxyz0123456789-/ABCDE", 0, false},
    {"padding =", "fsk_abcdefghijklmnopqrstuvwxyz0123456789-_ABCD=", 0, false},
    {"space", "fsk_abcdefghijklmnopqrstuvwxyz 123456789-_ABCDE", 0, false},
    {"dot", "fsk_abcdefghijklmnopqrstuvwxyz.123456789-_ABCDE", 0, false},
    {"non-ASCII", "fsk_abcdefghijklmnopqrstuvwxyz0123456789-_ABC\xc3\xa9", 0, false},
    {"embedded NUL",
     "fsk_abcdefghijklmnopqrstuvwxyz\0"
     "123456789-_ABCDE",
     APIKEY_LEN, false},
    {"trailing newline", "fsk_abcdefghijklmnopqrstuvwxyz0123456789-_ABCD\n", 0, false},
};

static void wf_case_run(const void *arg)
{
    const struct wf_case *c = arg;
    size_t len = c->len ? c->len : strlen(c->s);
    CHECK(apikey_well_formed(c->s, len) == c->want);
}

/* ---- roles --------------------------------------------------------------------------- */

struct role_case {
    const char *name;
    int rc;
    enum role role;
};

static const struct role_case role_cases[] = {
    {"admin", 0, ROLE_ADMIN},    {"operator", 0, ROLE_OPERATOR}, {"agent", 0, ROLE_AGENT},
    {"viewer", 0, ROLE_VIEWER},  {"Admin", -1, ROLE_ADMIN},      {"ADMIN", -1, ROLE_ADMIN},
    {"", -1, ROLE_ADMIN},        {"root", -1, ROLE_ADMIN},       {"admin ", -1, ROLE_ADMIN},
    {" admin", -1, ROLE_ADMIN},  {"admins", -1, ROLE_ADMIN},     {"adm", -1, ROLE_ADMIN},
    {"unknown", -1, ROLE_ADMIN},
};

static void role_case_run(const void *arg)
{
    const struct role_case *c = arg;
    enum role r = ROLE__COUNT;
    CHECK_LONG(apikey_role_parse(c->name, &r), c->rc);
    if (c->rc == 0) {
        CHECK_LONG(r, c->role);
        CHECK_STR(apikey_role_name(r), c->name); /* round trip */
    } else {
        CHECK_LONG(r, ROLE__COUNT); /* untouched */
    }
}

static void role_names_round_trip(const void *arg)
{
    (void)arg;
    for (int i = 0; i < ROLE__COUNT; i++) {
        enum role r = ROLE__COUNT;
        const char *name = apikey_role_name((enum role)i);
        CHECK(name != NULL && strcmp(name, "unknown") != 0);
        CHECK(apikey_role_parse(name, &r) == 0 && r == (enum role)i);
    }
    CHECK_STR(apikey_role_name(ROLE__COUNT), "unknown");
    CHECK_LONG(ROLES_ALL, 15);
    CHECK_LONG(ROLES_WRITERS, ROLES_ALL & ~ROLE_BIT(ROLE_VIEWER));
    CHECK_LONG(ROLES_ADMIN, 1);
}

/* ---- registration -------------------------------------------------------------------- */

void register_apikey_tests(void)
{
    test_add("apikey generate: well-formed and distinct", generate_well_formed_and_distinct, NULL);
    for (size_t i = 0; i < COUNT_OF(hash_cases); i++)
        test_addf(hash_case_run, &hash_cases[i], "apikey hash %s", hash_cases[i].label);
    for (size_t i = 0; i < COUNT_OF(wf_cases); i++)
        test_addf(wf_case_run, &wf_cases[i], "apikey well_formed %s -> %s", wf_cases[i].label,
                  wf_cases[i].want ? "yes" : "no");
    for (size_t i = 0; i < COUNT_OF(role_cases); i++)
        test_addf(role_case_run, &role_cases[i], "apikey role_parse \"%s\"", role_cases[i].name);
    test_add("apikey role names round trip", role_names_round_trip, NULL);
}
