/* tasks — the code_analyzer agent's three task handlers (analyze_code, detect_bugs,
 * suggest_optimizations): payload reading, the shared lex + blocks pipeline, and the result
 * objects with their one-line summaries. */
#ifndef FLOWSTATE_CA_TASKS_H
#define FLOWSTATE_CA_TASKS_H

#include "worker/runtime/agent.h"

#define CODE_MAX_BYTES (1024 * 1024) /* larger sources are refused */
#define CODE_MAX_ITEMS 1000          /* functions / findings listed in one result */

int code_analyze_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);
int code_detect_bugs_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);
int code_suggest_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);

#endif
