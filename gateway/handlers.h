/* handlers — one function per route; routes.c maps paths and roles onto them. Each
 * handler validates its input completely before touching the database and answers the
 * request exactly once (directly or from a query callback). */
#ifndef FLOWSTATE_HANDLERS_H
#define FLOWSTATE_HANDLERS_H

struct request;
struct batcher_kind;

void health_get(struct request *r);
void ready_get(struct request *r);

void agents_register(struct request *r);
void agents_list(struct request *r);
void agents_get(struct request *r);
void agents_update(struct request *r);

void jobs_create(struct request *r);
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

void keys_create(struct request *r);
void keys_list(struct request *r);
void keys_revoke(struct request *r);

/* Group-commit kinds the handlers define; gateway.c runs one batcher of each. */
extern const struct batcher_kind jobs_insert_kind;       /* jobs.c: job inserts */
extern const struct batcher_kind outcomes_complete_kind; /* outcomes.c */
extern const struct batcher_kind outcomes_fail_kind;     /* outcomes.c */

/* Agent names (targetAgent, :agentName): 1..AGENT_NAME_MAX of [A-Za-z0-9_.-]. */
#define AGENT_NAME_MAX 100

#endif
