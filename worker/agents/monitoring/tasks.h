/* tasks — the monitoring agent's task handlers (docs/agents/monitoring.md). */
#ifndef FLOWSTATE_MONITORING_TASKS_H
#define FLOWSTATE_MONITORING_TASKS_H

#include "worker/runtime/agent.h"

int monitor_health_check_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);
int monitor_check_metrics_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);
int monitor_send_alert_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);

#endif
