/* tasks — health_check (the gateway's health report plus the problems in it),
 * check_metrics (job statistics against thresholds) and send_alert (an alert
 * event, then every configured webhook with retries). Each reads payload.data;
 * bad input fails without retry, an unreachable gateway with retry. */
#include "worker/agents/monitoring/tasks.h"
#include "common/http_status.h"
#include "common/json_print.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/config.h"
#include "common/http_client.h"
#include "common/json.h"
#include "worker/agents/monitoring/rules.h"

#define WINDOW_DEFAULT 3600
#define WINDOW_MAX 2592000
#define WEBHOOK_TIMEOUT_MS 10000

static int bad_field(struct task_outcome *out, const struct field_error *err)
{
    return task_fail(out, false, "data.%s", err->message);
}

/* A number within [min, max]; 1 set, 0 absent, -1 error (out filled). */
static int get_number(const cJSON *data, const char *name, double min, double max, double *v,
                      struct task_outcome *out)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(data, name);
    if (!n || cJSON_IsNull(n))
        return 0;
    if (!cJSON_IsNumber(n) || n->valuedouble < min || n->valuedouble > max) {
        snprintf(out->error, sizeof(out->error), "data.%s must be a number from %g to %g", name,
                 min, max);
        out->retryable = false;
        return -1;
    }
    *v = n->valuedouble;
    return 1;
}

int monitor_health_check_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct field_error err;
    long max_depth = MONITOR_QUEUE_DEPTH_DEFAULT;
    if (json_get_int(task_data(payload), "maxQueueDepth", false, 0, 1000000000L, &max_depth, &err) <
        0)
        return bad_field(out, &err);
    int status;
    cJSON *report = task_gateway_json(ctx, "POST", "/system/health-check", NULL, &status, out);
    if (status == 0)
        return -1;
    if (status != 200 || !cJSON_IsObject(report)) {
        int rc = task_refused(out, "POST /system/health-check", status, report);
        cJSON_Delete(report);
        return rc;
    }
    cJSON *problems = monitor_health_problems(report, max_depth);
    cJSON *r = cJSON_CreateObject();
    if (!problems || !r) {
        cJSON_Delete(problems);
        cJSON_Delete(r);
        cJSON_Delete(report);
        return task_fail(out, true, "out of memory while building the result");
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(report, "status");
    const char *gw_status = cJSON_IsString(st) ? st->valuestring : "unknown";
    int n = cJSON_GetArraySize(problems);
    bool healthy = n == 0 && strcmp(gw_status, "healthy") == 0;
    char summary[256];
    snprintf(summary, sizeof(summary), "system %s: %d problem%s (queue depth limit %ld)",
             healthy ? "healthy" : "needs attention", n, n == 1 ? "" : "s", max_depth);
    cJSON_AddStringToObject(r, "status", healthy ? "healthy" : (n > 0 ? "degraded" : gw_status));
    cJSON_AddBoolToObject(r, "healthy", healthy);
    cJSON_AddNumberToObject(r, "maxQueueDepth", (double)max_depth);
    cJSON_AddItemToObject(r, "problems", problems);
    cJSON_AddItemToObject(r, "report", report);
    cJSON_AddStringToObject(r, "summary", summary);
    out->result = r;
    return 0;
}

static cJSON *dup_item(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return v ? cJSON_Duplicate(v, true) : cJSON_CreateNull();
}

