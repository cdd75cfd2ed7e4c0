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

/* Checks definition def (the value of a body's "definition" field): an object whose steps
 * each have a unique key and the fields of their kind (agent: agent and task; sleep:
 * seconds; wait: signal; workflow: template or an inline definition, checked the same way),
 * whose dependsOn name other steps without a cycle, and whose references ($ref in input,
 * when.field) name the run input or an ancestor's output. Returns 0, or -1 with err naming the step
 * and field
 * ("definition.steps[2].dependsOn") and saying what is wrong; err->field empty: out of
 * memory. */
int wfdef_validate(const cJSON *def, struct field_error *err) __attribute__((warn_unused_result));

#endif
