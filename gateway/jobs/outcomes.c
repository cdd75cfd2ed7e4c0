/* outcomes — workers report how their jobs ended: complete and fail, one job per request
 * (group-committed through the batcher, so reports arriving together share a statement)
 * or many per request (one statement). Every report carries the attempt it claimed; the
 * database applies it only while the job is still running at that attempt (fencing), so a
 * late or repeated report gets 409 and changes nothing. Whichever way a report comes, it
 * reaches the database as columns (reportcols.h): reportscan reads the plain batches
 * workers send, read_report below every other report. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/json_print.h"
#include "common/log.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/jobs/batchbody.h"
#include "gateway/jobs/batcher.h"
#include "gateway/jobs/batchreq.h"
#include "gateway/jobs/reportcols.h"
#include "gateway/jobs/reportscan.h"

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

/* A report read from its parsed object: checked, and held as the text reportcols takes. */
struct parsed_report {
    struct report_fields f; /* points into the members below */
    char id[24], attempt[24];
    char *result, *error; /* printed JSON, owned; NULL when absent */
};

static void parsed_report_release(struct parsed_report *rep)
{
    free(rep->result);
    free(rep->error);
    rep->result = rep->error = NULL;
}

/* Prints item's JSON into *text and points the field at it. 0, or -1 when out of memory. */
static int print_field(const cJSON *item, char **text, const char **field, size_t *len)
{
    if (!(*text = json_print(item)))
        return -1;
    *field = *text;
    *len = strlen(*text);
    return 0;
}

/* Checks one report (a single report's body, or one element of "jobs") for job id and
 * fills rep (zeroed by the caller; release it in any case). prefix ("" or "jobs[3].") goes
 * before field names in errors. Returns 0, or -1 with err filled (err->field empty when out
 * of memory). */
static int read_report(const cJSON *obj, bool fail, long long id, const char *prefix,
                       struct parsed_report *rep, struct field_error *err)
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
    struct report_fields *f = &rep->f;
    f->id = rep->id;
    f->id_len = (size_t)snprintf(rep->id, sizeof(rep->id), "%lld", id);
    f->attempt = rep->attempt;
    f->attempt_len = (size_t)snprintf(rep->attempt, sizeof(rep->attempt), "%ld", attempt);
    f->retryable = retryable;
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(obj, "result");
    if ((result && print_field(result, &rep->result, &f->result, &f->result_len) < 0) ||
        (fail && print_field(cJSON_GetObjectItemCaseSensitive(obj, "error"), &rep->error, &f->error,
                             &f->error_len) < 0)) {
        err->field[0] = '\0';
        return -1;
    }
    return 0;
}

/* The 409 message for a fenced report, from a result row. */
static void conflict_message(const PGresult *res, int row, char *buf, size_t len)
{
    const char *id = PQgetvalue(res, row, COL_ID), *status = PQgetvalue(res, row, COL_STATUS);
    const char *attempts = PQgetvalue(res, row, COL_ATTEMPTS);
    const char *attempt = PQgetvalue(res, row, COL_ATTEMPT);
    if (strcmp(status, "running") == 0 && strcmp(attempts, attempt) == 0)
        snprintf(buf, len,
                 "job %s changed while this report for attempt %s was applied; read it "
                 "again",
                 id, attempt);
    else
        snprintf(buf, len, "job %s is %s (attempt %s); this report is for attempt %s", id, status,
                 attempts, attempt);
}

/* ---- one report per request, group-committed ------------------------------------------ */

/* A single report in its batcher (the item's key is the job id). */
struct single_report {
    struct batchreq q;
    struct parsed_report rep;
};

static void report_free(void *ctx)
{
    struct single_report *sr = ctx;
    parsed_report_release(&sr->rep);
    batchreq_release(&sr->q);
}

static const struct request_ctx_type report_ctx = {"outcome report", report_free};

/* The batcher's parameters for a group of single reports: their columns. */
static int single_columns(struct batcher_item *const *items, int n, struct strbuf *cols, bool fail)
{
    for (int k = 0; k < n; k++) {
        const struct single_report *sr = (void *)batchreq_of(items[k]); /* q comes first */
        if (report_cols_add(cols, k, &sr->rep.f, fail) < 0)
            return -1;
    }
    return report_cols_close(cols, fail) < 0 ? -1 : report_cols_count(fail);
}

static int complete_columns(struct batcher_item *const *items, int n, struct strbuf *cols)
{
    return single_columns(items, n, cols, false);
}

static int fail_columns(struct batcher_item *const *items, int n, struct strbuf *cols)
{
    return single_columns(items, n, cols, true);
}

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

/* The batcher's fixed parameters follow the columns: with_job true (gateway.c), and a
 * fail's backoff. */
const struct batcher_kind outcomes_complete_kind = {.name = "complete",
                                                    .stmt = Q_JOBS_COMPLETE,
                                                    .columns = complete_columns,
                                                    .answer = single_answer,
                                                    .failed = batchreq_failed};
const struct batcher_kind outcomes_fail_kind = {.name = "fail",
                                                .stmt = Q_JOBS_FAIL,
                                                .columns = fail_columns,
                                                .answer = single_answer,
                                                .failed = batchreq_failed};

