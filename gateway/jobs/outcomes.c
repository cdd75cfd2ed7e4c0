/* outcomes — workers report how their jobs ended: complete and fail, one job per request
 * (group-committed through the batcher, so reports arriving together share a statement)
 * or many per request (one statement). Every report carries the attempt it claimed; the
 * database applies it only while the job is still running at that attempt (fencing), so a
 * late or repeated report gets 409 and changes nothing. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/json_print.h"
#include "common/log.h"
#include "gateway/jobs/batchbody.h"
#include "gateway/jobs/batcher.h"
#include "gateway/jobs/batchreq.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/jobs/reportscan.h"
#include "gateway/http/request.h"

#define ATTEMPT_MAX 2147483647L
#define JOB_ID_MAX 9007199254740991L /* ids in a JSON body are exact up to 2^53 - 1 */
#define ERROR_MAX_CHARS 10000
#define REPORTS_MAX 10000

/* Result columns of Q_JOBS_COMPLETE and Q_JOBS_FAIL. */
enum { COL_I, COL_OUTCOME, COL_STATUS, COL_JOB, COL_ATTEMPTS, COL_ID, COL_ATTEMPT };

/* Characters (code points) of a valid UTF-8 string. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Appends the JSON text of item to out. Returns 0, or -1 when out of memory. */
static int add_json(struct evbuffer *out, const char *key, const cJSON *item)
{
    char *text = json_print(item);
    if (!text)
        return -1;
    int rc = evbuffer_add_printf(out, ",\"%s\":%s", key, text) < 0 ? -1 : 0;
    free(text);
    return rc;
}

/* Validates one report (a single report's body, or one element of "jobs") and appends its
 * row for fs_jobs_complete/fs_jobs_fail to out, without the opening brace:
 * `"id":…,"attempt":…[,"result":…][,"error":…,"retryable":…]}`. prefix ("" or "jobs[3].")
 * goes before field names in errors. Returns 0, or -1 with err filled (err->field empty
 * when out of memory). */
static int render_report(struct evbuffer *out, const cJSON *obj, bool fail, long long id,
                         const char *prefix, struct field_error *err)
{
    long attempt = 0;
    const char *error = NULL;
    bool retryable = true;
    if (json_get_int(obj, "attempt", true, 1, ATTEMPT_MAX, &attempt, err) < 0)
        return field_error_prefix(err, prefix);
    if (fail) {
        if (json_get_string(obj, "error", true, 1, (size_t)-1, &error, err) < 0 ||
            json_get_bool(obj, "retryable", false, &retryable, err) < 0)
            return field_error_prefix(err, prefix);
        if (utf8_chars(error) > ERROR_MAX_CHARS) {
            field_error_set(err, "error", "error must be at most %d characters long",
                            ERROR_MAX_CHARS);
            return field_error_prefix(err, prefix);
        }
    }
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(obj, "result");
    if (evbuffer_add_printf(out, "\"id\":%lld,\"attempt\":%ld", id, attempt) < 0 ||
        (result && add_json(out, "result", result) < 0) ||
        (fail && (add_json(out, "error", cJSON_GetObjectItemCaseSensitive(obj, "error")) < 0 ||
                  evbuffer_add_printf(out, ",\"retryable\":%s", retryable ? "true" : "false") < 0)) ||
        evbuffer_add(out, "}", 1) < 0)
        goto oom;
    return 0;
oom:
    err->field[0] = '\0';
    return -1;
}

/* The 409 message for a fenced report, from a result row. */
static void conflict_message(const PGresult *res, int row, char *buf, size_t len)
{
    const char *id = PQgetvalue(res, row, COL_ID), *status = PQgetvalue(res, row, COL_STATUS);
    const char *attempts = PQgetvalue(res, row, COL_ATTEMPTS);
    const char *attempt = PQgetvalue(res, row, COL_ATTEMPT);
    if (strcmp(status, "running") == 0 && strcmp(attempts, attempt) == 0)
        snprintf(buf, len, "job %s changed while this report for attempt %s was applied; read it "
                 "again", id, attempt);
    else
        snprintf(buf, len, "job %s is %s (attempt %s); this report is for attempt %s", id, status,
                 attempts, attempt);
}

/* ---- one report per request, group-committed ------------------------------------------ */

/* A single report in its batcher (the item's key is the job id). */
static void report_free(void *ctx) { batchreq_release(ctx); }

static const struct request_ctx_type report_ctx = {"outcome report", report_free};

static bool single_answer(struct batcher_item *it, const PGresult *res, int row)
{
    struct request *r = batchreq_of(it)->r;
    const char *outcome = PQgetvalue(res, row, COL_OUTCOME);
    if (strcmp(outcome, "ok") == 0) {
        if (PQgetisnull(res, row, COL_JOB)) { /* the statement runs with with_job = true */
            log_error("msg=\"applied outcome came back without its job\" req_id=%s", r->id);
            request_error(r, 500, "internal", NULL, "internal error (request id %s)", r->id);
        } else {
            request_reply(r, 200, PQgetvalue(res, row, COL_JOB),
                          (size_t)PQgetlength(res, row, COL_JOB));
        }
    } else if (strcmp(outcome, "conflict") == 0) {
        char msg[256];
        conflict_message(res, row, msg, sizeof(msg));
        request_error(r, 409, "conflict", NULL, "%s", msg);
    } else {
        request_error(r, 404, "not_found", NULL, "no job %lld", it->key);
    }
    return true;
}