int monitor_check_metrics_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct field_error err;
    const cJSON *data = task_data(payload);
    long window = WINDOW_DEFAULT;
    const char *agent = NULL;
    struct metric_limits limits = {-1, -1};
    if (json_get_int(data, "window", false, 1, WINDOW_MAX, &window, &err) < 0 ||
        json_get_string(data, "agent", false, 1, 100, &agent, &err) < 0)
        return bad_field(out, &err);
    if (agent && !json_is_identifier(agent, 100))
        return task_fail(out, false, "data.agent must be letters, digits, '_', '.' or '-'");
    if (get_number(data, "maxErrorRate", 0, 1, &limits.max_error_rate, out) < 0 ||
        get_number(data, "maxP99Ms", 0, 1e12, &limits.max_p99_ms, out) < 0)
        return -1;
    char path[200];
    snprintf(path, sizeof(path), "/api/stats/jobs?window=%ld%s%s", window, agent ? "&agent=" : "",
             agent ? agent : "");
    int status;
    cJSON *stats = task_gateway_json(ctx, "GET", path, NULL, &status, out);
    if (status == 0)
        return -1;
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(stats, "overall");
    if (status != 200 || !cJSON_IsObject(overall)) {
        int rc = task_refused(out, "GET /api/stats/jobs", status, stats);
        cJSON_Delete(stats);
        return rc;
    }
    cJSON *alerts = monitor_metric_alerts(stats, &limits);
    cJSON *r = cJSON_CreateObject(), *lat = cJSON_CreateObject(), *thr = cJSON_CreateObject();
    if (!alerts || !r || !lat || !thr) {
        cJSON_Delete(alerts), cJSON_Delete(r), cJSON_Delete(lat), cJSON_Delete(thr),
            cJSON_Delete(stats);
        return task_fail(out, true, "out of memory while building the result");
    }
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(overall, "failureRate");
    const cJSON *tput = cJSON_GetObjectItemCaseSensitive(overall, "throughputPerMin");
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(overall, "finished");
    cJSON_AddNumberToObject(r, "window", (double)window);
    if (agent)
        cJSON_AddStringToObject(r, "agent", agent);
    else
        cJSON_AddNullToObject(r, "agent");
    cJSON_AddItemToObject(r, "total", dup_item(overall, "total"));
    cJSON_AddItemToObject(r, "finished", dup_item(overall, "finished"));
    cJSON_AddItemToObject(r, "throughputPerMin", dup_item(overall, "throughputPerMin"));
    cJSON_AddItemToObject(r, "errorRate", dup_item(overall, "failureRate"));
    cJSON_AddItemToObject(lat, "queueWait", dup_item(overall, "queueWaitMs"));
    cJSON_AddItemToObject(lat, "runTime", dup_item(overall, "runTimeMs"));
    cJSON_AddItemToObject(r, "latencyMs", lat);
    if (limits.max_error_rate >= 0)
        cJSON_AddNumberToObject(thr, "maxErrorRate", limits.max_error_rate);
    if (limits.max_p99_ms >= 0)
        cJSON_AddNumberToObject(thr, "maxP99Ms", limits.max_p99_ms);
    cJSON_AddItemToObject(r, "thresholds", thr);
    cJSON_AddItemToObject(r, "byTask", dup_item(stats, "byTask"));
    int n = cJSON_GetArraySize(alerts);
    cJSON_AddItemToObject(r, "alerts", alerts);
    char summary[300];
    snprintf(summary, sizeof(summary),
             "%s over %lds: %.0f finished, %.4g/min, error rate %.4g; %d alert%s",
             agent ? agent : "all agents", window, cJSON_IsNumber(fin) ? fin->valuedouble : 0,
             cJSON_IsNumber(tput) ? tput->valuedouble : 0,
             cJSON_IsNumber(rate) ? rate->valuedouble : 0, n, n == 1 ? "" : "s");
    cJSON_AddStringToObject(r, "summary", summary);
    cJSON_Delete(stats);
    out->result = r;
    return 0;
}

static const char *const severities[] = {"info", "warning", "error", "critical"};

/* One webhook, up to WEBHOOK_TRIES tries with backoff between retryable
 * failures. Returns its outcome {url, ok, status, attempts, error?}; *ok says
 * whether it accepted. */
static cJSON *deliver(struct task_ctx *ctx, const char *url, const char *body, bool *ok)
{
    struct backoff b;
    long delays[WEBHOOK_TRIES - 1];
    backoff_init(&b, WEBHOOK_BACKOFF_MIN_MS, WEBHOOK_BACKOFF_MAX_MS);
    monitor_webhook_schedule(&b, delays);
    struct http_response resp = {0};
    int status = 0, tries = 0;
    char error[300] = "";
    struct http_client *hc = http_client_new(url, "", WEBHOOK_TIMEOUT_MS);
    if (!hc) {
        snprintf(error, sizeof(error), "out of memory");
    } else {
        for (;;) {
            tries++;
            status = http_client_send(hc, "POST", "", body, &resp);
            if (status >= 200 && status < 300)
                break;
            if (status == 0)
                snprintf(error, sizeof(error), "%s", resp.error);
            else
                snprintf(error, sizeof(error), "HTTP %d", status);
            if (!http_status_retryable(status) || tries >= WEBHOOK_TRIES ||
                !task_sleep(ctx, delays[tries - 1]))
                break;
        }
    }
    http_client_free(hc);
    *ok = status >= 200 && status < 300;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "url", url);
    cJSON_AddBoolToObject(o, "ok", *ok);
    if (status)
        cJSON_AddNumberToObject(o, "status", status);
    else
        cJSON_AddNullToObject(o, "status");
    cJSON_AddNumberToObject(o, "attempts", tries);
    if (!*ok)
        cJSON_AddStringToObject(o, "error", error);
    return o;
}

