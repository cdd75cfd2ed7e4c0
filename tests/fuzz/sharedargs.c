/* sharedargs — the shared-memory routes' arguments: the input's first line is an If-Match
 * header, the next three a scope, scope id and key. Checks: an accepted If-Match names the
 * version whose ETag ("<version>") and bare form are accepted as the same version, and its
 * digits are the header's own (no leading zeros, nothing else but blanks and quotes); a
 * refusal names If-Match; an accepted path has a known scope and parts that need no escaping
 * in a URL path. */
#include "tests/fuzz/fuzz.h"

#include "gateway/memory/sharedargs.h"

static char *next_line(char *s)
{
    char *nl = s ? strchr(s, '\n') : NULL;
    if (nl)
        *nl++ = '\0';
    return nl;
}

static bool plain(const char *s)
{
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *s))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring(data, size);
    char *scope = next_line(text), *scope_id = next_line(scope), *key = next_line(scope_id);
    next_line(key);

    struct field_error err = {{0}, {0}};
    long long v = -1;
    int rc = sharedargs_if_match(text, &v, &err);
    if (rc == 1) {
        FUZZ_CHECK(v >= 0, "a negative version %lld", v);
        char tag[32], bare[32];
        snprintf(tag, sizeof(tag), "\"%lld\"", v);
        snprintf(bare, sizeof(bare), "%lld", v);
        long long again = -1;
        FUZZ_CHECK(sharedargs_if_match(tag, &again, &err) == 1 && again == v,
                   "the ETag of %lld is not read back", v);
        FUZZ_CHECK(sharedargs_if_match(bare, &again, &err) == 1 && again == v,
                   "%lld is not read back", v);
        FUZZ_CHECK(strstr(text, bare) != NULL, "the version %lld is not in the header", v);
    } else {
        FUZZ_CHECK(rc == -1 && strcmp(err.field, "If-Match") == 0, "refused without the field");
    }

    if (sharedargs_path(scope, scope_id, key, &err) == 0) {
        FUZZ_CHECK(strcmp(scope, "run") == 0 || strcmp(scope, "conversation") == 0,
                   "scope %s accepted", scope);
        FUZZ_CHECK(plain(scope_id) && *scope_id && strlen(scope_id) <= SHAREDARGS_NAME_MAX,
                   "scope id accepted");
        FUZZ_CHECK(!key || (plain(key) && *key && strlen(key) <= SHAREDARGS_NAME_MAX),
                   "key accepted");
    } else {
        FUZZ_CHECK(!strcmp(err.field, "scope") || !strcmp(err.field, "scopeId") ||
                       !strcmp(err.field, "key"),
                   "refused without the field");
    }
    free(text);
    return 0;
}
