/* jobs — creating (through the group-commit batcher), reading (with an optional long-poll
 * wait), listing, cancelling, retrying and changing the status of jobs in job_queue. The
 * outcomes workers report (complete, fail) are in outcomes.c. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/isotime.h"
#include "common/json_print.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/jobs/batcher.h"
#include "gateway/jobs/batchreq.h"
#include "gateway/jobs/jobjson.h"
#include "gateway/jobs/jobwait.h"

#define PRIORITY_DEFAULT 2
#define MAX_ATTEMPTS_LIMIT 100
#define IDEMPOTENCY_KEY_MAX 200
#define TIMEOUT_SECONDS_MAX 86400
/* A row skipped by ON CONFLICT whose winner was not visible yet gets this many more tries. */
#define INSERT_RETRIES 3
#define JOB_STATUS_MAX 32

static const char *const job_statuses[] = {"pending", "running", "completed", "failed",
                                           "cancelled"};

static bool is_job_status(const char *s)
{
    for (size_t i = 0; i < sizeof(job_statuses) / sizeof(job_statuses[0]); i++)
        if (strcmp(s, job_statuses[i]) == 0)
            return true;
    return false;
}

static bool is_terminal(const char *s)
{
    return !strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "cancelled");
}

static int add_text(struct strbuf *b, const char *s) { return strbuf_add(b, s, strlen(s)); }

/* ,"name":number */
static int add_number(struct strbuf *b, const char *name, double value)
{
    char num[JSON_NUMBER_MAX];
    size_t n = json_print_number(value, num);
    return add_text(b, ",\"") | add_text(b, name) | add_text(b, "\":") | strbuf_add(b, num, n);
}

const char *jobs_body_key(const cJSON *body)
{
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(body, "idempotencyKey");
    return cJSON_IsString(key) ? key->valuestring : NULL;
}

/* Validates a create-job body and renders the batcher's row (see batcher_item). Returns the
 * row text (caller frees; *len its length) or NULL with err filled (or err->field empty on
 * out-of-memory). */
char *jobs_row_from_body(const cJSON *body, size_t *len, struct field_error *err)
{
    const char *agent = NULL, *run_at = NULL, *key = NULL;
    cJSON *payload = NULL;
    long priority = PRIORITY_DEFAULT, max_attempts = 3, timeout = 0;
    double run_at_epoch = 0;
    if (json_get_string(body, "targetAgent", true, 1, AGENT_NAME_MAX, &agent, err) < 0 ||
        json_get_object(body, "payload", true, &payload, err) < 0 ||
        json_get_int(body, "priority", false, 0, 4, &priority, err) < 0 ||
        json_get_string(body, "runAt", false, 1, 64, &run_at, err) < 0 ||
        json_get_int(body, "maxAttempts", false, 1, MAX_ATTEMPTS_LIMIT, &max_attempts, err) < 0 ||
        json_get_int(body, "timeoutSeconds", false, 1, TIMEOUT_SECONDS_MAX, &timeout, err) < 0 ||
        json_get_string(body, "idempotencyKey", false, 1, IDEMPOTENCY_KEY_MAX, &key, err) < 0)
        return NULL;
    if (!json_is_identifier(agent, AGENT_NAME_MAX)) {
        field_error_set(
            err, "targetAgent",
            "targetAgent must be 1 to %d characters of letters, digits, '_', '.' or '-'",
            AGENT_NAME_MAX);
        return NULL;
    }
    if (run_at && isotime_parse(run_at, &run_at_epoch) < 0) {
        field_error_set(
            err, "runAt",
            "runAt must be an ISO 8601 timestamp with a zone, e.g. 2030-01-01T00:00:00Z");
        return NULL;
    }
    /* The row as the group-commit statement reads it, without its opening brace (the batcher
     * writes its own). Printed directly rather than through a cJSON tree built only to be
     * printed, since this runs for every job created. agent is an identifier, so it needs
     * no escaping. */
    struct strbuf row = {0};
    int failed = add_text(&row, "\"agent\":\"") | add_text(&row, agent) |
                 add_text(&row, "\",\"payload\":") | json_print_append(&row, payload) |
                 add_number(&row, "priority", (double)priority) |
                 (run_at ? add_number(&row, "run_at", run_at_epoch) : 0) |
                 add_number(&row, "max_attempts", (double)max_attempts) |
                 (timeout > 0 ? add_number(&row, "timeout", (double)timeout) : 0);
    if (key)
        failed |= add_text(&row, ",\"key\":") | json_print_string(&row, key);
    failed |= add_text(&row, "}");
    if (failed) {
        free(row.p);
        goto oom;
    }
    *len = row.len;
    return row.p;
oom:
    err->field[0] = '\0';
    return NULL;
}

