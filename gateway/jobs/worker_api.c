/* worker_api — the seed's "Python Worker API" routes, served by the gateway in snake_case:
 * GET /agents, GET /agents/:agent_name/status, POST /agents/:agent_name/task (a job, then
 * waiting for its result), POST /agents/:agent_name/memory and POST /system/health-check.
 * They are thin shapes over the /api routes' machinery: the job batcher, the long-poll
 * waiters and the document store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/jobs/jobwait.h"

#define TASK_WAIT_DEFAULT_S 30
#define TASK_TYPE_MAX 100
#define DESCRIPTION_MAX 10000
#define STALE_HEARTBEAT_S "60"

void worker_agents_list(struct request *r) { request_query_body(r, Q_WORKER_AGENTS, 0, NULL, 200); }

void worker_agent_status(struct request *r)
{
    const char *name = router_param(&r->match, "agent_name");
    if (request_check_agent_name(r, name, "agent_name") < 0)
        return;
    const char *params[1] = {name};
    request_query_body(r, Q_WORKER_AGENT_STATUS, 1, params, 200);
}

void worker_system_health(struct request *r)
{
    const char *params[1] = {STALE_HEARTBEAT_S};
    request_query_body(r, Q_SYSTEM_HEALTH, 1, params, 200);
}

/* Reads ?async=true|false. Returns 0, or -1 having answered 400. */
static int query_bool(struct request *r, const char *name, bool *out)
{
    const char *v = request_query_param(r, name);
    if (!v)
        return 0;
    if (!strcmp(v, "true") || !strcmp(v, "1")) {
        *out = true;
    } else if (!strcmp(v, "false") || !strcmp(v, "0")) {
        *out = false;
    } else {
        request_error(r, 400, "invalid_field", name, "%s must be true or false", name);
        return -1;
    }
    return 0;
}

/* The agents the seed's worker API served, which flowstate-pool runs by default: a task
 * for one of them is queued even while none of its workers is up (they may be starting).
 * Any other agent must have registered (agent_states) before it is sent a task, since no
 * worker would ever claim a job for a name nobody serves. */
static const char *const builtin_agents[] = {"code_analyzer", "data_processor", "coordinator",
                                             "learning", "monitoring"};

static bool is_builtin_agent(const char *name)
{
    for (size_t i = 0; i < sizeof(builtin_agents) / sizeof(builtin_agents[0]); i++)
        if (!strcmp(name, builtin_agents[i]))
            return true;
    return false;
}

/* POST /agents/:agent_name/task: how long to wait for the job once it exists (0: async), and
 * the job's row while the agent's registration is looked up (NULL once handed on). */
struct task {
    int wait_s;
    char *row;
    size_t len;
};

static void task_free(void *ctx) { free(((struct task *)ctx)->row); }

static const struct request_ctx_type task_ctx = {"agent task", task_free};

