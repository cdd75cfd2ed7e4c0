/* learning — the agent that learns from feedback and job history.
 * Its tasks arrive with the agents issue; until then it runs the runtime's built-in ping
 * and fails every other task type as unknown (without retry). */
#include "worker/runtime/agent.h"

static const char *const capabilities[] = {"learning", "pattern_recognition", "performance_optimization", NULL};

static const struct agent_def agent = {
    .name = "learning",
    .capabilities = capabilities,
    .tasks = NULL,
    .ntasks = 0,
};

int main(int argc, char **argv) { return runtime_main(&agent, argc, argv); }
