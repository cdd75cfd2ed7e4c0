/* workflows — what the workflow routes share (workflows.h). */
#include "gateway/workflows/workflows.h"

#include <stdlib.h>

#include "common/json.h"
#include "common/json_print.h"
#include "gateway/http/request.h"
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

char *wf_definition_text(struct request *r, const cJSON *def)
{
    struct field_error err;
    if (wfdef_validate(def, &err) < 0) {
        if (!err.field[0])
            request_error(r, 500, "internal", NULL, "out of memory");
        else
            request_field_error(r, &err);
        return NULL;
    }
    char *text = json_print(def);
    if (!text)
        request_error(r, 500, "internal", NULL, "out of memory");
    return text;
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
