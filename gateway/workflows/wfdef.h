/* wfdef — workflow definitions: the whole check a definition passes before anything is
 * stored or started (sql/006_workflows.sql trusts its shape). docs/workflows.md describes
 * the format. */
#ifndef FLOWSTATE_WFDEF_H
#define FLOWSTATE_WFDEF_H

#include <cjson/cJSON.h>

#include "common/json.h"

#define WFDEF_STEPS_MAX 500
#define WFDEF_KEY_MAX 64          /* a step key: 1..64 of [A-Za-z0-9_-] */
#define WFDEF_TASK_MAX 100        /* a task name */
#define WFDEF_REF_SEGMENTS_MAX 16 /* dot-separated parts of a reference path */
#define WFDEF_REF_MAX 512         /* bytes of a reference path */
#define WFDEF_INPUT_DEPTH_MAX 32  /* nesting of arrays and objects in a step's input */
#define WFDEF_RETRIES_MAX 99      /* a step's job has retries + 1 attempts (jobs allow 100) */
#define WFDEF_TIMEOUT_MAX 86400   /* an agent step's timeoutSeconds, as a job's */
#define WFDEF_TIMER_MAX 31536000  /* a sleep's seconds, a wait's or a run's timeoutSeconds */
#define WFDEF_SIGNAL_MAX 100      /* a wait step's signal name */
#define WFDEF_TEMPLATE_MAX 100    /* a workflow step's template name (WF_NAME_MAX) */
#define WFDEF_NEST_MAX 8          /* inline definitions within definitions (fs_wf_depth_max) */
#define WFDEF_WHEN_DEPTH_MAX 12   /* nesting of all/any/not in a `when` (routing adds up to 6) */
#define WFDEF_WHEN_ITEMS_MAX 100  /* conditions in one all or any */

/* Checks definition def (the value of a body's "definition" field): an object whose steps
 * each have a unique key and the fields of their kind (agent: agent and task; sleep:
 * seconds; wait: signal; workflow: template or an inline definition, checked the same way),
 * whose dependsOn name other steps without a cycle, and whose references ($ref in input,
 * when.field) name the run input or an ancestor's output. Returns 0, or -1 with err naming the step
 * and field
 * ("definition.steps[2].dependsOn") and saying what is wrong; err->field empty: out of
 * memory. A step's `routing` is not looked at: wf_routing_compile checks it and turns it into
 * its children's `when`, which this then checks. */
int wfdef_validate(const cJSON *def, struct field_error *err) __attribute__((warn_unused_result));

/* Checks a `when` (a leaf {field, operator, value}, or {all: [...]}, {any: [...]},
 * {not: ...}) read from field where ("when"): its shape, not its references. Returns 0, or -1
 * with err naming the part ("when.all[1].value"). */
int wfdef_check_when(const cJSON *when, const char *where, struct field_error *err)
    __attribute__((warn_unused_result));

/* Makes err, set for a field of step i ("when.value"), name the step:
 * "definition.steps[i].when.value", and the step's key (NULL: unknown) at the end of the
 * message. Returns -1. */
int wfdef_at_step(struct field_error *err, int i, const char *key);
/* Fills err for field of step i (key): "field <message>", then as wfdef_at_step. Returns -1. */
int wfdef_step_error(struct field_error *err, int i, const char *key, const char *field,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The name of operator op: itself, or for seed 003's >, >=, <, <=, ==, != the gt, gte, lt,
 * lte, eq, ne they stand for; NULL for no operator. */
const char *wfdef_operator_name(const char *op);

#endif
