/* jobs_batch — POST /api/jobs/batch: up to JOBS_BATCH_MAX jobs created in one statement.
 *
 * Every item is validated like a POST /api/jobs body before anything is written; one bad
 * item (or an idempotencyKey repeated inside the request) refuses the whole request with
 * the item's path ("jobs[3].targetAgent"). The insert is one statement, so one commit and
 * one NOTIFY per request, and the answer is lean — per item its id and whether it was
 * created (false: an existing job has that idempotencyKey), in request order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <libpq-fe.h>

#include "common/json.h"
#include "common/log.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/pgpool.h"
#include "gateway/queries.h"
#include "gateway/repeats.h"
#include "gateway/request.h"

#define JOBS_BATCH_MAX 10000

static void batch_inserted(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    int rows = PQntuples(res), created = 0, existing = 0, racing = 0;
    struct evbuffer *out = evbuffer_new();
    if (!out || rows != r->items) {
        if (out)
            evbuffer_free(out);
        log_error("msg=\"batch insert returned unexpected rows\" req_id=%s rows=%d items=%d", r->id,
                  rows, r->items);
        request_error(r, 500, "internal", NULL, "the batch insert answered unexpectedly");
        return;
    }
    evbuffer_add(out, "{\"jobs\":[", 9);
    for (int i = 0; i < rows; i++) {
        const char *sep = i ? "," : "";
        if (PQgetisnull(res, i, 1)) {
            racing++;
            evbuffer_add_printf(out,
                                "%s{\"id\":null,\"created\":false,\"error\":{\"code\":\"conflict\","
                                "\"message\":\"a job with this idempotencyKey is being created "
                                "concurrently; send it again\"}}",
                                sep);
            continue;
        }
        bool was_created = PQgetvalue(res, i, 2)[0] == 't';
        created += was_created;
        existing += !was_created;
        evbuffer_add_printf(out, "%s{\"id\":%s,\"created\":%s}", sep, PQgetvalue(res, i, 1),
                            was_created ? "true" : "false");
    }
    evbuffer_add_printf(out, "],\"created\":%d,\"existing\":%d,\"conflicts\":%d}", created, existing,
                        racing);
    size_t len = evbuffer_get_length(out);
    const char *text = (const char *)evbuffer_pullup(out, -1);
    if (text)
        request_reply(r, created > 0 ? 201 : 200, text, len);
    else
        request_error(r, 500, "internal", NULL, "out of memory");
    evbuffer_free(out);
}

void jobs_create_batch(struct request *r)
{
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(r->body, "jobs");
    if (!jobs || cJSON_IsNull(jobs)) {
        request_error(r, 400, "invalid_field", "jobs", "jobs is required");
        return;
    }
    int n = cJSON_IsArray(jobs) ? cJSON_GetArraySize(jobs) : -1;
    if (n < 1 || n > JOBS_BATCH_MAX) {
        request_error(r, 400, "invalid_field", "jobs", "jobs must be an array of 1 to %d jobs",
                      JOBS_BATCH_MAX);
        return;
    }
    struct field_error err = {{0}, {0}};
    struct item_key *keys = malloc((size_t)n * sizeof(*keys));
    struct evbuffer *rows = evbuffer_new();
    int nkeys = 0, k = 0;
    if (!keys || !rows)
        goto oom;
    evbuffer_add(rows, "[", 1);
    const cJSON *item;
    cJSON_ArrayForEach(item, jobs)
    {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "jobs[%d].", k);
        if (!cJSON_IsObject(item)) {
            char field[32];
            snprintf(field, sizeof(field), "jobs[%d]", k);
            field_error_set(&err, field, "%s must be an object", field);
            goto invalid;
        }
        char *row = jobs_row_from_body(item, &err);
        if (!row) {
            if (!err.field[0])
                goto oom;
            field_error_prefix(&err, prefix);
            goto invalid;
        }
        int rc = evbuffer_add_printf(rows, "%s{\"i\":%d,%s", k ? "," : "", k, row);
        free(row);
        if (rc < 0)
            goto oom;
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(item, "idempotencyKey");
        if (cJSON_IsString(key)) {
            keys[nkeys++] = (struct item_key){.text = key->valuestring, .index = k};
        }
        k++;
    }
    int earlier = 0, repeated = first_repeated_key(keys, nkeys, &earlier);
    if (repeated >= 0) {
        char field[48];
        snprintf(field, sizeof(field), "jobs[%d].idempotencyKey", repeated);
        request_error(r, 400, "invalid_field", field,
                      "jobs[%d].idempotencyKey repeats jobs[%d].idempotencyKey: each key once per "
                      "request",
                      repeated, earlier);
        goto done;
    }
    if (evbuffer_add(rows, "]", 2) < 0) /* the NUL too */
        goto oom;
    const char *params[1] = {(const char *)evbuffer_pullup(rows, -1)};
    if (!params[0])
        goto oom;
    r->items = n;
    if (pgpool_query(r->gw->pool, Q_JOBS_INSERT_BATCH, 1, params, batch_inserted, r) < 0)
        request_unavailable(r);
    goto done;
invalid:
    request_field_error(r, &err);
    goto done;
oom:
    request_error(r, 500, "internal", NULL, "out of memory");
done:
    free(keys);
    if (rows)
        evbuffer_free(rows);
}
