/* coordinator — the agent that hands tasks to other agents (delegate_task) and runs
 * ordered multi-step workflows whose steps are delegated jobs (coordinate_workflow). The
 * work lives in worker/agents/coordinator/; see docs/agents/coordinator.md. */
#include "worker/agents/coordinator/tasks.h"
#include "worker/runtime/agent.h"

static const char *const capabilities[] = {"coordination", "workflow_management", "task_delegation",
                                           NULL};

static const struct task_def tasks[] = {
    {"delegate_task", coord_delegate_run},
    {"coordinate_workflow", coord_workflow_run},
};

static const struct agent_def agent = {
    .name = "coordinator",
    .capabilities = capabilities,
    .tasks = tasks,
    .ntasks = sizeof(tasks) / sizeof(tasks[0]),
};

int main(int argc, char **argv) { return runtime_main(&agent, argc, argv); }
