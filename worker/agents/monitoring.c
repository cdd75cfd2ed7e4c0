/* monitoring — the agent that checks health and metrics and sends alerts:
 * health_check (the gateway's health report and the problems in it),
 * check_metrics (job statistics against thresholds) and send_alert (an alert
 * event plus webhooks). The work lives in worker/agents/monitoring/; see
 * docs/agents/monitoring.md. */
#include "worker/agents/monitoring/tasks.h"
#include "worker/runtime/agent.h"

static const char *const capabilities[] = {"monitoring", "alerting", "health_checks", NULL};

static const struct task_def tasks[] = {
    {"health_check", monitor_health_check_run},
    {"check_metrics", monitor_check_metrics_run},
    {"send_alert", monitor_send_alert_run},
};

static const struct agent_def agent = {
    .name = "monitoring",
    .capabilities = capabilities,
    .tasks = tasks,
    .ntasks = sizeof(tasks) / sizeof(tasks[0]),
};

int main(int argc, char **argv) { return runtime_main(&agent, argc, argv); }
