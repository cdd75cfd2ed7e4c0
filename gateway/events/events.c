/* events — POST /api/events: an operator-visible event written by an agent or a
 * person (the monitoring agent's alerts), beside the lifecycle events the
 * database writes itself. Body {type, severity?, agentName?, jobId?, data?};
 * answers 201 with the stored event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_print.h"
#include "gateway/db/queries.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"

#define EVENT_TYPE_MAX 64

static const char *const severities[] = {"info", "warning", "error", "critical"};

void events_create(struct request *r)
{
    struct field_error err;
    const char *type = NULL, *severity = "info", *agent = NULL;
    long job_id = 0;
    cJSON *data = NULL;
    if (json_get_string(r->body, "type", true, 1, EVENT_TYPE_MAX, &type, &err) < 0 ||
        json_get_string(r->body, "severity", false, 1, 16, &severity, &err) < 0 ||
        json_get_string(r->body, "agentName", false, 1, AGENT_NAME_MAX, &agent, &err) < 0 ||
        json_get_int(r->body, "jobId", false, 1, 0x7fffffffffffffffL, &job_id, &err) < 0 ||
        json_get_object(r->body, "data", false, &data, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    if (!json_is_identifier(type, EVENT_TYPE_MAX)) {
        request_error(r, 400, "invalid_field", "type",
                      "type must be 1 to %d characters of letters, digits, '_', '.' or '-'",
                      EVENT_TYPE_MAX);
        return;
    }
    bool known = false;
    for (size_t i = 0; i < sizeof(severities) / sizeof(severities[0]); i++)
        known = known || strcmp(severity, severities[i]) == 0;
    if (!known) {
        request_error(r, 400, "invalid_field", "severity",
                      "severity must be one of info, warning, error, critical");
        return;
    }
    if (agent && request_check_agent_name(r, agent, "agentName") < 0)
        return;
    char *data_text = data ? json_print(data) : strdup("{}");
    if (!data_text) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    char jbuf[24];
    snprintf(jbuf, sizeof(jbuf), "%ld", job_id);
    const char *params[5] = {type, severity, agent, job_id > 0 ? jbuf : NULL, data_text};
    request_query_body(r, Q_EVENT_INSERT, 5, params, 201);
    free(data_text);
}
