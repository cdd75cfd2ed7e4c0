/* visualize — a run as a graph: its steps as nodes with their live status, its dependsOn as
 * edges (marked when a `when` or routing rules decide whether the child runs), and the same
 * as Mermaid text. Built from the run as GET /api/workflows/runs/:id shows it, so one query
 * serves it; GET /api/workflows/runs/:id/visualization and seed 003's
 * GET /api/agents/workflows/:id/visualization answer it. */
#ifndef FLOWSTATE_VISUALIZE_H
#define FLOWSTATE_VISUALIZE_H

#include <cjson/cJSON.h>

/* {runId, status, nodes: [{key, kind, agent, task, status, attempts, jobId, queuedAt,
 * startedAt, finishedAt, error, routing}], edges: [{from, to, condition: null | "when" |
 * "routing"}], mermaid} for run (fs_wf_run_json with steps and definition); NULL when run
 * is not one, or out of memory. */
cJSON *wf_visualize(const cJSON *run);

#endif
