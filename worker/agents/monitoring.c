/* monitoring — the agent that checks health and metrics and sends alerts.
 * Its tasks arrive with the agents issue; until then it runs the runtime's built-in ping
 * and fails every other task type as unknown (without retry). */
#include "worker/runtime/agent.h"

static const char *const capabilities[] = {"monitoring", "alerting", "health_checks", NULL};

static const struct agent_def agent = {
    .name = "monitoring",
    .capabilities = capabilities,
    .tasks = NULL,
    .ntasks = 0,
};

int main(int argc, char **argv) { return runtime_main(&agent, argc, argv); }
