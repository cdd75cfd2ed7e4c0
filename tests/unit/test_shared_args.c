/* Unit tests for the shared-memory routes' arguments (gateway/memory/sharedargs.c): one row
 * per path and per If-Match header, with the answer and, for refusals, the field named. */
#include <string.h>

#include "gateway/memory/sharedargs.h"
#include "tests/unit/harness.h"

struct path_row {
    const char *scope, *scope_id, *key;
    const char *field; /* NULL: accepted */
};

static const struct path_row path_rows[] = {
    {"run", "42", "score", NULL},     {"conversation", "conv-7.a_b", "a.b-c_D9", NULL},
    {"run", "42", NULL, NULL}, /* the listing: no key */
    {"runs", "42", "k", "scope"},     {"Run", "42", "k", "scope"},
    {"", "42", "k", "scope"},         {NULL, "42", "k", "scope"},
    {"workflow", "42", "k", "scope"}, {"run", "", "k", "scopeId"},
    {"run", NULL, "k", "scopeId"},    {"run", "a/b", "k", "scopeId"},
    {"run", "a b", "k", "scopeId"},   {"run", "42", "", "key"},
    {"run", "42", "k/../x", "key"},   {"run", "42", "k?x=1", "key"},
    {"run", "42", "ключ", "key"},     {"run", "42", "a:b", "key"},
};

static void check_path(const void *arg)
{
    const struct path_row *row = arg;
    struct field_error err;
    memset(&err, 0, sizeof(err));
    int rc = sharedargs_path(row->scope, row->scope_id, row->key, &err);
    CHECK_LONG(rc, row->field ? -1 : 0);
    if (row->field) {
        CHECK_STR(err.field, row->field);
        CHECK_CONTAINS(err.message, row->field);
    }
}

/* Scope ids and keys of SHAREDARGS_NAME_MAX characters pass; one more is refused. */
static void check_lengths(const void *arg)
{
    (void)arg;
    char name[SHAREDARGS_NAME_MAX + 2];
    memset(name, 'a', sizeof(name) - 1);
    name[SHAREDARGS_NAME_MAX + 1] = '\0';
    struct field_error err;
    CHECK_LONG(sharedargs_path("run", "42", name, &err), -1);
    CHECK_STR(err.field, "key");
    CHECK_LONG(sharedargs_path("run", name, "k", &err), -1);
    CHECK_STR(err.field, "scopeId");
    name[SHAREDARGS_NAME_MAX] = '\0';
    CHECK_LONG(sharedargs_path("conversation", name, name, &err), 0);
}

struct etag_row {
    const char *header;
    int rc;
    long long version;
};

static const struct etag_row etag_rows[] = {
    {NULL, 0, 0},
    {"\"7\"", 1, 7},
    {"7", 1, 7},
    {"  \"12\"\t", 1, 12},
    {"0", 1, 0},
    {"\"0\"", 1, 0},
    {"9223372036854775807", 1, 9223372036854775807LL},
    {"9223372036854775808", -1, 0},
    {"99999999999999999999", -1, 0},
    {"", -1, 0},
    {"\"\"", -1, 0},
    {"\"", -1, 0},
    {"*", -1, 0},
    {"W/\"7\"", -1, 0},
    {"\"7\", \"8\"", -1, 0},
    {"07", -1, 0},
    {"\"07\"", -1, 0},
    {"+7", -1, 0},
    {"-7", -1, 0},
    {"7.0", -1, 0},
    {"1e3", -1, 0},
    {"\"7", -1, 0},
    {"seven", -1, 0},
};

static void check_etag(const void *arg)
{
    const struct etag_row *row = arg;
    struct field_error err;
    memset(&err, 0, sizeof(err));
    long long v = -1;
    CHECK_LONG(sharedargs_if_match(row->header, &v, &err), row->rc);
    if (row->rc == 1)
        CHECK(v == row->version);
    else if (row->rc == 0)
        CHECK(v == -1);
    else
        CHECK_STR(err.field, "If-Match");
}

void register_shared_args_tests(void)
{
    test_add("shared args name lengths", check_lengths, NULL);
    for (size_t i = 0; i < COUNT_OF(path_rows); i++)
        test_addf(check_path, &path_rows[i], "shared args path %zu (%s/%s/%s)", i,
                  path_rows[i].scope ? path_rows[i].scope : "NULL",
                  path_rows[i].scope_id ? path_rows[i].scope_id : "NULL",
                  path_rows[i].key ? path_rows[i].key : "NULL");
    for (size_t i = 0; i < COUNT_OF(etag_rows); i++)
        test_addf(check_etag, &etag_rows[i], "shared args If-Match %zu (%s)", i,
                  etag_rows[i].header ? etag_rows[i].header : "NULL");
}