/* The job exists: answer at once (async) or wait for it (200 finished, 202 still going). */
static void task_created(struct request *r, const char *job, size_t len, bool created)
{
    (void)created;
    int wait_s = ((struct task *)request_ctx(r, &task_ctx))->wait_s;
    if (wait_s <= 0) {
        request_reply(r, 202, job, len);
        return;
    }
    cJSON *doc = cJSON_ParseWithLength(job, len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
    long long job_id = cJSON_IsNumber(id) ? (long long)id->valuedouble : 0;
    cJSON_Delete(doc);
    if (job_id <= 0) {
        request_error(r, 500, "internal", NULL, "internal error");
        return;
    }
    jobwait_add(r->gw->waits, r, job_id, wait_s);
}

/* The agent's registration (Q_WORKER_AGENT_STATUS: a row, or none) decides whether the job
 * is created: 404 at once, without a job, for an agent nobody serves. */
static void task_agent_known(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    if (PQntuples(res) == 0) {
        request_error(r, 404, "not_found", "agent_name",
                      "no agent named %s: it is not a built-in agent and none has registered "
                      "under that name",
                      router_param(&r->match, "agent_name"));
        return;
    }
    struct task *t = request_ctx(r, &task_ctx);
    char *row = t->row;
    t->row = NULL;
    jobs_insert(r, row, t->len, true /* no idempotency key */, task_created);
}

/* POST /agents/:agent_name/task {agent_name?, task_description?, context: {taskType, …}}
 * → a job {"type":"ai_task","taskType","description","data": context} for the agent. */
void worker_agent_task(struct request *r)
{
    const char *name = router_param(&r->match, "agent_name");
    if (request_check_agent_name(r, name, "agent_name") < 0)
        return;
    struct field_error err;
    const char *body_name = NULL, *description = NULL, *task_type = NULL;
    cJSON *context = NULL;
    long timeout = TASK_WAIT_DEFAULT_S;
    bool async = false;
    if (json_get_string(r->body, "agent_name", false, 1, AGENT_NAME_MAX, &body_name, &err) < 0 ||
        json_get_string(r->body, "task_description", false, 0, DESCRIPTION_MAX, &description,
                        &err) < 0 ||
        json_get_object(r->body, "context", true, &context, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    if (json_get_string(context, "taskType", true, 1, TASK_TYPE_MAX, &task_type, &err) < 0) {
        field_error_set(&err, "context.taskType",
                        "context.taskType must be a string of 1 to %d characters", TASK_TYPE_MAX);
        request_field_error(r, &err);
        return;
    }
    if (body_name && strcmp(body_name, name) != 0) {
        request_error(r, 400, "invalid_field", "agent_name",
                      "agent_name in the body (%s) differs from the one in the path (%s)",
                      body_name, name);
        return;
    }
    if (query_bool(r, "async", &async) < 0 ||
        request_query_int(r, "timeout", 1, config_int(r->gw->cfg, CFG_WAIT_MAX), &timeout) < 0)
        return;
    if (!async && !jobwait_admit(r->gw->waits, r))
        return; /* before the job is created, so a refused task leaves nothing behind */

    cJSON *job = cJSON_CreateObject();
    cJSON *payload = cJSON_AddObjectToObject(job, "payload");
    cJSON_AddStringToObject(job, "targetAgent", name);
    cJSON_AddStringToObject(payload, "type", "ai_task");
    cJSON_AddStringToObject(payload, "taskType", task_type);
    if (description)
        cJSON_AddStringToObject(payload, "description", description);
    cJSON_AddItemReferenceToObject(payload, "data", context);
    size_t len = 0;
    char *row = payload ? jobs_row_from_body(job, &len, &err) : NULL;
    cJSON_Delete(job);
    struct task *t = row ? request_ctx_new(r, &task_ctx, sizeof(*t)) : NULL;
    if (!t) {
        if (payload && !row && err.field[0])
            request_field_error(r, &err);
        else
            request_error(r, 500, "internal", NULL, "out of memory");
        free(row);
        return;
    }
    t->wait_s = async ? 0 : (int)timeout;
    r->ok_status = 202; /* a wait that times out answers with the unfinished job */
    if (is_builtin_agent(name)) {
        jobs_insert(r, row, len, true /* no idempotency key */, task_created);
        return;
    }
    t->row = row;
    t->len = len;
    const char *params[1] = {name};
    if (pgpool_query(r->gw->pool, Q_WORKER_AGENT_STATUS, 1, params, task_agent_known, r) < 0)
        request_unavailable(r);
}

/* POST /agents/:agent_name/memory {content, memory_type?, tags?, importance?, metadata?}
 * stores a document in the agent's memory, as POST /api/documents would. */
void worker_agent_memory(struct request *r)
{
    const char *name = router_param(&r->match, "agent_name");
    if (request_check_agent_name(r, name, "agent_name") < 0)
        return;
    static const char *const renamed[][2] = {
        {"memory_type", "memoryType"}, {"tags", "tags"}, {"importance", "importance"}};
    cJSON *doc = cJSON_CreateObject();
    cJSON *meta = NULL;
    const cJSON *given_meta = cJSON_GetObjectItemCaseSensitive(r->body, "metadata");
    if (doc && given_meta && !cJSON_IsObject(given_meta)) {
        cJSON_Delete(doc);
        request_error(r, 400, "invalid_field", "metadata", "metadata must be an object");
        return;
    }
    meta = given_meta ? cJSON_Duplicate(given_meta, true) : cJSON_CreateObject();
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(r->body, "content");
    if (!doc || !meta) {
        cJSON_Delete(doc);
        cJSON_Delete(meta);
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    if (content)
        cJSON_AddItemToObject(doc, "content", cJSON_Duplicate(content, true));
    for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->body, renamed[i][0]);
        if (v) {
            cJSON_DeleteItemFromObjectCaseSensitive(meta, renamed[i][1]);
            cJSON_AddItemToObject(meta, renamed[i][1], cJSON_Duplicate(v, true));
        }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "agentName");
    cJSON_AddStringToObject(meta, "agentName", name);
    cJSON_AddItemToObject(doc, "metadata", meta);
    cJSON_Delete(r->body);
    r->body = doc;
    documents_create(r);
}
