/* code_analyzer — the agent that analyses source code without a model: metrics and a
 * quality score (analyze_code), bug and security patterns (detect_bugs) and inefficiencies
 * (suggest_optimizations). The work lives in worker/agents/code_analyzer/; see
 * docs/agents/code_analyzer.md. */
#include "worker/agents/code_analyzer/tasks.h"
#include "worker/runtime/agent.h"

static const char *const capabilities[] = {"code_analysis", "optimization", "bug_detection", NULL};

static const struct task_def tasks[] = {
    {"analyze_code", code_analyze_run},
    {"detect_bugs", code_detect_bugs_run},
    {"suggest_optimizations", code_suggest_run},
};

static const struct agent_def agent = {
    .name = "code_analyzer",
    .capabilities = capabilities,
    .tasks = tasks,
    .ntasks = sizeof(tasks) / sizeof(tasks[0]),
};

int main(int argc, char **argv) { return runtime_main(&agent, argc, argv); }
