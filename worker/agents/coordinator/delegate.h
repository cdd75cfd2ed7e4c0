/* delegate — handing one task to another agent through the gateway, as this worker: read
 * GET /agents, choose the agent (choose.h), create the child job with POST /api/jobs and,
 * when asked, wait for it with GET /api/jobs/:id?wait=N in slices short enough for the
 * task HTTP timeout, checking task_should_stop between slices. Used by delegate_task and
 * by every workflow step.
 *
 * Idempotency: the child job's key is "coord-<coordinator job id>-<step>", without the
 * attempt. A retried coordinator job therefore re-attaches to the child its failed attempt
 * created (POST /api/jobs answers 200 with it) instead of creating a second one: it waits
 * for that child, or takes its result when it already finished. */
#ifndef FLOWSTATE_COORD_DELEGATE_H
#define FLOWSTATE_COORD_DELEGATE_H

#include <stdbool.h>

#include "worker/agents/coordinator/choose.h"
#include "worker/agents/coordinator/plan.h"
#include "worker/runtime/agent.h"

#define DELEGATE_MAX_WAIT_S 300 /* delegate_task's data.wait */
#define DELEGATE_SLICE_S 5      /* one long-poll request: short, so a stop is noticed soon */

struct delegate_req {
    struct plan_target target;
    const cJSON *data;    /* the child's payload.data; NULL sends {} */
    long priority;        /* 0-4, or -1 for the gateway's default */
    long timeout_seconds; /* the child's timeoutSeconds, or 0 for none */
    int wait_s;           /* how long to wait for the child to finish; 0: not at all */
    const char *step;     /* idempotency key suffix: "delegate", "step-<name>" */
};

struct delegation {
    struct choice choice;
    char agent[CHOOSE_NAME_MAX]; /* the child's targetAgent (a re-attached child keeps its own) */
    long long job_id;
    bool reused; /* the child existed already (a retried coordinator job) */
    char status[16];
    cJSON *job; /* the child job as last read (owned; delegation_clear frees it) */
};

/* Delegates req. Returns 0 with d filled (the child may still be pending or running when
 * the wait ran out: see d->status), or -1 with out->error and out->retryable set: no
 * candidate agent (not retryable), the gateway unreachable or failing (retryable), the
 * job told to stop. d must be cleared with delegation_clear either way. */
int delegate_run(struct task_ctx *ctx, const struct delegate_req *req, struct delegation *d,
                 struct task_outcome *out);

/* Asks the gateway to cancel the child (best effort: a failure is logged and otherwise ignored). */
void delegate_cancel(struct task_ctx *ctx, const struct delegation *d);

/* The seconds of the next long poll (GET /api/jobs/:id?wait=N) when left seconds of a wait
 * remain, at most DELEGATE_SLICE_S; 0 when the wait is over. The gateway waits in whole
 * seconds, so what is left is rounded to the nearest one: a wait of 1 s, whose deadline is a
 * hair under 1 s away once the child is created, still polls for that second, and a wait
 * that has less than half a second left is not stretched by a whole one. */
int delegate_slice(double left);

/* Sends a request to the gateway as this worker and parses the answer: the JSON (caller
 * frees), or NULL with out filled (retryable as the status says) unless the status is 2xx.
 * *status is the HTTP status, 0 when no answer came. */
cJSON *delegate_call(struct task_ctx *ctx, const char *method, const char *path, const char *body,
                     int *status, struct task_outcome *out);

/* delegate_call's POST with a JSON body, which it frees (NULL: out of memory). */
cJSON *delegate_post(struct task_ctx *ctx, const char *path, cJSON *body, int *status,
                     struct task_outcome *out);

/* True for completed, failed and cancelled. */
bool delegate_finished(const char *status);

void delegation_clear(struct delegation *d);

#endif
