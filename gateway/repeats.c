/* repeats — see repeats.h. */
#include "gateway/repeats.h"

#include <stdlib.h>
#include <string.h>

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

int first_repeated_key(struct item_key *keys, int n, int *earlier)
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
