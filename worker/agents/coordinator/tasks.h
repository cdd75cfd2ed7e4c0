/* tasks — the coordinator agent's task handlers: delegate_task (hand one task to the best
 * agent, optionally waiting for its result) and coordinate_workflow (run named steps in
 * order, each a delegated job, feeding earlier results into later steps). See
 * docs/agents/coordinator.md. */
#ifndef FLOWSTATE_COORD_TASKS_H
#define FLOWSTATE_COORD_TASKS_H

#include "worker/runtime/agent.h"

int coord_delegate_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);
int coord_workflow_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);

#endif