const struct batcher_kind outcomes_complete_kind = {
    .name = "complete", .stmt = Q_JOBS_COMPLETE, .answer = single_answer,
    .failed = batchreq_failed};
const struct batcher_kind outcomes_fail_kind = {
    .name = "fail", .stmt = Q_JOBS_FAIL, .answer = single_answer, .failed = batchreq_failed};

static void report_single(struct request *r, bool fail)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    long long job_id = strtoll(id, NULL, 10);
    struct field_error err;
    struct evbuffer *out = evbuffer_new();
    if (!out || render_report(out, r->body, fail, job_id, "", &err) < 0) {
        if (out && err.field[0])
            request_field_error(r, &err);
        else
            request_error(r, 500, "internal", NULL, "out of memory");
        if (out)
            evbuffer_free(out);
        return;
    }
    size_t len = evbuffer_get_length(out);
    struct batchreq *q = request_ctx_new(r, &report_ctx, sizeof(*q));
    char *row = q ? malloc(len + 1) : NULL;
    if (!row) {
        evbuffer_free(out);
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    evbuffer_remove(out, row, len);
    row[len] = '\0';
    evbuffer_free(out);
    batchreq_add(fail ? r->gw->fails : r->gw->completes, q, r, row, len, job_id, false);
}

void jobs_complete(struct request *r) { report_single(r, false); }

void jobs_fail(struct request *r) { report_single(r, true); }

/* ---- many reports in one request ------------------------------------------------------- */

/* Appends an applied report's answer, {"id":…,"status":"…"}. 0, or -1 when out of memory. */
static int add_applied(struct strbuf *out, const char *id, size_t id_len, const char *status,
                       size_t status_len)
{
    return strbuf_add(out, "{\"id\":", 6) < 0 || strbuf_add(out, id, id_len) < 0 ||
                   strbuf_add(out, ",\"status\":\"", 11) < 0 ||
                   strbuf_add(out, status, status_len) < 0 || strbuf_add(out, "\"}", 2) < 0
               ? -1
               : 0;
}

/* Appends the answer of the report a result row is about: applied (add_applied), or
 * {"id":…,"error":{…}} when it was not. 0, or -1 when out of memory. */
static int add_answer(struct strbuf *out, const PGresult *res, int row)
{
    const char *id = PQgetvalue(res, row, COL_ID), *outcome = PQgetvalue(res, row, COL_OUTCOME);
    size_t id_len = (size_t)PQgetlength(res, row, COL_ID);
    if (strcmp(outcome, "ok") == 0)
        return add_applied(out, id, id_len, PQgetvalue(res, row, COL_STATUS),
                           (size_t)PQgetlength(res, row, COL_STATUS));
    if (strbuf_add(out, "{\"id\":", 6) < 0 || strbuf_add(out, id, id_len) < 0)
        return -1;
    char error[320];
    int len;
    if (strcmp(outcome, "conflict") == 0) {
        char msg[256];
        conflict_message(res, row, msg, sizeof(msg));
        len = snprintf(error, sizeof(error), ",\"error\":{\"code\":\"conflict\",\"message\":\"%s\"}}", msg);
    } else {
        len = snprintf(error, sizeof(error), ",\"error\":{\"code\":\"not_found\",\"message\":\"no job %s\"}}", id);
    }
    return strbuf_add(out, error, (size_t)len);
}

/* A batch of reports in flight: their ids ("{7,9}", in request order) and their number,
 * which the answer walks. */
struct report_batch {
    char *ids;
    int items;
};

static void report_batch_free(void *ctx)
{
    struct report_batch *rb = ctx;
    free(rb->ids);
}

static const struct request_ctx_type report_batch_ctx = {"outcome report batch",
                                                          report_batch_free};

/* Answers a batch: {"results":[…]}, one answer per report in request order. The statement
 * returned rows in item order: for every report of a fail batch, and for a completion batch
 * only the reports it did not apply. */
