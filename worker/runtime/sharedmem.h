/* sharedmem — a task's access to shared memory: JSON values under keys, scoped to a workflow
 * run or a conversation, each with a version for compare-and-set (the gateway's
 * GET|PUT /api/memory/shared/:scope/:scopeId/:key; docs/memory.md). Every call blocks on
 * the executor thread's gateway connection (task_gateway).
 *
 * scope is "run" or "conversation"; scope_id and key are 1-200 characters of
 * [A-Za-z0-9_.-]. Bad ones fail the call at once, without retry, before any request. */
#ifndef FLOWSTATE_SHAREDMEM_H
#define FLOWSTATE_SHAREDMEM_H

#include <cjson/cJSON.h>

#include "worker/runtime/agent.h"

/* task_shared_put's expected version when any version (or none) may be overwritten. */
#define TASK_SHARED_ANY (-1LL)
/* task_shared_add's rounds of read and compare-and-set before it gives up (retryable). */
#define TASK_SHARED_ADD_TRIES 100

/* Reads an entry. Returns 1 with *value (the caller frees it with cJSON_Delete) and
 * *version set, 0 when the key is absent, or -1 with out filled (task_fail). version may be
 * NULL. */
int task_shared_get(const struct task_ctx *ctx, const char *scope, const char *scope_id,
                    const char *key, cJSON **value, long long *version, struct task_outcome *out);

/* Writes value (not taken over) as this agent (updatedBy). expected: TASK_SHARED_ANY, 0 for
 * "only while the key is absent", or the version last read. Returns 0 with *version the new
 * version; -2 when the entry's version was not expected, with *version the current one (0:
 * absent), nothing written; or -1 with out filled. version may be NULL. */
int task_shared_put(const struct task_ctx *ctx, const char *scope, const char *scope_id,
                    const char *key, const cJSON *value, long long expected, long long *version,
                    struct task_outcome *out);

/* Adds delta to the number under key (an absent key counts as 0) by compare-and-set, reading
 * again after each conflict, so the adds of any number of concurrent tasks all count. Returns
 * 0 with *total the value this add wrote (total may be NULL), or -1 with out filled: the
 * value is not a number (not retryable), TASK_SHARED_ADD_TRIES conflicts in a row, the
 * gateway failing, or the task told to stop. */
int task_shared_add(const struct task_ctx *ctx, const char *scope, const char *scope_id,
                    const char *key, double delta, double *total, struct task_outcome *out);

#endif
