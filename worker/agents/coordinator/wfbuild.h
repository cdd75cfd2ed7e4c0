/* wfbuild — a checked coordinate_workflow plan (plan.h) as a workflow definition for the
 * gateway's engine (docs/workflows.md): each step becomes a step with the same key, the agent
 * chosen for it, its data with every input reference as a {"$ref": path}, dependsOn, retries,
 * timeoutSeconds, and its condition as `when`. A step's parents are its dependsOn (else the
 * step before it, so a plain list still runs in order) plus every step its references read,
 * which the engine requires to be ancestors. */
#ifndef FLOWSTATE_COORD_WFBUILD_H
#define FLOWSTATE_COORD_WFBUILD_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "worker/agents/coordinator/plan.h"

/* The definition of p with step i sent to agents[i]; NULL when out of memory. */
cJSON *wfbuild_definition(const struct plan *p, const char *const *agents);

/* A coordinator reference ("$.steps.clean.result.records[0]") as an engine path
 * ("steps.clean.output.records.0"), written to out. Returns 0, or -1 when ref is malformed or
 * the path does not fit. */
int wfbuild_path(const char *ref, char *out, size_t len);

#endif
