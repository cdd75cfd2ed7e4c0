/* sharedargs — shared-memory route arguments (see sharedargs.h). */
#include "gateway/memory/sharedargs.h"

#include <string.h>

int sharedargs_path(const char *scope, const char *scope_id, const char *key,
                    struct field_error *err)
{
    if (!scope || (strcmp(scope, "run") != 0 && strcmp(scope, "conversation") != 0))
        return field_error_set(err, "scope", "scope must be run or conversation");
    if (!scope_id || !json_is_identifier(scope_id, SHAREDARGS_NAME_MAX))
        return field_error_set(err, "scopeId",
                               "scopeId must be 1 to %d characters of letters, digits, '_', '.' "
                               "or '-'",
                               SHAREDARGS_NAME_MAX);
    if (key && !json_is_identifier(key, SHAREDARGS_NAME_MAX))
        return field_error_set(err, "key",
                               "key must be 1 to %d characters of letters, digits, '_', '.' or "
                               "'-'",
                               SHAREDARGS_NAME_MAX);
    return 0;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

int sharedargs_if_match(const char *header, long long *version, struct field_error *err)
{
    if (!header)
        return 0;
    const char *p = header, *end = header + strlen(header);
    while (p < end && is_blank(*p))
        p++;
    while (end > p && is_blank(end[-1]))
        end--;
    if (end - p >= 2 && *p == '"' && end[-1] == '"') { /* a strong tag: its opaque part */
        p++;
        end--;
    }
    /* Digits only, without leading zeros: a tag is compared as text, so "07" is not "7". */
    bool ok = p < end && (*p != '0' || end - p == 1);
    long long v = 0;
    for (const char *q = p; ok && q < end; q++) {
        int d = *q - '0';
        ok = d >= 0 && d <= 9 && v <= (SHAREDARGS_VERSION_MAX - d) / 10;
        v = ok ? v * 10 + d : v;
    }
    if (!ok)
        return field_error_set(err, "If-Match",
                               "If-Match must be one version, as the ETag header gives it (\"7\")");
    *version = v;
    return 1;
}