/* A job insert in the batcher: the request's place in it, the tries left after losing an
 * idempotency-key race, and who gets the job. */
struct job_insert {
    struct batchreq q;
    int retries;
    jobs_created_cb created;
};

static void job_insert_free(void *ctx)
{
    struct job_insert *ji = ctx;
    batchreq_release(&ji->q);
}

static const struct request_ctx_type job_insert_ctx = {"job insert", job_insert_free};

static struct job_insert *job_insert_of(struct batcher_item *it)
{
    return (struct job_insert *)(void *)((char *)batchreq_of(it) - offsetof(struct job_insert, q));
}

static void deliver_job(struct job_insert *ji, const char *job, size_t len, bool created)
{
    if (ji->created)
        ji->created(ji->q.r, job, len, created);
    else
        request_reply(ji->q.r, created ? 201 : 200, job, len);
}

/* Insert rows come back as (i, job or NULL, created). */
static bool insert_answer(struct batcher_item *it, const PGresult *res, int row)
{
    struct job_insert *ji = job_insert_of(it);
    if (PQgetisnull(res, row, 1)) {
        /* Lost an idempotency-key race with a statement still in flight. */
        if (ji->retries++ < INSERT_RETRIES)
            return false;
        request_error(ji->q.r, 409, "conflict", "idempotencyKey",
                      "a job with this idempotencyKey is being created concurrently");
        return true;
    }
    deliver_job(ji, PQgetvalue(res, row, 1), (size_t)PQgetlength(res, row, 1),
                PQgetvalue(res, row, 2)[0] == 't');
    return true;
}

/* The plain insert's rows are the new job's columns (jobjson.h). */
static bool plain_insert_answer(struct batcher_item *it, const PGresult *res, int row)
{
    struct job_insert *ji = job_insert_of(it);
    struct strbuf job = {0};
    if (jobjson_print(&job, res, row, 0) < 0)
        request_error(ji->q.r, 500, "internal", NULL, "out of memory");
    else
        deliver_job(ji, job.p, job.len, true);
    free(job.p);
    return true;
}

const struct batcher_kind jobs_insert_kind = {.name = "insert",
                                              .stmt = Q_JOBS_INSERT,
                                              .answer = insert_answer,
                                              .plain_stmt = Q_JOBS_INSERT_PLAIN,
                                              .plain_answer = plain_insert_answer,
                                              .failed = batchreq_failed};

void jobs_insert(struct request *r, char *row, size_t len, bool plain, jobs_created_cb created)
{
    struct job_insert *ji = request_ctx_new(r, &job_insert_ctx, sizeof(*ji));
    if (!ji) {
        free(row);
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    ji->created = created;
    batchreq_add(r->gw->inserts, &ji->q, r, row, len, 0, plain);
}

void jobs_create(struct request *r)
{
    struct field_error err;
    size_t len;
    char *row = jobs_row_from_body(r->body, &len, &err);
    if (!row) {
        if (err.field[0])
            request_field_error(r, &err);
        else
            request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    jobs_insert(r, row, len, !jobs_body_key(r->body), NULL);
}

void jobs_get(struct request *r)
{
    char id[24];
    long wait = 0;
    if (request_path_id(r, "id", id, sizeof(id)) < 0 ||
        request_query_int(r, "wait", 0, config_int(r->gw->cfg, CFG_WAIT_MAX), &wait) < 0)
        return;
    if (wait > 0) {
        if (jobwait_admit(r->gw->waits, r))
            jobwait_add(r->gw->waits, r, strtoll(id, NULL, 10), (int)wait);
        return;
    }
    const char *params[1] = {id};
    request_query_body(r, Q_JOB_GET, 1, params, 200);
}

void jobs_list(struct request *r)
{
    const char *status = request_query_param(r, "status");
    const char *agent = request_query_param(r, "agent");
    if (status && !is_job_status(status)) {
        request_error(r, 400, "invalid_field", "status",
                      "status must be one of pending, running, completed, failed, cancelled");
        return;
    }
    if (agent && request_check_agent_name(r, agent, "agent") < 0)
        return;
    struct page_query pq;
    if (request_page_query(r, 50, 500, true, &pq) < 0)
        return;
    const char *params[5] = {status, agent, pq.cursor, pq.limit, r->gw->response_budget};
    request_query_body(r, Q_JOBS_LIST, 5, params, 200);
}

/* A pending page's cursor is a job id; NULL comes back when that job is gone (pruned). */
static void pending_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
        request_error(r, 400, "invalid_field", "cursor",
                      "cursor names a job that no longer exists; start again without it");
        return;
    }
    request_reply_first_cell(res, r);
}

