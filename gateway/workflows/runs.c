/* runs — workflow runs: start one (from a template or an inline definition), read and list
 * them, cancel, pause, resume or retry one, and signal its wait steps. Each is one statement
 * over the SQL engine (sql/006_workflows.sql, sql/008_workflow_kinds.sql), which starts the
 * steps that are ready in the same transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_print.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/workflows/wfdef.h"
#include "gateway/workflows/workflows.h"

static const char *const run_statuses[] = {"pending", "running",   "paused", "completed",
                                           "failed",  "cancelled", NULL};

/* What a request names, for its answer's messages: the template started, or the run and
 * the action asked of it. */
struct run_req {
    char name[WF_NAME_MAX + 1];
    char id[24];
    const char *action;
};

static const struct request_ctx_type run_req_ctx = {"workflow run", NULL};

static struct run_req *run_req_new(struct request *r)
{
    struct run_req *rr = request_ctx_new(r, &run_req_ctx, sizeof(*rr));
    if (!rr)
        request_error(r, 500, "internal", NULL, "out of memory");
    return rr;
}

static void start_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    struct run_req *rr = request_ctx(r, &run_req_ctx);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    if (PQntuples(res) == 0) {
        request_error(r, 404, "not_found", "template", "no workflow template '%s'", rr->name);
        return;
    }
    wf_reply_created(r, res);
}

/* POST /api/workflows/runs {template [+ version] | definition, input?, idempotencyKey?,
 * conversationId?} → 201 with the run and its steps (200: the run that has the key). */
void wf_runs_create(struct request *r)
{
    struct field_error err;
    const char *tname = NULL, *key = NULL, *conversation = NULL;
    long version = 0;
    int has_version = 0;
    cJSON *input = NULL;
    if (json_get_string(r->body, "template", false, 1, WF_NAME_MAX, &tname, &err) < 0 ||
        (has_version = json_get_int(r->body, "version", false, 1, 0x7fffffff, &version, &err)) <
            0 ||
        json_get_object(r->body, "input", false, &input, &err) < 0 ||
        json_get_string(r->body, "idempotencyKey", false, 1, WF_KEY_MAX, &key, &err) < 0 ||
        json_get_string(r->body, "conversationId", false, 1, WF_KEY_MAX, &conversation, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(r->body, "definition");
    if (def && cJSON_IsNull(def))
        def = NULL;
    if (!tname == !def) {
        request_error(r, 400, "invalid_field", "template",
                      "give either template (a stored template's name) or definition");
        return;
    }
    if (has_version && !tname) {
        request_error(r, 400, "invalid_field", "version", "version goes with template");
        return;
    }
    if (tname && wf_check_template_name(r, tname, "template") < 0)
        return;
    char *def_text = NULL, *input_text = NULL, version_text[16];
    int rc;
    if (def && !(def_text = wf_definition_text(r, def)))
        return;
    struct run_req *rr = run_req_new(r);
    if (!rr)
        goto done;
    input_text = input ? json_print(input) : NULL;
    if (input && !input_text) {
        request_error(r, 500, "internal", NULL, "out of memory");
        goto done;
    }
    if (tname) {
        snprintf(rr->name, sizeof(rr->name), "%s", tname);
        snprintf(version_text, sizeof(version_text), "%ld", version);
        const char *params[5] = {tname, has_version ? version_text : NULL,
                                 input_text ? input_text : "{}", key, conversation};
        rc = pgpool_query(r->gw->pool, Q_WF_RUN_START_TEMPLATE, 5, params, start_done, r);
    } else {
        const char *params[4] = {def_text, input_text ? input_text : "{}", key, conversation};
        rc = pgpool_query(r->gw->pool, Q_WF_RUN_START, 4, params, start_done, r);
    }
    if (rc < 0)
        request_unavailable(r);
done:
    free(def_text);
    free(input_text);
}

/* GET /api/workflows/runs/:id — the run, its definition and its steps. */
void wf_run_get(struct request *r)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    const char *params[1] = {id};
    request_query_body(r, Q_WF_RUN_GET, 1, params, 200);
}

/* GET /api/workflows/runs?status=&template=&limit=&cursor= — newest first, without steps. */
void wf_runs_list(struct request *r)
{
    const char *status = request_query_param(r, "status");
    const char *tname = request_query_param(r, "template");
    bool known = !status;
    for (int i = 0; status && run_statuses[i]; i++)
        known |= strcmp(status, run_statuses[i]) == 0;
    if (!known) {
        request_error(r, 400, "invalid_field", "status",
                      "status must be pending, running, paused, completed, failed or cancelled");
        return;
    }
    if (tname && wf_check_template_name(r, tname, "template") < 0)
        return;
    struct page_query pq;
    if (request_page_query(r, WF_LIST_LIMIT_DEFAULT, WF_LIST_LIMIT_MAX, true, &pq) < 0)
        return;
    const char *params[5] = {status, tname, pq.cursor, pq.limit, r->gw->response_budget};
    request_query_body(r, Q_WF_RUNS_LIST, 5, params, 200);
}

/* The request of an answer about run rr->id, or NULL having answered r: a failed statement,
 * or 404 when it found no such run (no row). */
static struct run_req *run_answered(struct request *r, const PGresult *res)
{
    return wf_run_found(r, res) ? request_ctx(r, &run_req_ctx) : NULL;
}

static void control_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    struct run_req *rr = run_answered(r, res);
    if (!rr)
        return;
    if (PQgetvalue(res, 0, 0)[0] != 't') {
        const char *from = strcmp(rr->action, "resume") == 0  ? "a paused"
                           : strcmp(rr->action, "retry") == 0 ? "a failed"
                           : strcmp(rr->action, "pause") == 0 ? "a running"
                                                              : "an unfinished";
        request_error(r, 409, "conflict", "status", "workflow run %s is %s: only %s run can %s",
                      rr->id, PQgetvalue(res, 0, 1), from, rr->action);
        return;
    }
    request_reply(r, 200, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
}

void wf_run_control(struct request *r, int query, const char *action)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    struct run_req *rr = run_req_new(r);
    if (!rr)
        return;
    snprintf(rr->id, sizeof(rr->id), "%s", id);
    rr->action = action;
    const char *params[2] = {id, action};
    if (pgpool_query(r->gw->pool, query, 2, params, control_done, r) < 0)
        request_unavailable(r);
}