static void report_single(struct request *r, bool fail)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    long long job_id = strtoll(id, NULL, 10);
    struct single_report *sr = request_ctx_new(r, &report_ctx, sizeof(*sr));
    if (!sr) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    struct field_error err;
    if (read_report(r->body, fail, job_id, "", &sr->rep, &err) < 0) {
        if (err.field[0])
            request_field_error(r, &err);
        else
            request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    batchreq_add(fail ? r->gw->fails : r->gw->completes, &sr->q, r, NULL, 0, job_id, false);
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
        len = snprintf(error, sizeof(error),
                       ",\"error\":{\"code\":\"conflict\",\"message\":\"%s\"}}", msg);
    } else {
        len = snprintf(error, sizeof(error),
                       ",\"error\":{\"code\":\"not_found\",\"message\":\"no job %s\"}}", id);
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

static const struct request_ctx_type report_batch_ctx = {"outcome report batch", report_batch_free};

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

/* What the general path's item reader fills: the columns of a batch of one kind. */
struct general_batch {
    bool fail;
    struct report_columns cols;
};

/* One report of a batch, checked and appended to the columns: its id is the item's key. It
 * writes no row: the statement takes the columns. */
static int read_batch_report(struct evbuffer *out, const cJSON *item, const char *prefix,
                             struct item_key *key, struct field_error *err, void *arg)
{
    struct general_batch *batch = arg;
    long id = 0;
    if (json_get_int(item, "id", true, 1, JOB_ID_MAX, &id, err) < 0)
        return field_error_prefix(err, prefix);
    *key = (struct item_key){.present = true, .id = id, .index = key->index};
    struct parsed_report rep = {0};
    int rc = read_report(item, batch->fail, id, prefix, &rep, err);
    if (rc == 0 && report_cols_add(batch->cols.col, key->index, &rep.f, batch->fail) < 0) {
        err->field[0] = '\0';
        rc = -1;
    }
    parsed_report_release(&rep);
    return rc;
}

/* The general path: parses the body and checks each report (field-named 400s) into cols. 0,
 * or -1 after answering r. */
static int report_batch_general(struct request *r, struct report_batch *rb, bool fail,
                                struct report_columns *cols)
{
    if (!request_parse_body(r))
        return -1;
    struct general_batch batch = {.fail = fail};
    const struct batch_body spec = {
        REPORTS_MAX,       "reports", "id", "report each job once per request",
        read_batch_report, &batch};
    struct evbuffer *rows = batch_body_render(r, &spec, &rb->items);
    *cols = batch.cols;
    if (!rows)
        return -1;
    evbuffer_free(rows);
    if (report_cols_close(cols->col, fail) < 0) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return -1;
    }
    return 0;
}

/* A batch of reports: read by reportscan when the body has the plain shape workers send,
 * else by the general path; either way into the columns of one statement. */
static void report_batch(struct request *r, bool fail)
{
    static const struct report_limits limits = {REPORTS_MAX, JOB_ID_MAX, ATTEMPT_MAX,
                                                ERROR_MAX_CHARS};
    struct report_batch *rb = request_ctx_new(r, &report_batch_ctx, sizeof(*rb));
    if (!rb) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    size_t len;
    const char *text = request_body_text(r, &len);
    struct report_columns cols = {0};
    switch (report_scan(text, len, fail, &limits, &cols, &rb->items)) {
    case REPORT_SCAN_OK: break;
    case REPORT_SCAN_NOMEM:
        report_columns_free(&cols);
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    case REPORT_SCAN_GENERAL:
        report_columns_free(&cols);
        if (report_batch_general(r, rb, fail, &cols) < 0) {
            report_columns_free(&cols);
            return;
        }
        break;
    }
    char base_ms[24], cap_ms[24];
    snprintf(base_ms, sizeof(base_ms), "%ld", config_int(r->gw->cfg, CFG_RETRY_BASE_MS));
    snprintf(cap_ms, sizeof(cap_ms), "%ld", config_int(r->gw->cfg, CFG_RETRY_MAX_MS));
    /* the answer walks the ids */
    rb->ids = cols.col[REPORT_COL_IDS].p;
    cols.col[REPORT_COL_IDS].p = NULL;
    const struct strbuf *col = cols.col;
    int rc;
    if (fail) {
        const char *params[8] = {rb->ids,
                                 col[REPORT_COL_ATTEMPTS].p,
                                 col[REPORT_COL_RESULTS].p,
                                 col[REPORT_COL_ERRORS].p,
                                 col[REPORT_COL_RETRYABLE].p,
                                 "false",
                                 base_ms,
                                 cap_ms};
        rc = pgpool_query(r->gw->pool, Q_JOBS_FAIL, 8, params, fail_batch_done, r);
    } else {
        const char *params[4] = {rb->ids, col[REPORT_COL_ATTEMPTS].p, col[REPORT_COL_RESULTS].p,
                                 "false"};
        rc = pgpool_query(r->gw->pool, Q_JOBS_COMPLETE, 4, params, complete_batch_done, r);
    }
    report_columns_free(&cols);
    if (rc < 0)
        request_unavailable(r);
}

void jobs_complete_batch(struct request *r) { report_batch(r, false); }

void jobs_fail_batch(struct request *r) { report_batch(r, true); }
