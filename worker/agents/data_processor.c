/* data_processor — the agent that aggregates, validates and transforms records. Its three
 * tasks (process_data, validate_data, transform_data) are deterministic computations over
 * the job's payload.data, done by the modules in data_processor/; this file wires them to
 * the runtime. Bad input fails without retry (another attempt would fail the same way);
 * only running out of memory is retryable. See docs/agents/data_processor.md. */
#include <stdio.h>

#include "worker/agents/data_processor/aggregate.h"
#include "worker/agents/data_processor/recordset.h"
#include "worker/agents/data_processor/schema.h"
#include "worker/agents/data_processor/transform.h"
#include "worker/runtime/agent.h"

typedef int (*dp_task_fn)(const cJSON *data, const char *root, cJSON **result,
                          struct dp_error *err);

/* Finds the task's data, runs fn over it and fills out. */
static int run_dp_task(dp_task_fn fn, const cJSON *payload, struct task_outcome *out)
{
    struct dp_error err = {""};
    const cJSON *data = NULL;
    const char *root = NULL;
    cJSON *result = NULL;
    int rc = recordset_data(payload, &data, &root, &err);
    if (rc == 0)
        rc = fn(data, root, &result, &err);
    if (rc == 0) {
        out->result = result;
        return 0;
    }
    snprintf(out->error, sizeof(out->error), "%s", err.message);
    out->retryable = rc == DP_NO_MEMORY;
    return -1;
}

static int process_data(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    return run_dp_task(aggregate_run, payload, out);
}

static int validate_data(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    return run_dp_task(schema_run, payload, out);
}

static int transform_data(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out)
{
    return run_dp_task(transform_run, payload, out);
}

static const char *const capabilities[] = {"data_processing", "transformation", "validation", NULL};

static const struct task_def tasks[] = {
    {"process_data", process_data},
    {"validate_data", validate_data},
    {"transform_data", transform_data},
};

static const struct agent_def agent = {
    .name = "data_processor",
    .capabilities = capabilities,
    .tasks = tasks,
    .ntasks = sizeof(tasks) / sizeof(tasks[0]),
};

int main(int argc, char **argv) { return runtime_main(&agent, argc, argv); }