void wf_run_cancel(struct request *r) { wf_run_control(r, Q_WF_RUN_CONTROL, "cancel"); }
void wf_run_pause(struct request *r) { wf_run_control(r, Q_WF_RUN_CONTROL, "pause"); }
void wf_run_resume(struct request *r) { wf_run_control(r, Q_WF_RUN_CONTROL, "resume"); }
void wf_run_retry(struct request *r) { wf_run_control(r, Q_WF_RUN_CONTROL, "retry"); }

static void signal_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    struct run_req *rr = run_answered(r, res);
    if (!rr)
        return;
    const char *outcome = PQgetvalue(res, 0, 0);
    if (strcmp(outcome, "finished") == 0) {
        request_error(r, 409, "conflict", "status",
                      "workflow run %s is %s: only an unfinished run takes signals", rr->id,
                      PQgetvalue(res, 0, 1));
        return;
    }
    if (strcmp(outcome, "not_waiting") == 0) {
        request_error(r, 409, "conflict", "name",
                      "no step of workflow run %s waits for signal '%s' (or every step that "
                      "will already has one kept for it)",
                      rr->id, rr->name);
        return;
    }
    /* delivered: a waiting step completed; kept: a wait step that has not started will take it. */
    request_reply(r, strcmp(outcome, "delivered") == 0 ? 200 : 202, PQgetvalue(res, 0, 2),
                  (size_t)PQgetlength(res, 0, 2));
}

/* POST /api/workflows/runs/:id/signal {name, payload?} — completes the first step waiting
 * for signal name with payload as its output (200), or keeps it for a wait step of the run
 * that has not started yet (202); 409 when no step waits for it or the run has finished. */
void wf_run_signal(struct request *r)
{
    char id[24];
    struct field_error err;
    const char *name = NULL;
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    if (json_get_string(r->body, "name", true, 1, WFDEF_SIGNAL_MAX, &name, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    if (!json_is_identifier(name, WFDEF_SIGNAL_MAX)) {
        request_error(r, 400, "invalid_field", "name",
                      "name must be 1 to %d characters of letters, digits, '_', '.' or '-'",
                      WFDEF_SIGNAL_MAX);
        return;
    }
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(r->body, "payload");
    char *payload_text = payload ? json_print(payload) : NULL;
    if (payload && !payload_text) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    struct run_req *rr = run_req_new(r);
    if (rr) {
        snprintf(rr->id, sizeof(rr->id), "%s", id);
        snprintf(rr->name, sizeof(rr->name), "%s", name);
        const char *params[3] = {id, name, payload_text ? payload_text : "{}"};
        if (pgpool_query(r->gw->pool, Q_WF_RUN_SIGNAL, 3, params, signal_done, r) < 0)
            request_unavailable(r);
    }
    free(payload_text);
}
