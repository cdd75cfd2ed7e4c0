/* workflows — what the workflow routes share (workflows.h). */
#include "gateway/workflows/workflows.h"

#include <stdlib.h>

#include "common/json.h"
#include "common/json_print.h"
#include "gateway/http/request.h"
#include "gateway/workflows/routing.h"
#include "gateway/workflows/wfdef.h"

int wf_check_template_name(struct request *r, const char *name, const char *field)
{
    if (!name || !json_is_identifier(name, WF_NAME_MAX)) {
        request_error(r, 400, "invalid_field", field,
                      "%s must be 1 to %d characters of letters, digits, '_', '.' or '-'", field,
                      WF_NAME_MAX);
        return -1;
    }
    return 0;
}

char *wf_definition_compile(const cJSON *def, struct field_error *err)
{
    cJSON *compiled = NULL;
    char *text = NULL;
    int rc = wfdef_validate(def, err);
    if (rc == 0) {
        compiled = cJSON_Duplicate(def, true);
        rc = compiled ? wf_routing_compile(compiled, err) : (err->field[0] = '\0', -1);
        if (rc > 0) /* the routed children's new `when`s */
            rc = wfdef_validate(compiled, err);
    }
    if (rc == 0 && !(text = json_print(compiled)))
        err->field[0] = '\0';
    cJSON_Delete(compiled);
    return text;
}

char *wf_definition_text(struct request *r, const cJSON *def)
{
    struct field_error err;
    char *text = wf_definition_compile(def, &err);
    if (!text && !err.field[0])
        request_error(r, 500, "internal", NULL, "out of memory");
    else if (!text)
        request_field_error(r, &err);
    return text;
}

bool wf_run_found(struct request *r, const PGresult *res)
{
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return false;
    }
    if (PQntuples(res) == 0) {
        request_error(r, 404, "not_found", "id", "no workflow run %s",
                      router_param(&r->match, "id"));
        return false;
    }
    return true;
}

void wf_reply_created(struct request *r, const PGresult *res)
{
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        request_db_error(r, res);
        return;
    }
    bool created = PQgetvalue(res, 0, 0)[0] == 't';
    request_reply(r, created ? 201 : 200, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}
