/* workflows — what the workflow routes (templates.c, runs.c) share: limits and the check of
 * a template's name. The engine itself is SQL (sql/006_workflows.sql); definitions are
 * checked by wfdef. */
#ifndef FLOWSTATE_WORKFLOWS_H
#define FLOWSTATE_WORKFLOWS_H

struct request;

#define WF_NAME_MAX 100 /* a template's name: letters, digits, '_', '.', '-' */
#define WF_KEY_MAX 200  /* idempotencyKey, conversationId */
#define WF_LIST_LIMIT_DEFAULT 50
#define WF_LIST_LIMIT_MAX 500

/* Checks a template name read from field (body field or path parameter). Returns 0, or -1
 * having answered 400 naming field. name may be NULL. */
int wf_check_template_name(struct request *r, const char *name, const char *field);

#endif
