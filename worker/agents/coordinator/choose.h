/* choose — picking the agent a delegated task goes to, from a GET /agents answer: the named
 * agent, or the agents whose capabilities include the wanted one, or (neither given) the
 * agent a built-in map assigns to the task type. Among candidates, agents that are not
 * offline win, then the smallest queue (pending + running), then the name. Pure: no I/O,
 * so the choice is unit-tested from JSON tables. */
#ifndef FLOWSTATE_COORD_CHOOSE_H
#define FLOWSTATE_COORD_CHOOSE_H

#include <cjson/cJSON.h>

#define CHOOSE_NAME_MAX 101 /* agent names are 1-100 characters */
#define CHOOSE_REASON_MAX 512

struct choice {
    char agent[CHOOSE_NAME_MAX];
    /* Why: how the candidates were found and their queue depths, e.g.
     * "capability code_analysis: code_analyzer (queue 0), ca2 (queue 3, offline skipped)". */
    char reason[CHOOSE_REASON_MAX];
};

/* The agent the built-in map assigns to task_type (analyze_code → code_analyzer, …), or
 * NULL for a task type it does not know. */
const char *choose_default_agent(const char *task_type);

/* Picks the agent for a task. agents is the GET /agents answer ({"agents":[…]}); agent
 * (a name) and capability may be NULL. Returns 0 with out filled, or -1 when there is no
 * candidate (out->reason says why; out->agent is empty). */
int choose_agent(const cJSON *agents, const char *task_type, const char *agent,
                 const char *capability, struct choice *out);

#endif
