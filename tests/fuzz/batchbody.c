/* batchbody — the {"jobs":[…]} body of both batch routes, through an in-process request: the
 * body parsed as the gateway parses it, then batch_body_render with the jobs batch's item
 * check (jobs_row_from_body, keyed by idempotencyKey) or a numeric id key like the report
 * batches'. The input's first byte picks the kind and the most items (1 to 8).
 *
 * Checks: accepted rows are a JSON array of one {"i":k,…} object per item, in order, with no
 * key twice; a refusal is answered, and when every item was valid but a key repeats, the
 * answer names the first item (in request order) whose key an earlier one has, and the
 * earliest item with it. */
#include "tests/fuzz/fuzz.h"

#include "common/json.h"
#include "gateway/handlers.h"
#include "gateway/jobs/batchbody.h"

/* The jobs batch's items: the row POST /api/jobs would insert, keyed by idempotencyKey. */
static int render_job(struct evbuffer *out, const cJSON *item, const char *prefix,
                      struct item_key *key, struct field_error *err, void *arg)
{
    size_t len;
    char *row = jobs_row_from_body(item, &len, err);
    if (!row)
        return field_error_prefix(err, prefix);
    if (evbuffer_add(out, row, len) < 0)
        abort();
    free(row);
    const char *idem = jobs_body_key(item);
    if (idem)
        *key = (struct item_key){.present = true, .text = idem, .index = key->index};
    return 0;
}

/* Items keyed by a numeric id, as report batches are: {"i":k} plus nothing else. */
static int render_id(struct evbuffer *out, const cJSON *item, const char *prefix,
                     struct item_key *key, struct field_error *err, void *arg)
{
    long id = 0;
    if (json_get_int(item, "id", true, 1, 1000000, &id, err) < 0)
        return field_error_prefix(err, prefix);
    *key = (struct item_key){.present = true, .id = id, .index = key->index};
    if (evbuffer_add(out, "\"id\":1}", 7) < 0)
        abort();
    return 0;
}

/* Whether items j and i (both valid) have the same key, as the spec's renderer reads it. */
static bool same_key(const cJSON *a, const cJSON *b, bool by_id)
{
    if (by_id)
        return cJSON_GetObjectItemCaseSensitive(a, "id")->valuedouble ==
               cJSON_GetObjectItemCaseSensitive(b, "id")->valuedouble;
    const char *x = jobs_body_key(a), *y = jobs_body_key(b);
    return x && y && strcmp(x, y) == 0;
}

/* Checks a refusal that names a repeated key against the first repeat found by comparing
 * every pair. */
static void check_repeat(const cJSON *items, const cJSON *answer, bool by_id)
{
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(answer, "error");
    const char *field = json_string_or_null(err, "field");
    const char *message = json_string_or_null(err, "message");
    if (!field || !message || !strstr(message, " repeats "))
        return;
    int n = cJSON_GetArraySize(items), first = -1, earlier = -1;
    for (int j = 1; j < n && first < 0; j++)
        for (int i = 0; i < j && first < 0; i++)
            if (same_key(cJSON_GetArrayItem(items, i), cJSON_GetArrayItem(items, j), by_id))
                first = j, earlier = i;
    FUZZ_CHECK(first >= 0, "a repeat reported where there is none: %s", message);
    char want[64], want_message[128];
    const char *key = by_id ? "id" : "idempotencyKey";
    snprintf(want, sizeof(want), "jobs[%d].%s", first, key);
    snprintf(want_message, sizeof(want_message), "jobs[%d].%s repeats jobs[%d].%s:", first, key,
             earlier, key);
    FUZZ_CHECK(strcmp(field, want) == 0 &&
                   strncmp(message, want_message, strlen(want_message)) == 0,
               "the repeat named is %s (%s), not %s (%s)", field, message, want, want_message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned mode = fuzz_byte(&data, &size);
    bool by_id = mode & 1;
    const struct batch_body spec = {.max = 1 + (int)((mode >> 1) & 7),
                                    .noun = by_id ? "reports" : "jobs",
                                    .key_name = by_id ? "id" : "idempotencyKey",
                                    .repeat_why = "each key once per request",
                                    .render = by_id ? render_id : render_job};
    struct fuzz_answer answer = {0};
    struct request *r = fuzz_request_new((const char *)data, size, &answer);
    if (!request_parse_body(r)) {
        fuzz_answer_free(&answer);
        return 0;
    }
    /* the request is freed by a refusal, so its items are read from a copy */
    cJSON *items = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r->body, "jobs"), true);
    int count = -1;
    struct evbuffer *rows = batch_body_render(r, &spec, &count);
    if (rows) {
        FUZZ_CHECK(answer.text == NULL, "accepted and answered: %s", answer.text);
        FUZZ_CHECK(count == cJSON_GetArraySize(items) && count >= 1 && count <= spec.max,
                   "count %d", count);
        const char *text = (const char *)evbuffer_pullup(rows, -1);
        size_t len = evbuffer_get_length(rows);
        FUZZ_CHECK(len > 0 && text[len - 1] == '\0', "rows not NUL-terminated");
        cJSON *array = cJSON_Parse(text);
        FUZZ_CHECK(cJSON_IsArray(array) && cJSON_GetArraySize(array) == count,
                   "rows are not an array of the items: %s", text);
        int k = 0;
        const cJSON *row;
        cJSON_ArrayForEach(row, array)
        {
            FUZZ_CHECK(json_number_or(row, "i", -1) == k, "row %d is not item %d", k, k);
            k++;
        }
        for (int j = 0; j < count; j++)
            for (int i = 0; i < j; i++)
                FUZZ_CHECK(
                    !same_key(cJSON_GetArrayItem(items, i), cJSON_GetArrayItem(items, j), by_id),
                    "items %d and %d share a key", i, j);
        cJSON_Delete(array);
        evbuffer_free(rows);
        fuzz_request_free(r);
    } else {
        FUZZ_CHECK(answer.text != NULL, "refused without an answer");
        cJSON *reply = cJSON_Parse(answer.text);
        FUZZ_CHECK(reply != NULL, "the answer is not JSON: %s", answer.text);
        check_repeat(items, reply, by_id);
        cJSON_Delete(reply);
    }
    cJSON_Delete(items);
    fuzz_answer_free(&answer);
    return 0;
}
