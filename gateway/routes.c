/* routes — every route the gateway serves and who may call it. Literal paths come before
 * parameterised ones ("/api/jobs/pending" and "/api/jobs/complete" before "/api/jobs/:id").
 * roles 0 = public. The last column says what happens to a body (enum route_body). */
#include "gateway/routes.h"

#include "common/apikey.h"
#include "gateway/handlers.h"

#define PUBLIC 0u
#define ANYONE ROLES_ALL
#define WRITERS ROLES_WRITERS

const struct route routes[] = {
    {METHOD_GET, "/health", health_get, PUBLIC, 0},
    {METHOD_GET, "/ready", ready_get, PUBLIC, 0},

    {METHOD_POST, "/api/agents/register", agents_register, WRITERS, 1},
    {METHOD_GET, "/api/agents", agents_list, ANYONE, 0},
    {METHOD_GET, "/api/agents/:agentName", agents_get, ANYONE, 0},
    {METHOD_PUT, "/api/agents/:agentName", agents_update, WRITERS, 1},

    {METHOD_POST, "/api/jobs", jobs_create, WRITERS, BODY_JSON},
    {METHOD_POST, "/api/jobs/batch", jobs_create_batch, WRITERS, BODY_JSON},
    {METHOD_GET, "/api/jobs", jobs_list, ANYONE, 0},
    {METHOD_GET, "/api/jobs/pending", jobs_pending, ANYONE, 0},
    {METHOD_POST, "/api/jobs/complete", jobs_complete_batch, WRITERS, BODY_JSON_TEXT},
    {METHOD_POST, "/api/jobs/fail", jobs_fail_batch, WRITERS, BODY_JSON_TEXT},
    {METHOD_GET, "/api/jobs/agent/:agentName", jobs_for_agent, ANYONE, 0},
    {METHOD_GET, "/api/jobs/:id", jobs_get, ANYONE, 0},
    {METHOD_PUT, "/api/jobs/:jobId/status", jobs_set_status, WRITERS, BODY_JSON},
    {METHOD_POST, "/api/jobs/:id/complete", jobs_complete, WRITERS, BODY_JSON},
    {METHOD_POST, "/api/jobs/:id/fail", jobs_fail, WRITERS, BODY_JSON},
    {METHOD_POST, "/api/jobs/:id/cancel", jobs_cancel, WRITERS, BODY_OPTIONAL},
    {METHOD_POST, "/api/jobs/:id/retry", jobs_retry, WRITERS, BODY_OPTIONAL},

    {METHOD_POST, "/api/documents", documents_create, WRITERS, 1},
    {METHOD_GET, "/api/documents", documents_list, ANYONE, 0},
    {METHOD_GET, "/api/documents/search", documents_search, ANYONE, 0},
    {METHOD_POST, "/api/documents/cluster", documents_cluster, ANYONE, BODY_JSON},
    {METHOD_GET, "/api/documents/:id", documents_get, ANYONE, 0},
    {METHOD_GET, "/api/documents/:id/similar", documents_similar, ANYONE, 0},

    {METHOD_GET, "/api/memory/shared/:scope/:scopeId", shared_list, ANYONE, 0},
    {METHOD_GET, "/api/memory/shared/:scope/:scopeId/:key", shared_get, ANYONE, 0},
    {METHOD_PUT, "/api/memory/shared/:scope/:scopeId/:key", shared_put, WRITERS, BODY_JSON},
    {METHOD_DELETE, "/api/memory/shared/:scope/:scopeId/:key", shared_delete, WRITERS, 0},

    {METHOD_GET, "/api/agents/:agentName/messages", messages_for_agent, ANYONE, 0},
    {METHOD_GET, "/api/messages/:id", messages_get, ANYONE, 0},

    /* The seed's worker API (snake_case), served by the gateway. */
    {METHOD_GET, "/agents", worker_agents_list, ANYONE, 0},
    {METHOD_POST, "/agents/message", messages_send, WRITERS, BODY_JSON},
    {METHOD_GET, "/agents/:agent_name/status", worker_agent_status, ANYONE, 0},
    {METHOD_POST, "/agents/:agent_name/task", worker_agent_task, WRITERS, BODY_JSON},
    {METHOD_POST, "/agents/:agent_name/memory", worker_agent_memory, WRITERS, BODY_JSON},
    {METHOD_POST, "/system/health-check", worker_system_health, ANYONE, BODY_OPTIONAL},

    {METHOD_GET, "/api/stats/jobs", stats_jobs, ANYONE, 0},
    {METHOD_POST, "/api/events", events_create, WRITERS, BODY_JSON},
    {METHOD_GET, "/api/events", events_list, ANYONE, 0},
    {METHOD_GET, "/api/events/stream", events_stream, ANYONE, 0},

    {METHOD_POST, "/api/workflows/templates", wf_templates_create, WRITERS, BODY_JSON},
    {METHOD_GET, "/api/workflows/templates", wf_templates_list, ANYONE, 0},
    {METHOD_GET, "/api/workflows/templates/:name", wf_template_get, ANYONE, 0},
    {METHOD_PUT, "/api/workflows/templates/:name", wf_template_put, WRITERS, BODY_JSON},
    {METHOD_DELETE, "/api/workflows/templates/:name", wf_template_delete, WRITERS, 0},
    {METHOD_POST, "/api/workflows/runs", wf_runs_create, WRITERS, BODY_JSON},
    {METHOD_GET, "/api/workflows/runs", wf_runs_list, ANYONE, 0},
    {METHOD_GET, "/api/workflows/runs/:id", wf_run_get, ANYONE, 0},
    {METHOD_POST, "/api/workflows/runs/:id/cancel", wf_run_cancel, WRITERS, BODY_OPTIONAL},
    {METHOD_POST, "/api/workflows/runs/:id/pause", wf_run_pause, WRITERS, BODY_OPTIONAL},
    {METHOD_POST, "/api/workflows/runs/:id/resume", wf_run_resume, WRITERS, BODY_OPTIONAL},
    {METHOD_POST, "/api/workflows/runs/:id/retry", wf_run_retry, WRITERS, BODY_OPTIONAL},
    {METHOD_POST, "/api/workflows/runs/:id/signal", wf_run_signal, WRITERS, BODY_JSON},
    {METHOD_GET, "/api/workflows/runs/:id/visualization", wf_run_visualize, ANYONE, 0},
    {METHOD_POST, "/api/workflows/runs/:id/messages", wf_run_message_send, WRITERS, BODY_JSON},
    {METHOD_GET, "/api/workflows/runs/:id/messages", wf_run_messages_list, ANYONE, 0},
    /* Seed 003's workflow routes, and seed 000's (gateway/workflows/seedflows.c). */
    {METHOD_POST, "/api/agents/workflows/execute", seed_workflow_execute, WRITERS, BODY_JSON},
    {METHOD_GET, "/api/agents/workflows/:id", seed_workflow_get, ANYONE, 0},
    {METHOD_GET, "/api/agents/workflows/:id/visualization", wf_run_visualize, ANYONE, 0},
    {METHOD_POST, "/api/agents/workflows/:id/messages", wf_run_message_send, WRITERS, BODY_JSON},
    {METHOD_PATCH, "/api/agents/workflows/:id/state", seed_workflow_state, WRITERS, BODY_JSON},
    {METHOD_POST, "/workflow/coordinate", workflow_coordinate, WRITERS, BODY_JSON},

    {METHOD_POST, "/api/keys", keys_create, ROLES_ADMIN, 1},
    {METHOD_GET, "/api/keys", keys_list, ROLES_ADMIN, 0},
    {METHOD_DELETE, "/api/keys/:id", keys_revoke, ROLES_ADMIN, 0},
};

const size_t routes_count = sizeof(routes) / sizeof(routes[0]);