int monitor_send_alert_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    struct field_error err;
    const cJSON *data = task_data(payload);
    const char *title = NULL, *message = NULL, *severity = "warning";
    cJSON *details = NULL;
    if (json_get_string(data, "title", true, 1, 200, &title, &err) < 0 ||
        json_get_string(data, "message", true, 1, 10000, &message, &err) < 0 ||
        json_get_string(data, "severity", false, 1, 16, &severity, &err) < 0 ||
        json_get_object(data, "details", false, &details, &err) < 0)
        return bad_field(out, &err);
    bool known = false;
    for (size_t i = 0; i < sizeof(severities) / sizeof(severities[0]); i++)
        known = known || strcmp(severity, severities[i]) == 0;
    if (!known)
        return task_fail(out, false, "data.severity must be one of info, warning, error, critical");
    char(*list)[WEBHOOK_URL_MAX] = calloc(WEBHOOK_MAX, WEBHOOK_URL_MAX);
    if (!list)
        return task_fail(out, true, "out of memory");
    int bad = 0;
    int nurls = monitor_webhooks_parse(config_str(task_config(ctx), CFG_ALERT_WEBHOOKS), list,
                                       WEBHOOK_MAX, &bad);
    if (nurls < 0) {
        free(list);
        snprintf(out->error, sizeof(out->error),
                 "FLOWSTATE_ALERT_WEBHOOKS: URL %d must start with http:// or "
                 "https:// (and be shorter than %d bytes)",
                 bad + 1, WEBHOOK_URL_MAX);
        out->retryable = false;
        return -1;
    }

    /* 1. The alert event. */
    cJSON *ev = cJSON_CreateObject(), *ev_data;
    cJSON_AddStringToObject(ev, "type", "alert");
    cJSON_AddStringToObject(ev, "severity", severity);
    cJSON_AddStringToObject(ev, "agentName", ctx->agent);
    cJSON_AddNumberToObject(ev, "jobId", (double)ctx->job_id);
    ev_data = cJSON_AddObjectToObject(ev, "data");
    cJSON_AddStringToObject(ev_data, "title", title);
    cJSON_AddStringToObject(ev_data, "message", message);
    cJSON_AddItemToObject(ev_data, "details",
                          details ? cJSON_Duplicate(details, true) : cJSON_CreateObject());
    int status;
    cJSON *stored = task_gateway_json(ctx, "POST", "/api/events", ev, &status, out);
    cJSON_Delete(ev);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(stored, "id");
    double event_id = cJSON_IsNumber(id) ? id->valuedouble : 0;
    if (status != 201 || event_id <= 0) {
        int rc =
            status ? task_refused(out, "storing the alert event (POST /api/events)", status, stored)
                   : -1;
        cJSON_Delete(stored);
        free(list);
        return rc;
    }
    cJSON_Delete(stored);

    /* 2. The webhooks. */
    cJSON *alert = cJSON_CreateObject();
    cJSON_AddStringToObject(alert, "type", "alert");
    cJSON_AddNumberToObject(alert, "eventId", event_id);
    cJSON_AddStringToObject(alert, "title", title);
    cJSON_AddStringToObject(alert, "message", message);
    cJSON_AddStringToObject(alert, "severity", severity);
    cJSON_AddItemToObject(alert, "details",
                          details ? cJSON_Duplicate(details, true) : cJSON_CreateObject());
    cJSON_AddStringToObject(alert, "agent", ctx->agent);
    cJSON_AddNumberToObject(alert, "jobId", (double)ctx->job_id);
    char *body = json_print(alert);
    cJSON_Delete(alert);
    cJSON *r = cJSON_CreateObject();
    if (!body || !r) {
        free(body), free(list), cJSON_Delete(r);
        return task_fail(out, true, "out of memory");
    }
    cJSON *hooks = cJSON_AddArrayToObject(r, "webhooks");
    int delivered = 0;
    for (int i = 0; i < nurls && !task_should_stop(ctx); i++) {
        bool ok;
        cJSON_AddItemToArray(hooks, deliver(ctx, list[i], body, &ok));
        delivered += ok;
    }
    free(body);
    free(list);
    char summary[300];
    if (nurls == 0)
        snprintf(summary, sizeof(summary),
                 "%s alert stored as event %.0f; no webhooks configured "
                 "(FLOWSTATE_ALERT_WEBHOOKS)",
                 severity, event_id);
    else
        snprintf(summary, sizeof(summary),
                 "%s alert stored as event %.0f; delivered to %d of %d webhook%s", severity,
                 event_id, delivered, nurls, nurls == 1 ? "" : "s");
    if (nurls > 0 && delivered == 0) {
        char *outcomes = json_print(hooks);
        snprintf(out->error, sizeof(out->error), "every webhook failed: %s",
                 outcomes ? outcomes : "");
        free(outcomes);
        cJSON_Delete(r);
        out->retryable = true;
        return -1;
    }
    cJSON_AddNumberToObject(r, "eventId", event_id);
    cJSON_AddStringToObject(r, "severity", severity);
    cJSON_AddStringToObject(r, "title", title);
    cJSON_AddNumberToObject(r, "delivered", delivered);
    cJSON_AddNumberToObject(r, "configured", nurls);
    if (nurls == 0)
        cJSON_AddStringToObject(r, "note",
                                "no webhooks configured: set "
                                "FLOWSTATE_ALERT_WEBHOOKS to deliver alerts");
    cJSON_AddStringToObject(r, "summary", summary);
    out->result = r;
    return 0;
}
