/* events — the events routes. POST /api/events: an operator-visible event written by an
 * agent or a person (the monitoring agent's alerts), beside the lifecycle events the
 * database writes itself. Body {type, severity?, agentName?, jobId?, data?}; answers 201
 * with the stored event. GET /api/events lists the stored events, newest first, and GET
 * /api/events/stream follows them live (gateway/events/stream.c), both with the filters of
 * gateway/events/evfilter.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_print.h"
#include "gateway/db/queries.h"
#include "gateway/events/evfilter.h"
#include "gateway/events/stream.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"

#define EVENT_TYPE_MAX EVFILTER_TYPE_MAX
#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 500

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

/* Parses the filter query parameters into f. Returns 0, or -1 having answered 400. */
static int read_filter(struct request *r, struct evfilter *f)
{
    struct evfilter_params p = {
        .channel = request_query_param(r, "channel"),
        .type = request_query_param(r, "type"),
        .agent = request_query_param(r, "agent"),
        .job_id = request_query_param(r, "jobId"),
        .run_id = request_query_param(r, "runId"),
        .conversation_id = request_query_param(r, "conversationId"),
    };
    struct evfilter_error err;
    if (evfilter_parse(f, &p, &err) == 0)
        return 0;
    request_error(r, 400, "invalid_field", err.field, "%s", err.message);
    return -1;
}

/* GET /api/events?channel=&type=&agent=&jobId=&runId=&conversationId=&limit=&cursor= */
void events_list(struct request *r)
{
    struct evfilter f;
    struct page_query pq;
    if (read_filter(r, &f) < 0 ||
        request_page_query(r, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, true, &pq) < 0)
        return;
    char channels[EVFILTER_ARRAY_MAX], types[EVFILTER_ARRAY_MAX], job[24];
    snprintf(job, sizeof(job), "%lld", f.job_id);
    const char *params[9] = {evfilter_sql_array(&f, 0, channels, sizeof(channels)),
                             evfilter_sql_array(&f, 1, types, sizeof(types)),
                             f.agent[0] ? f.agent : NULL,
                             f.job_id ? job : NULL,
                             f.run_id[0] ? f.run_id : NULL,
                             f.conversation_id[0] ? f.conversation_id : NULL,
                             pq.cursor,
                             pq.limit,
                             r->gw->response_budget};
    request_query_body(r, Q_EVENTS_LIST, 9, params, 200);
}

/* Reads the Last-Event-ID header (what a browser's EventSource sends when it reconnects),
 * else ?lastEventId= (for the first connection): 0 when neither is given, the id, or -1
 * having answered 400. */
static long long read_last_id(struct request *r)
{
    const char *field = "Last-Event-ID";
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(r->req), field);
    if (!v) {
        field = "lastEventId";
        v = request_query_param(r, field);
    }
    if (!v)
        return 0;
    long long id = 0;
    bool ok = *v != '\0' && strlen(v) <= 18;
    for (const char *p = v; ok && *p; p++) {
        ok = *p >= '0' && *p <= '9';
        id = id * 10 + (*p - '0');
    }
    if (!ok || id <= 0) {
        request_error(r, 400, "invalid_field", field,
                      "%s must be the id of an event (a positive integer)", field);
        return -1;
    }
    return id;
}

/* GET /api/events/stream (the same filters, and Last-Event-ID). */
void events_stream(struct request *r)
{
    struct evfilter f;
    if (read_filter(r, &f) < 0)
        return;
    long long last_id = read_last_id(r);
    if (last_id < 0)
        return;
    stream_open(r->gw->streams, r, &f, last_id);
}
