/* workflows — what the workflow routes (templates.c, runs.c) share: limits, the checks of a
 * template's name and of a definition, and the answer of a statement that may have created
 * its row. The engine itself is SQL (sql/006_workflows.sql); definitions are checked by
 * wfdef. */
#ifndef FLOWSTATE_WORKFLOWS_H
#define FLOWSTATE_WORKFLOWS_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>

struct request;

#define WF_NAME_MAX 100 /* a template's name: letters, digits, '_', '.', '-' */
#define WF_KEY_MAX 200  /* idempotencyKey, conversationId */
#define WF_LIST_LIMIT_DEFAULT 50
#define WF_LIST_LIMIT_MAX 500

/* Checks a template name read from field (body field or path parameter). Returns 0, or -1
 * having answered 400 naming field. name may be NULL. */
int wf_check_template_name(struct request *r, const char *name, const char *field);

/* Checks definition def (wfdef), compiles its routing rules into `when`s (routing.h) and
 * prints the result: the text (caller frees), or NULL having answered r (400 naming the step
 * and field; 500 out of memory). */
char *wf_definition_text(struct request *r, const cJSON *def);

/* Answers r from a statement's one row (created, body): 201 when created, else 200; a failed
 * statement or no row as request_db_error does. */
void wf_reply_created(struct request *r, const PGresult *res);

#endif
