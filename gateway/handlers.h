/* handlers — one function per route; routes.c maps paths and roles onto them. Each
 * handler validates its input completely before touching the database and answers the
 * request exactly once (directly or from a query callback). */
#ifndef FLOWSTATE_HANDLERS_H
#define FLOWSTATE_HANDLERS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct request;
struct batcher_kind;
struct field_error;

void health_get(struct request *r);
void ready_get(struct request *r);

void agents_register(struct request *r);
void agents_list(struct request *r);
void agents_get(struct request *r);
void agents_update(struct request *r);

void jobs_create(struct request *r);
void jobs_create_batch(struct request *r); /* jobs_batch.c */
void jobs_get(struct request *r);
void jobs_list(struct request *r);
void jobs_pending(struct request *r);
void jobs_for_agent(struct request *r);
void jobs_set_status(struct request *r);
void jobs_cancel(struct request *r);
void jobs_retry(struct request *r);

void jobs_complete(struct request *r);
void jobs_fail(struct request *r);
void jobs_complete_batch(struct request *r);
void jobs_fail_batch(struct request *r);

void documents_create(struct request *r);
void documents_get(struct request *r);
void documents_search(struct request *r);
void documents_list(struct request *r);
void documents_similar(struct request *r);
void documents_cluster(struct request *r); /* cluster.c */

/* Shared memory scoped to a run or a conversation (memory/shared.c). */
void shared_get(struct request *r);
void shared_put(struct request *r);
void shared_delete(struct request *r);
void shared_list(struct request *r);

/* The seed's worker API (worker_api.c) and inter-agent messages (messages.c). */
void worker_agents_list(struct request *r);
void worker_agent_status(struct request *r);
void worker_agent_task(struct request *r);
void worker_agent_memory(struct request *r);
void worker_system_health(struct request *r);
void messages_send(struct request *r);
void messages_get(struct request *r);
void messages_for_agent(struct request *r);

/* Job statistics (stats.c) and operator events (events.c). */
void stats_jobs(struct request *r);
void events_create(struct request *r);
void events_list(struct request *r);
void events_stream(struct request *r);

/* Workflows (gateway/workflows/): templates.c and runs.c. */
void wf_templates_create(struct request *r);
void wf_templates_list(struct request *r);
void wf_template_get(struct request *r);
void wf_template_put(struct request *r);
void wf_template_delete(struct request *r);
void wf_runs_create(struct request *r);
void wf_runs_list(struct request *r);
void wf_run_get(struct request *r);
void wf_run_cancel(struct request *r);
void wf_run_pause(struct request *r);
void wf_run_resume(struct request *r);
void wf_run_retry(struct request *r);
void wf_run_signal(struct request *r);
void wf_run_visualize(struct request *r);
void wf_run_message_send(struct request *r);
void wf_run_messages_list(struct request *r);
void seed_workflow_execute(struct request *r);
void seed_workflow_get(struct request *r);
void seed_workflow_state(struct request *r);
void workflow_coordinate(struct request *r);

void keys_create(struct request *r);
void keys_list(struct request *r);
void keys_revoke(struct request *r);

/* Group-commit kinds the handlers define; gateway.c runs one batcher of each. */
extern const struct batcher_kind jobs_insert_kind;       /* jobs.c: job inserts */
extern const struct batcher_kind outcomes_complete_kind; /* outcomes.c */
extern const struct batcher_kind outcomes_fail_kind;     /* outcomes.c */

/* Validates a POST /api/jobs body and renders it as a row for the insert batcher (see
 * batcher_item). Returns the text (caller frees; *len its length), or NULL with err set
 * (err->field empty: out of memory). Shared by every route that creates jobs. */
char *jobs_row_from_body(const cJSON *body, size_t *len, struct field_error *err);

/* Gets the job a jobs_insert created (created: false when an existing job had the
 * idempotencyKey) and answers r. */
typedef void (*jobs_created_cb)(struct request *r, const char *job, size_t len, bool created);
/* Inserts row (len bytes from jobs_row_from_body, taken over) through the insert batcher.
 * plain: the row has no idempotencyKey. created NULL answers 201 (or 200: an existing job)
 * with the job; errors are answered here either way. */
void jobs_insert(struct request *r, char *row, size_t len, bool plain, jobs_created_cb created);
/* The idempotencyKey of a body jobs_row_from_body accepted, or NULL when it has none. */
const char *jobs_body_key(const cJSON *body);

/* Agent names (targetAgent, :agentName): 1..AGENT_NAME_MAX of [A-Za-z0-9_.-]. */
#define AGENT_NAME_MAX 100

#endif
