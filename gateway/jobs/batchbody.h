/* batchbody — the body both batch routes take, {"jobs":[item, …]}: checks the array (1 to
 * max objects), renders each item into a JSON array of rows {"i":k,…} for one statement,
 * names a bad item by its path ("jobs[3].targetAgent"), and refuses an item whose key (a
 * job id, an idempotencyKey) an earlier item already has. */
#ifndef FLOWSTATE_BATCHBODY_H
#define FLOWSTATE_BATCHBODY_H

#include <cjson/cJSON.h>
#include <stdbool.h>

struct evbuffer;
struct field_error;
struct request;

/* One item's key: a number (id) or a string (text, when not NULL). */
struct item_key {
    bool present;
    long long id;
    const char *text;
    int index;
};

/* Renders one item's row after its `{"i":k,` (closing the brace), and fills key when the
 * item has one. prefix ("jobs[3].") goes before field names in errors. Returns 0, or -1
 * with err filled (err->field empty when out of memory). */
typedef int (*batch_item_fn)(struct evbuffer *out, const cJSON *item, const char *prefix,
                             struct item_key *key, struct field_error *err, void *arg);

struct batch_body {
    int max;                /* most items */
    const char *noun;       /* "jobs", "reports": in "jobs must be an array of 1 to N …" */
    const char *key_name;   /* "id", "idempotencyKey": in the repeated-key error */
    const char *repeat_why; /* "report each job once per request" */
    batch_item_fn render;
    void *arg;
};

/* Validates r's body and renders it. Returns the NUL-terminated rows (caller frees with
 * evbuffer_free) with *count items; or NULL after answering r (400 naming the bad item,
 * 500 when out of memory). */
struct evbuffer *batch_body_render(struct request *r, const struct batch_body *spec, int *count);

#endif
