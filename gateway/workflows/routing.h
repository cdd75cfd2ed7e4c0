/* routing — seed 003's routing rules on a step,
 *   "routing": {"conditions": [{"field", "operator", "value", "next_agent"}, …, {"default"}]},
 * checked and compiled into `when` clauses on the step's children, so the engine needs
 * nothing new: the first condition that holds chooses its child, none choosing one leaves
 * the default; the children the rules name but did not choose are skipped. docs/workflows.md
 * describes the format. */
#ifndef FLOWSTATE_ROUTING_H
#define FLOWSTATE_ROUTING_H

#include <cjson/cJSON.h>

#include "common/json.h"

#define WF_ROUTING_CONDITIONS_MAX 32 /* entries of conditions, the default included */

/* Checks every step's routing in def (a definition wfdef_validate accepted) and adds to each
 * child it names the `when` that holds exactly when routing chooses that child: the child's
 * own `when`, if any, and the clause under {"all": [...]}. A child whose `when` already holds
 * the clause (a definition compiled before, read back and sent again) is left as it is.
 * next_agent and default name a child (a step whose dependsOn names the routing step) by
 * key, or by agent when exactly one child runs that agent. Returns 1 when a `when` was
 * added, 0 when nothing changed, -1 with err naming the step and field
 * ("definition.steps[1].routing.conditions[0].next_agent"); err->field empty: out of
 * memory. */
int wf_routing_compile(cJSON *def, struct field_error *err) __attribute__((warn_unused_result));

/* The index, among def's steps, of the child of step `from` that name (a next_agent or
 * default) designates, as wf_routing_compile resolves it: -1 none, -2 several by agent. */
int wf_routing_target(const cJSON *steps, int from, const char *name);

#endif
