/* batchbody — see batchbody.h. */
#include "gateway/jobs/batchbody.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "gateway/http/request.h"

static int compare_key(const struct item_key *x, const struct item_key *y)
{
    if (x->text || y->text)
        return strcmp(x->text ? x->text : "", y->text ? y->text : "");
    return x->id < y->id ? -1 : x->id > y->id;
}

static int compare_items(const void *a, const void *b)
{
    const struct item_key *x = a, *y = b;
    int c = compare_key(x, y);
    return c ? c : x->index - y->index;
}

/* The index of the first item (in request order) whose key an earlier item has, or -1;
 * *earlier gets the index of the earliest item with that key. Sorts keys. */
static int first_repeated_key(struct item_key *keys, int n, int *earlier)
{
    qsort(keys, (size_t)n, sizeof(*keys), compare_items);
    int found = -1;
    for (int k = 1; k < n; k++) {
        if (compare_key(&keys[k], &keys[k - 1]) != 0 || (found >= 0 && keys[k].index >= found))
            continue;
        found = keys[k].index;
        /* the first of this key's run is the earliest item with it */
        int first = k - 1;
        while (first > 0 && compare_key(&keys[first - 1], &keys[k]) == 0)
            first--;
        *earlier = keys[first].index;
    }
    return found;
}

struct evbuffer *batch_body_render(struct request *r, const struct batch_body *spec, int *count)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(r->body, "jobs");
    if (!items || cJSON_IsNull(items)) {
        request_error(r, 400, "invalid_field", "jobs", "jobs is required");
        return NULL;
    }
    int n = cJSON_IsArray(items) ? cJSON_GetArraySize(items) : -1;
    if (n < 1 || n > spec->max) {
        request_error(r, 400, "invalid_field", "jobs", "jobs must be an array of 1 to %d %s",
                      spec->max, spec->noun);
        return NULL;
    }
    struct field_error err = {{0}, {0}};
    struct item_key *keys = malloc((size_t)n * sizeof(*keys));
    struct evbuffer *rows = evbuffer_new();
    int nkeys = 0, k = 0;
    if (!keys || !rows)
        goto oom;
    evbuffer_add(rows, "[", 1);
    const cJSON *item;
    cJSON_ArrayForEach(item, items)
    {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "jobs[%d].", k);
        if (!cJSON_IsObject(item)) {
            char field[32];
            snprintf(field, sizeof(field), "jobs[%d]", k);
            field_error_set(&err, field, "%s must be an object", field);
            goto invalid;
        }
        if (evbuffer_add_printf(rows, "%s{\"i\":%d,", k ? "," : "", k) < 0)
            goto oom;
        struct item_key key = {.index = k};
        if (spec->render(rows, item, prefix, &key, &err, spec->arg) < 0) {
            if (!err.field[0])
                goto oom;
            goto invalid;
        }
        if (key.present)
            keys[nkeys++] = key;
        k++;
    }
    int earlier = 0, repeated = first_repeated_key(keys, nkeys, &earlier);
    if (repeated >= 0) {
        char field[64];
        snprintf(field, sizeof(field), "jobs[%d].%s", repeated, spec->key_name);
        request_error(r, 400, "invalid_field", field, "jobs[%d].%s repeats jobs[%d].%s: %s",
                      repeated, spec->key_name, earlier, spec->key_name, spec->repeat_why);
        goto fail;
    }
    if (evbuffer_add(rows, "]", 2) < 0 || !evbuffer_pullup(rows, -1)) /* the NUL too */
        goto oom;
    free(keys);
    *count = n;
    return rows;
invalid:
    request_field_error(r, &err);
    goto fail;
oom:
    request_error(r, 500, "internal", NULL, "out of memory");
fail:
    free(keys);
    if (rows)
        evbuffer_free(rows);
    return NULL;
}
