/* rules — the monitoring agent's judgements, kept free of I/O so they are
 * unit-tested: which parts of a health report are problems, which metrics cross
 * their thresholds, how webhook URLs are listed and when a webhook delivery is
 * worth another try. */
#ifndef FLOWSTATE_MONITORING_RULES_H
#define FLOWSTATE_MONITORING_RULES_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/backoff.h"

#define MONITOR_QUEUE_DEPTH_DEFAULT 1000
#define WEBHOOK_TRIES 3
#define WEBHOOK_BACKOFF_MIN_MS 200
#define WEBHOOK_BACKOFF_MAX_MS 2000
#define WEBHOOK_MAX 16
#define WEBHOOK_URL_MAX 1024

/* Problems found in a POST /system/health-check report: one object {kind,
 * severity, agent?, message, ...} per stale agent ("stale_agent"), for expired
 * leases
 * ("expired_leases") and per agent whose pending jobs exceed max_queue_depth
 * ("queue_depth"). Returns a new array (caller frees), NULL when out of memory.
 */
cJSON *monitor_health_problems(const cJSON *report, long max_queue_depth);

/* Thresholds of check_metrics; a negative one is not checked. */
struct metric_limits {
    double max_error_rate; /* failed / finished, 0..1 */
    double max_p99_ms;     /* run-time p99 */
};

/* Alerts for the groups of a GET /api/stats/jobs answer (overall, then byTask)
 * whose failure rate or run-time p99 exceed limits: {metric, scope, agent?,
 * taskType?, value, threshold, severity, message}. Returns a new array (caller
 * frees), NULL when out of memory. */
cJSON *monitor_metric_alerts(const cJSON *stats, const struct metric_limits *limits);

/* Splits a comma-separated FLOWSTATE_ALERT_WEBHOOKS value into trimmed,
 * non-empty URLs copied into urls[i] (each WEBHOOK_URL_MAX bytes). Returns how
 * many (at most max), or -1 when one does not start with http:// or https:// or
 * is too long (*bad gets its index). */
int monitor_webhooks_parse(const char *list, char urls[][WEBHOOK_URL_MAX], int max, int *bad);

/* The waits between a webhook's tries: fills delays[0..WEBHOOK_TRIES-2] from b
 * (initialised with WEBHOOK_BACKOFF_MIN_MS..WEBHOOK_BACKOFF_MAX_MS by the
 * caller). */
void monitor_webhook_schedule(struct backoff *b, long delays[WEBHOOK_TRIES - 1]);

#endif
