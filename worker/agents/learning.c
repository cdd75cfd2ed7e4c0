/* learning — the agent that learns from feedback and job history:
 * learn_from_feedback (a 'learning' memory plus feedback statistics in the
 * rated agent's state), identify_patterns and optimize_performance (ranked
 * patterns and recommendations from GET /api/stats/jobs). The work lives in
 * worker/agents/learning/; see docs/agents/learning.md. */
#include "worker/agents/learning/tasks.h"
#include "worker/runtime/agent.h"

static const char *const capabilities[] = {"learning", "pattern_recognition",
                                           "performance_optimization", NULL};

static const struct task_def tasks[] = {
    {"learn_from_feedback", learning_feedback_run},
    {"identify_patterns", learning_patterns_run},
    {"optimize_performance", learning_optimize_run},
};

static const struct agent_def agent = {
    .name = "learning",
    .capabilities = capabilities,
    .tasks = tasks,
    .ntasks = sizeof(tasks) / sizeof(tasks[0]),
};

int main(int argc, char **argv) { return runtime_main(&agent, argc, argv); }
