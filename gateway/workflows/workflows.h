/* workflows — what the workflow routes (templates.c, runs.c) share: limits, the checks of a
 * template's name and of a definition, and the answer of a statement that may have created
 * its row. The engine itself is SQL (sql/006_workflows.sql); definitions are checked by
 * wfdef. */
#ifndef FLOWSTATE_WORKFLOWS_H
#define FLOWSTATE_WORKFLOWS_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "common/json.h"

struct request;

#define WF_NAME_MAX 100 /* a template's name: letters, digits, '_', '.', '-' */
#define WF_KEY_MAX 200  /* idempotencyKey, conversationId */
#define WF_LIST_LIMIT_DEFAULT 50
#define WF_LIST_LIMIT_MAX 500

/* Checks a template name read from field (body field or path parameter). Returns 0, or -1
 * having answered 400 naming field. name may be NULL. */
int wf_check_template_name(struct request *r, const char *name, const char *field);

/* Checks definition def (wfdef), compiles its routing rules into `when`s (routing.h) and
 * prints the result: the text (caller frees), or NULL with err naming the step and field
 * (err->field empty: out of memory). */
char *wf_definition_compile(const cJSON *def, struct field_error *err);

/* Checks definition def (wfdef), compiles its routing rules into `when`s (routing.h) and
 * prints the result: the text (caller frees), or NULL having answered r (400 naming the step
 * and field; 500 out of memory). */
char *wf_definition_text(struct request *r, const cJSON *def);

/* Answers r from a statement's one row (created, body): 201 when created, else 200; a failed
 * statement or no row as request_db_error does. */
void wf_reply_created(struct request *r, const PGresult *res);
/* Whether res (a statement about the run in the path's :id) holds a row; otherwise answers r
 * (a failed statement, or 404 naming the run) and returns false. */
bool wf_run_found(struct request *r, const PGresult *res);

/* Cancels, pauses, resumes or retries (action) the run of path parameter "id" with query
 * (Q_WF_RUN_CONTROL, or Q_WF_SEED_CONTROL for seed 003's shape: applied, before, run):
 * answers 200 with the run, 404 no such run, 409 not from its status. */
void wf_run_control(struct request *r, int query, const char *action);

#endif