static void batch_done(PGresult *res, struct request *r, bool fail)
{
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    const struct report_batch *rb = request_ctx(r, &report_batch_ctx);
    int rows = PQntuples(res), row = 0, k = 0;
    const char *id = rb->ids + 1; /* past the opening brace */
    struct strbuf out = {0};
    int rc = strbuf_add(&out, "{\"results\":[", 12);
    for (; rc == 0 && k < rb->items; k++) {
        size_t id_len = strcspn(id, ",}");
        bool has_row = row < rows && atoi(PQgetvalue(res, row, COL_I)) == k;
        if (!has_row && fail)
            break; /* a fail batch answers every report */
        if (k)
            rc = strbuf_add(&out, ",", 1);
        if (rc == 0)
            rc = has_row ? add_answer(&out, res, row++) /* else a completion applied */
                         : add_applied(&out, id, id_len, "completed", 9);
        id += id_len + 1;
    }
    if (rc == 0 && (k != rb->items || row != rows)) {
        log_error("msg=\"outcome statement returned unexpected rows\" req_id=%s rows=%d reports=%d",
                  r->id, rows, rb->items);
        free(out.p);
        request_error(r, 500, "internal", NULL, "internal error (request id %s)", r->id);
        return;
    }
    if (rc < 0 || strbuf_add(&out, "]}", 2) < 0) {
        free(out.p);
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    request_reply(r, 200, out.p, out.len);
    free(out.p);
}

static void complete_batch_done(PGresult *res, void *arg) { batch_done(res, arg, false); }

static void fail_batch_done(PGresult *res, void *arg) { batch_done(res, arg, true); }

/* What the general path's item renderer needs: the kind of batch, and where the ids go. */
struct general_batch {
    bool fail;
    struct strbuf ids;
};

/* One report of a batch: its id is the item's key. */
static int render_batch_report(struct evbuffer *out, const cJSON *item, const char *prefix,
                               struct item_key *key, struct field_error *err, void *arg)
{
    struct general_batch *batch = arg;
    long id = 0;
    if (json_get_int(item, "id", true, 1, JOB_ID_MAX, &id, err) < 0)
        return field_error_prefix(err, prefix);
    *key = (struct item_key){.present = true, .id = id, .index = key->index};
    char digits[JSON_NUMBER_MAX];
    size_t digits_len = json_print_number(id, digits);
    if (strbuf_add(&batch->ids, key->index ? "," : "{", 1) < 0 ||
        strbuf_add(&batch->ids, digits, digits_len) < 0) {
        err->field[0] = '\0';
        return -1;
    }
    return render_report(out, item, batch->fail, id, prefix, err);
}

/* The general path: parses the body, checks each report (field-named 400s) and submits the
 * item-document form of the statement. */
static void report_batch_general(struct request *r, struct report_batch *rb, bool fail,
                                 const char *const *backoff)
{
    if (!request_parse_body(r))
        return;
    struct general_batch batch = {fail, {0}};
    const struct batch_body spec = {REPORTS_MAX, "reports", "id", "report each job once per request",
                                    render_batch_report, &batch};
    struct evbuffer *items = batch_body_render(r, &spec, &rb->items);
    if (!items) {
        free(batch.ids.p);
        return;
    }
    if (strbuf_add(&batch.ids, "}", 1) < 0) {
        free(batch.ids.p);
        evbuffer_free(items);
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    rb->ids = batch.ids.p;
    const char *params[4] = {(const char *)evbuffer_pullup(items, -1), "false", backoff[0],
                             backoff[1]};
    int rc = fail ? pgpool_query(r->gw->pool, Q_JOBS_FAIL, 4, params, fail_batch_done, r)
                  : pgpool_query(r->gw->pool, Q_JOBS_COMPLETE, 2, params, complete_batch_done, r);
    evbuffer_free(items);
    if (rc < 0)
        request_unavailable(r);
}

/* A batch of reports: through reportscan and the column form of the statement when the body
 * has the plain shape workers send, else the general path. */
static void report_batch(struct request *r, bool fail)
{
    static const struct report_limits limits = {REPORTS_MAX, JOB_ID_MAX, ATTEMPT_MAX,
                                                ERROR_MAX_CHARS};
    char base_ms[24], cap_ms[24];
    snprintf(base_ms, sizeof(base_ms), "%ld", config_int(r->gw->cfg, CFG_RETRY_BASE_MS));
    snprintf(cap_ms, sizeof(cap_ms), "%ld", config_int(r->gw->cfg, CFG_RETRY_MAX_MS));
    const char *backoff[2] = {base_ms, cap_ms};
    struct report_batch *rb = request_ctx_new(r, &report_batch_ctx, sizeof(*rb));
    if (!rb) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    size_t len;
    const char *text = request_body_text(r, &len);
    struct report_columns cols = {0};
    switch (report_scan(text, len, fail, &limits, &cols, &rb->items)) {
    case REPORT_SCAN_OK:
        break;
    case REPORT_SCAN_NOMEM:
        report_columns_free(&cols);
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    case REPORT_SCAN_GENERAL:
        report_columns_free(&cols);
        report_batch_general(r, rb, fail, backoff);
        return;
    }
    rb->ids = cols.ids.p; /* the answer walks the ids */
    cols.ids.p = NULL;
    const char *params[7] = {rb->ids, cols.attempts.p, cols.results.p, cols.errors.p,
                             cols.retryable.p, base_ms, cap_ms};
    int rc = fail ? pgpool_query(r->gw->pool, Q_JOBS_FAIL_COLUMNS, 7, params, fail_batch_done, r)
                  : pgpool_query(r->gw->pool, Q_JOBS_COMPLETE_COLUMNS, 3, params,
                                 complete_batch_done, r);
    report_columns_free(&cols);
    if (rc < 0)
        request_unavailable(r);
}

void jobs_complete_batch(struct request *r) { report_batch(r, false); }

void jobs_fail_batch(struct request *r) { report_batch(r, true); }
