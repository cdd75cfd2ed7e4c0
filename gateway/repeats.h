/* repeats — finds the first item of a batch request that repeats an earlier item's key (a
 * job id reported twice, an idempotencyKey given twice), so the request can be refused
 * naming both items. */
#ifndef FLOWSTATE_REPEATS_H
#define FLOWSTATE_REPEATS_H

/* One item's key: a number (id) or a string (text, when not NULL), and its index in the
 * request. */
struct item_key {
    long long id;
    const char *text;
    int index;
};

/* The index of the first item (in request order) whose key an earlier item has, or -1;
 * *earlier gets the index of the earliest item with that key. Sorts keys. */
int first_repeated_key(struct item_key *keys, int n, int *earlier);

#endif
