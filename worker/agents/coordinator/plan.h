/* plan — reading and checking a coordinate_workflow payload up front, before any run is
 * started: the steps, their targets, data and input references, dependencies, conditions,
 * retries, timeouts and the failure policy. Every error names the field it is about
 * ("data.steps[2].input.code") so the workflow fails once, without retry, with a message the
 * caller can act on.
 *
 * Steps are listed parents first: dependsOn, input references and a condition may name only
 * earlier steps, so the list order is always a valid order of the DAG (wfbuild.h turns it
 * into a workflow definition; a step without dependsOn depends on the step before it). */
#ifndef FLOWSTATE_COORD_PLAN_H
#define FLOWSTATE_COORD_PLAN_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#define PLAN_MAX_STEPS 50
#define PLAN_NAME_MAX 64          /* step names: 1-64 of [A-Za-z0-9_-] */
#define PLAN_DEFAULT_TIMEOUT_S 60 /* per step, unless data.stepTimeout or the step's timeout */
#define PLAN_MAX_TIMEOUT_S 3600
#define PLAN_MAX_RETRIES 99 /* as a workflow step's */

struct plan_error {
    char field[200];   /* e.g. "data.steps[2].input.code" */
    char message[512]; /* the whole sentence, starting with the field */
};

/* Where a task goes: the named agent, agents with a capability, or (both NULL) the
 * built-in map for the task type. */
struct plan_target {
    const char *task_type, *agent, *capability;
};

struct plan_step {
    const char *name;
    struct plan_target target;
    const cJSON *data;       /* the step's "data" object, or NULL */
    const cJSON *input;      /* the step's "input" object (field → "$..." reference), or NULL */
    int timeout_s;           /* how long the coordinator waits for the step's job */
    const cJSON *depends_on; /* names of earlier steps, or NULL: the step before this one */
    long retries;            /* the step job's retries, or -1: not given */
    long timeout_seconds;    /* the step job's timeoutSeconds (each attempt), or 0 */
    const cJSON *condition;  /* {field: reference, operator, value?}, or NULL */
};

/* Every pointer points into the payload the plan was read from. */
struct plan {
    struct plan_step steps[PLAN_MAX_STEPS];
    int nsteps;
    const cJSON *input; /* data.input (an object), or NULL */
    bool stop_on_failure;
};

/* Reads obj.agent and obj.capability (optional, at most one of them) into t; prefix names
 * obj in errors ("data", "data.steps[1]"). Shared by delegate_task and the workflow
 * steps. Returns 0, or -1 with err filled. */
int plan_read_target(const cJSON *obj, const char *prefix, struct plan_target *t,
                     struct plan_error *err);

/* Reads a coordinate_workflow payload's data object. Returns 0 with out filled, or -1
 * with err naming the first bad field. */
int plan_read(const cJSON *data, struct plan *out, struct plan_error *err);

#endif
