/* tasks — the learning agent's task handlers (docs/agents/learning.md). */
#ifndef FLOWSTATE_LEARNING_TASKS_H
#define FLOWSTATE_LEARNING_TASKS_H

#include "worker/runtime/agent.h"

int learning_feedback_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);
int learning_patterns_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);
int learning_optimize_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);

#endif
