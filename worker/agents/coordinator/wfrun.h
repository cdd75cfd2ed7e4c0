/* wfrun — coordinate_workflow on the gateway's workflow engine: choose each step's agent
 * (GET /agents, choose.h), start a run of the plan's definition (wfbuild.h) with
 * POST /api/workflows/runs, wait for it to settle, and build the task's result from the run's
 * steps.
 *
 * Waiting: the run advances in the transaction that finishes a step's job, so the
 * coordinator long-polls a running step's job (GET /api/jobs/:id?wait=N, the jobs routes'
 * waiter, in slices of at most DELEGATE_SLICE_S) and reads the run again when it returns; it
 * sleeps with a backoff only while no step job is running (a paused run). A step that has not
 * finished within its `timeout` has its job cancelled and is reported `timed_out`.
 *
 * Idempotency: the run's key is "coord-<coordinator job id>", so a retried coordinator job
 * re-attaches to the run its earlier attempt started instead of starting another. A
 * coordinator job that is cancelled while it waits cancels its run; one that stops for any
 * other reason (lease lost, shutdown) leaves the run going for its next attempt. */
#ifndef FLOWSTATE_COORD_WFRUN_H
#define FLOWSTATE_COORD_WFRUN_H

#include "worker/agents/coordinator/plan.h"
#include "worker/runtime/agent.h"

/* Runs plan p. Returns 0 with out->result set (the workflow may have failed: its status
 * says), or -1 with out->error and out->retryable set. */
int wfrun_run(struct task_ctx *ctx, const struct plan *p, struct task_outcome *out);

#endif
