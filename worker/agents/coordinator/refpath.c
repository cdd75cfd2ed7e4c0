/* refpath — parsing and resolving "$.a.b[2]" references (see refpath.h). */
#include "worker/agents/coordinator/refpath.h"

#include <stdio.h>
#include <string.h>

const char *refpath_next(const char *path, char *buf, size_t bufsize, const char **key, long *index)
{
    *key = NULL;
    *index = -1;
    if (!path || !*path)
        return NULL;
    if (*path == '.') {
        size_t n = strcspn(path + 1, ".[");
        if (n == 0 || n >= bufsize)
            return NULL;
        memcpy(buf, path + 1, n);
        buf[n] = '\0';
        *key = buf;
        return path + 1 + n;
    }
    if (*path == '[') {
        const char *p = path + 1;
        long v = 0;
        if (*p < '0' || *p > '9')
            return NULL;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (v > 100000000)
                return NULL;
            v = v * 10 + (*p - '0');
        }
        if (*p != ']')
            return NULL;
        *index = v;
        return p + 1;
    }
    return NULL;
}

int refpath_check(const char *path, char *why, size_t len)
{
    if (strlen(path) > REFPATH_MAX) {
        snprintf(why, len, "is longer than %d bytes", REFPATH_MAX);
        return -1;
    }
    if (path[0] != '$') {
        snprintf(why, len, "must start with \"$\"");
        return -1;
    }
    char buf[REFPATH_MAX + 1];
    const char *key;
    long index;
    for (const char *p = path + 1; *p;) {
        const char *next = refpath_next(p, buf, sizeof(buf), &key, &index);
        if (!next) {
            snprintf(why, len, "is malformed at byte %zu (expected .key or [index])",
                     (size_t)(p - path));
            return -1;
        }
        p = next;
    }
    return 0;
}

const cJSON *refpath_get(const cJSON *root, const char *path)
{
    if (!root || !path || path[0] != '$')
        return NULL;
    char buf[REFPATH_MAX + 1];
    const char *key;
    long index;
    const cJSON *cur = root;
    for (const char *p = path + 1; *p;) {
        p = refpath_next(p, buf, sizeof(buf), &key, &index);
        if (!p)
            return NULL;
        if (key)
            cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, key) : NULL;
        else
            cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, (int)index) : NULL;
        if (!cur)
            return NULL;
    }
    return cur;
}
