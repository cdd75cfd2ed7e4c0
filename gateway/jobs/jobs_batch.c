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
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/jobs/batchbody.h"

#define JOBS_BATCH_MAX 10000

/* The request's items, which the answer must match row for row. */
struct jobs_batch {
    int items;
};

static const struct request_ctx_type jobs_batch_ctx = {"jobs batch", NULL};

static void batch_inserted(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    int items = ((struct jobs_batch *)request_ctx(r, &jobs_batch_ctx))->items;
    int rows = PQntuples(res), created = 0, existing = 0, racing = 0;
    struct evbuffer *out = evbuffer_new();
    if (!out || rows != items) {
        if (out)
            evbuffer_free(out);
        log_error("msg=\"batch insert returned unexpected rows\" req_id=%s rows=%d items=%d", r->id,
                  rows, items);
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
    evbuffer_add_printf(out, "],\"created\":%d,\"existing\":%d,\"conflicts\":%d}", created,
                        existing, racing);
    size_t len = evbuffer_get_length(out);
    const char *text = (const char *)evbuffer_pullup(out, -1);
    if (text)
        request_reply(r, created > 0 ? 201 : 200, text, len);
    else
        request_error(r, 500, "internal", NULL, "out of memory");
    evbuffer_free(out);
}

/* One job: the row POST /api/jobs would insert; its idempotencyKey is the item's key. */
static int render_job(struct evbuffer *out, const cJSON *item, const char *prefix,
                      struct item_key *key, struct field_error *err, void *arg)
{
    (void)arg;
    size_t len;
    char *row = jobs_row_from_body(item, &len, err);
    if (!row)
        return field_error_prefix(err, prefix);
    int rc = evbuffer_add(out, row, len);
    free(row);
    if (rc < 0) {
        err->field[0] = '\0';
        return -1;
    }
    const char *idem = jobs_body_key(item);
    if (idem)
        *key = (struct item_key){.present = true, .text = idem, .index = key->index};
    return 0;
}

void jobs_create_batch(struct request *r)
{
    static const struct batch_body spec = {
        JOBS_BATCH_MAX, "jobs", "idempotencyKey", "each key once per request", render_job, NULL};
    struct jobs_batch *batch = request_ctx_new(r, &jobs_batch_ctx, sizeof(*batch));
    if (!batch) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    struct evbuffer *rows = batch_body_render(r, &spec, &batch->items);
    if (!rows)
        return;
    const char *params[1] = {(const char *)evbuffer_pullup(rows, -1)};
    if (pgpool_query(r->gw->pool, Q_JOBS_INSERT_BATCH, 1, params, batch_inserted, r) < 0)
        request_unavailable(r);
    evbuffer_free(rows);
}
