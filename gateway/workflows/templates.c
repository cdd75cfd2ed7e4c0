/* templates — stored workflow definitions by name, each change a new version
 * (workflow_templates, sql/006_workflows.sql). A run copies the definition it starts from,
 * so changing or deleting a template never touches a run already started. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/workflows/workflows.h"

#define DESCRIPTION_MAX 1000

/* The template of a create or put, for the answer's messages. */
struct template_write {
    char name[WF_NAME_MAX + 1];
};

static const struct request_ctx_type template_write_ctx = {"workflow template write", NULL};

/* Reads and checks {definition, description?} from the body: the definition's text (caller
 * frees), or NULL having answered r. */
static char *definition_text(struct request *r, const char **description)
{
    struct field_error err;
    cJSON *def = cJSON_GetObjectItemCaseSensitive(r->body, "definition");
    *description = NULL;
    if (json_get_string(r->body, "description", false, 0, DESCRIPTION_MAX, description, &err) < 0) {
        request_field_error(r, &err);
        return NULL;
    }
    if (!def) {
        request_error(r, 400, "invalid_field", "definition", "definition is required");
        return NULL;
    }
    return wf_definition_text(r, def);
}

static void create_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    struct template_write *tw = request_ctx(r, &template_write_ctx);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    if (PQntuples(res) == 0) {
        request_error(r, 409, "conflict", "name",
                      "template '%s' exists: PUT /api/workflows/templates/%s adds a version",
                      tw->name, tw->name);
        return;
    }
    request_reply(r, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* POST /api/workflows/templates {name, definition, description?} → 201 with version 1. */
void wf_templates_create(struct request *r)
{
    struct field_error err;
    const char *name = NULL, *description = NULL;
    if (json_get_string(r->body, "name", true, 1, WF_NAME_MAX, &name, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    if (wf_check_template_name(r, name, "name") < 0)
        return;
    char *def = definition_text(r, &description);
    if (!def)
        return;
    struct template_write *tw = request_ctx_new(r, &template_write_ctx, sizeof(*tw));
    if (!tw) {
        free(def);
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    snprintf(tw->name, sizeof(tw->name), "%s", name);
    const char *params[3] = {name, def, description};
    if (pgpool_query(r->gw->pool, Q_WF_TEMPLATE_CREATE, 3, params, create_done, r) < 0)
        request_unavailable(r);
    free(def);
}

static void put_done(PGresult *res, void *arg) { wf_reply_created(arg, res); }

/* PUT /api/workflows/templates/:name {definition, description?} → the next version (201
 * when it is the first). */
void wf_template_put(struct request *r)
{
    const char *name = router_param(&r->match, "name");
    const char *description = NULL;
    if (wf_check_template_name(r, name, "name") < 0)
        return;
    char *def = definition_text(r, &description);
    if (!def)
        return;
    const char *params[3] = {name, def, description};
    if (pgpool_query(r->gw->pool, Q_WF_TEMPLATE_PUT, 3, params, put_done, r) < 0)
        request_unavailable(r);
    free(def);
}

/* GET /api/workflows/templates/:name?version=N (default: the latest). */
void wf_template_get(struct request *r)
{
    const char *name = router_param(&r->match, "name");
    if (wf_check_template_name(r, name, "name") < 0)
        return;
    long version = 0;
    int has_version = request_query_int(r, "version", 1, 0x7fffffff, &version);
    if (has_version < 0)
        return;
    char version_text[16];
    snprintf(version_text, sizeof(version_text), "%ld", version);
    const char *params[2] = {name, has_version ? version_text : NULL};
    request_query_body(r, Q_WF_TEMPLATE_GET, 2, params, 200);
}

/* DELETE /api/workflows/templates/:name: every version. */
void wf_template_delete(struct request *r)
{
    const char *name = router_param(&r->match, "name");
    if (wf_check_template_name(r, name, "name") < 0)
        return;
    const char *params[1] = {name};
    request_query_body(r, Q_WF_TEMPLATE_DELETE, 1, params, 200);
}

/* GET /api/workflows/templates?limit=&cursor= — the latest version of each, newest first. */
void wf_templates_list(struct request *r)
{
    struct page_query pq;
    if (request_page_query(r, WF_LIST_LIMIT_DEFAULT, WF_LIST_LIMIT_MAX, true, &pq) < 0)
        return;
    const char *params[3] = {pq.cursor, pq.limit, r->gw->response_budget};
    request_query_body(r, Q_WF_TEMPLATES_LIST, 3, params, 200);
}
