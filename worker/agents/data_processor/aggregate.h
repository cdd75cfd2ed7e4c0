/* aggregate — the process_data task: counts and numeric aggregates (sum, mean, min, max,
 * population stddev, percentiles, missing and non-numeric counts) of data.records, for the
 * requested fields or every numeric one, overall and per data.groupBy group. See
 * docs/agents/data_processor.md for the payload and result. */
#ifndef FLOWSTATE_DP_AGGREGATE_H
#define FLOWSTATE_DP_AGGREGATE_H

#include <cjson/cJSON.h>

#include "worker/agents/data_processor/dperror.h"

#define AGGREGATE_MAX_PERCENTILES 20
#define AGGREGATE_MAX_FIELDS 256 /* numeric fields found when data.fields is absent */

/* Aggregates data (the task's data object; root names it in errors: "data" or "payload").
 * Returns 0 with *result set (the caller owns it), DP_BAD_INPUT or DP_NO_MEMORY with err
 * filled. */
int aggregate_run(const cJSON *data, const char *root, cJSON **result, struct dp_error *err)
    __attribute__((warn_unused_result));

#endif
