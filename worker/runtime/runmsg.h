/* runmsg — a task's messages within its workflow run (seed 003's agent-to-agent messages):
 * POST /api/workflows/runs/:id/messages as the task's agent, and the built-in send_message
 * task every agent runs, with which a workflow step hands work or context to another agent
 * (docs/workflows.md, "Messages within a run"). The gateway delivers each message to its
 * receiver as an inter_agent_message job. Every call blocks on the executor thread's gateway
 * connection (task_gateway). */
#ifndef FLOWSTATE_RUNMSG_H
#define FLOWSTATE_RUNMSG_H

#include <cjson/cJSON.h>

#include "worker/runtime/agent.h"

/* Sends a message of type (request, response, notification, handoff) with content (any JSON,
 * not taken over) from this agent to to_agent within run run_id. Returns 0 with *message_id
 * the stored message's id (message_id may be NULL), or -1 with out filled: a refusal (unknown
 * run, bad agent name or type) is not retryable; no answer or a 5xx is. */
int task_run_message(const struct task_ctx *ctx, long long run_id, const char *to_agent,
                     const char *type, const cJSON *content, long long *message_id,
                     struct task_outcome *out);

/* send_message: {"taskType":"send_message","data":{"toAgent","messageType"?,"content"?},
 * "workflowRunId"} — the engine sets workflowRunId on a step's job. messageType defaults to
 * notification, content to {}. The result is {"messageId","toAgent","messageType","runId"}.
 * A retried attempt may send the message again (at least once). */
int send_message_task_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);

#endif
