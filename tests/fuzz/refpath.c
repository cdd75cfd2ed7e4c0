/* refpath — the coordinator's reference paths ("$.steps.clean.result.records[0].id"): the
 * input's first line is a path, the rest a JSON document. Checks: a path refpath_get resolves
 * is one refpath_check accepts (unless longer than REFPATH_MAX, which only the check bounds);
 * walking the path with refpath_next step by step reaches the same value; and a refused path
 * says why. */
#include "tests/fuzz/fuzz.h"

#include "worker/agents/coordinator/refpath.h"

/* The value the path's steps (from refpath_next) lead to in root, or NULL. */
static const cJSON *walk(const cJSON *root, const char *path)
{
    char buf[REFPATH_MAX + 1];
    const char *key;
    long index;
    const cJSON *cur = root;
    for (const char *p = path + 1; cur && *p;) {
        if (!(p = refpath_next(p, buf, sizeof(buf), &key, &index)))
            return NULL;
        FUZZ_CHECK(!key != (index < 0), "a step is both or neither a key and an index");
        if (key)
            cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, key) : NULL;
        else
            cur = cJSON_IsArray(cur) && index <= 100000000 ? cJSON_GetArrayItem(cur, (int)index)
                                                           : NULL;
    }
    return cur;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring(data, size);
    char *doc = strchr(text, '\n');
    if (doc)
        *doc++ = '\0';
    cJSON *root = doc ? cJSON_Parse(doc) : cJSON_CreateObject();
    char why[128] = "";
    int checked = refpath_check(text, why, sizeof(why));
    FUZZ_CHECK(checked == 0 || why[0], "refused without saying why");
    const cJSON *got = refpath_get(root, text);
    FUZZ_CHECK(!got || checked == 0 || strlen(text) > REFPATH_MAX, "resolved a refused path: %s",
               why);
    if (text[0] == '$' && root)
        FUZZ_CHECK(walk(root, text) == got, "refpath_next's steps lead elsewhere");
    cJSON_Delete(root);
    free(text);
    return 0;
}
