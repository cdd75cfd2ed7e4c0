/* code_analyzer — the agent that analyses source code: metrics, bugs, optimisations.
 * Its tasks arrive with the agents issue; until then it runs the runtime's built-in ping
 * and fails every other task type as unknown (without retry). */
#include "worker/runtime/agent.h"

static const char *const capabilities[] = {"code_analysis", "optimization", "bug_detection", NULL};

static const struct agent_def agent = {
    .name = "code_analyzer",
    .capabilities = capabilities,
    .tasks = NULL,
    .ntasks = 0,
};

int main(int argc, char **argv) { return runtime_main(&agent, argc, argv); }