static void pending_for(struct request *r, const char *agent)
{
    struct page_query pq;
    if (request_page_query(r, 100, 1000, true, &pq) < 0)
        return;
    const char *params[4] = {agent, pq.cursor, pq.limit, r->gw->response_budget};
    r->ok_status = 200;
    if (pgpool_query(r->gw->pool, Q_JOBS_PENDING, 4, params, pending_done, r) < 0)
        request_unavailable(r);
}

void jobs_pending(struct request *r) { pending_for(r, NULL); }

void jobs_for_agent(struct request *r)
{
    const char *agent = router_param(&r->match, "agentName");
    if (request_check_agent_name(r, agent, "agentName") < 0)
        return;
    pending_for(r, agent);
}

/* PUT /api/jobs/:jobId/status: the status asked for, which the answer compares with the
 * status the job had. */
struct status_change {
    char wanted[JOB_STATUS_MAX + 1];
};

static const struct request_ctx_type status_change_ctx = {"status change", NULL};

static void set_status_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    if (PQntuples(res) == 0) {
        request_error(r, 404, "not_found", NULL, "no such job");
        return;
    }
    const char *before = PQgetvalue(res, 0, 0);
    const char *wanted = ((struct status_change *)request_ctx(r, &status_change_ctx))->wanted;
    if (strcmp(before, wanted) != 0 && is_terminal(before)) {
        request_error(r, 409, "conflict", "status", "the job is %s; it cannot become %s", before,
                      wanted);
        return;
    }
    request_reply(r, 200, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

void jobs_set_status(struct request *r)
{
    char id[24];
    if (request_path_id(r, "jobId", id, sizeof(id)) < 0)
        return;
    struct field_error err;
    const char *status = NULL, *error = NULL;
    if (json_get_string(r->body, "status", true, 1, JOB_STATUS_MAX, &status, &err) < 0 ||
        json_get_string(r->body, "error", false, 0, 10000, &error, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    if (!is_job_status(status)) {
        request_error(r, 400, "invalid_field", "status",
                      "status must be one of pending, running, completed, failed, cancelled");
        return;
    }
    struct status_change *change = request_ctx_new(r, &status_change_ctx, sizeof(*change));
    char *result_text = NULL;
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(r->body, "result");
    if (!change || (result && !(result_text = json_print(result)))) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    snprintf(change->wanted, sizeof(change->wanted), "%s", status);
    const char *params[4] = {id, status, result_text, error};
    if (pgpool_query(r->gw->pool, Q_JOB_SET_STATUS, 4, params, set_status_done, r) < 0)
        request_unavailable(r);
    free(result_text);
}

/* POST /api/jobs/:id/cancel and /retry: the job, for the answer's messages. */
struct transition {
    long long job_id;
};

static const struct request_ctx_type transition_ctx = {"job transition", NULL};

static long long transition_job(const struct request *r)
{
    return ((struct transition *)request_ctx(r, &transition_ctx))->job_id;
}

/* Cancel and retry return (status before, job after). Returns the status before, or NULL
 * having answered (a database error, or no row: no such job). */
static const char *transition_before(struct request *r, const PGresult *res)
{
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return NULL;
    }
    if (PQntuples(res) == 0) {
        request_error(r, 404, "not_found", NULL, "no job %lld", transition_job(r));
        return NULL;
    }
    return PQgetvalue(res, 0, 0);
}

static void cancel_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    const char *before = transition_before(r, res);
    if (!before)
        return;
    if (is_terminal(before)) {
        request_error(r, 409, "conflict", NULL, "job %lld is already %s; it cannot be cancelled",
                      transition_job(r), before);
        return;
    }
    /* A running job only has its cancel requested: 202, the worker stops it later. */
    request_reply(r, strcmp(before, "running") == 0 ? 202 : 200, PQgetvalue(res, 0, 1),
                  (size_t)PQgetlength(res, 0, 1));
}

/* Runs a cancel or retry statement for the job in the path. */
static void transition(struct request *r, int stmt, pgpool_cb done)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    struct transition *t = request_ctx_new(r, &transition_ctx, sizeof(*t));
    if (!t) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    t->job_id = strtoll(id, NULL, 10);
    const char *params[1] = {id};
    if (pgpool_query(r->gw->pool, stmt, 1, params, done, r) < 0)
        request_unavailable(r);
}

void jobs_cancel(struct request *r) { transition(r, Q_JOB_CANCEL, cancel_done); }

static void retry_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    const char *before = transition_before(r, res);
    if (!before)
        return;
    if (strcmp(before, "failed") != 0 && strcmp(before, "cancelled") != 0) {
        request_error(r, 409, "conflict", NULL,
                      "job %lld is %s; only failed or cancelled jobs can be retried",
                      transition_job(r), before);
        return;
    }
    request_reply(r, 200, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

void jobs_retry(struct request *r) { transition(r, Q_JOB_RETRY, retry_done); }
