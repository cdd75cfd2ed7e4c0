/* transform — the transform_data task: runs data.records through data.steps, a pipeline
 * of select, rename, filter, sort, dedupe, flatten and limit steps, and returns the
 * records with per-step counts. Every step is checked before any runs, so a bad step fails
 * the task with its path (data.steps[2].operator) whatever the records hold. */
#ifndef FLOWSTATE_DP_TRANSFORM_H
#define FLOWSTATE_DP_TRANSFORM_H

#include <cjson/cJSON.h>

#include "worker/agents/data_processor/dperror.h"

#define TRANSFORM_MAX_STEPS 64
#define TRANSFORM_MAX_SEPARATOR 16 /* bytes in a flatten separator */

/* The whole task over data (root: "data" or "payload"). Returns 0 with *result set (the
 * caller owns it), DP_BAD_INPUT or DP_NO_MEMORY with err filled. */
int transform_run(const cJSON *data, const char *root, cJSON **result, struct dp_error *err)
    __attribute__((warn_unused_result));

#endif
