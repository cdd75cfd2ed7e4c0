/* seedflows — seed 003's /api/agents/workflows routes and seed 000's POST /workflow/coordinate,
 * each a translation onto an ordinary run of the engine (sql/006_workflows.sql):
 *
 *   POST  /api/agents/workflows/execute {workflow_type, participating_agents, conversation_id?,
 *         workflow_config?: {routing_rules?, tasks?, inputs?}, input_data?} → a definition:
 *           multi_agent    the participants one after another;
 *           conditional    the first participant, then those routing_rules do not name, one
 *                          after another; then routing_rules, on the last of them, choose one
 *                          of the participants they name (each a step depending on it);
 *           collaborative  every participant at once, sharing the run's shared memory
 *                          (scope run, or conversation when conversation_id is given) and
 *                          its messages.
 *         A participant's step runs workflow_config.tasks[agent] (default ping, which every
 *         agent runs) on workflow_config.inputs[agent] (default the run input, input_data).
 *   GET   /api/agents/workflows/:id             the run in seed 003's shape
 *   PATCH /api/agents/workflows/:id/state {state: paused | running | cancelled}
 *                                               pause, resume or cancel (fs_wf_control)
 *   POST  /workflow/coordinate {steps, input?, stepTimeout?, stopOnFailure?}
 *         a run of one step: the coordinator's coordinate_workflow on the body, checked first
 *         as the coordinator checks it (worker/agents/coordinator/plan.c).
 *
 * docs/workflows.md has the mapping and its examples. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_print.h"
#include "common/strbuf.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/workflows/wfdef.h"
#include "gateway/workflows/workflows.h"
#include "worker/agents/coordinator/plan.h"

#define PARTICIPANTS_MAX 50
#define DEFAULT_TASK "ping"

static const char *const workflow_types[] = {"multi_agent", "conditional", "collaborative", NULL};
static const char *const config_fields[] = {"routing_rules", "tasks", "inputs", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* A request's participants and the step each became, for the definition and its errors. */
struct seed_plan {
    const char *type;
    const char *agents[PARTICIPANTS_MAX];
    int n;
    const cJSON *tasks, *inputs, *routing;
    /* step i of the definition: its agent, and whether routing made it */
    const char *step_agent[PARTICIPANTS_MAX * 2];
    int nsteps;
    int router; /* the step holding routing_rules, or -1 */
};

static int agent_index(const struct seed_plan *p, const char *agent)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->agents[i], agent) == 0)
            return i;
    return -1;
}

/* A step key for agent: the name itself when it is a key ([A-Za-z0-9_-], 1..60), else
 * "step<n>"; "<name>_2" for its second step (conditional: a routed first participant). */
static void key_for(const char *agent, int n, bool second, char *out, size_t len)
{
    size_t a = strlen(agent);
    bool ok =
        a >= 1 && a <= 60 &&
        strspn(agent, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == a;
    if (ok)
        snprintf(out, len, "%s%s", agent, second ? "_2" : "");
    else
        snprintf(out, len, "step%d", n);
}

/* Adds the step of agent (participant index) with dependsOn after (a key, or NULL). Its key
 * goes to key_out. Returns the step, or NULL out of memory. */
static cJSON *add_step(struct seed_plan *p, cJSON *steps, const char *agent, bool second,
                       const char *after, char *key_out, size_t key_len)
{
    cJSON *s = cJSON_CreateObject();
    if (!s || !cJSON_AddItemToArray(steps, s)) {
        cJSON_Delete(s);
        return NULL;
    }
    key_for(agent, p->nsteps, second, key_out, key_len);
    const cJSON *other;
    cJSON_ArrayForEach(other, steps)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(other, "key");
        if (k &&
            strcmp(k->valuestring, key_out) == 0) /* "chat_2" beside a participant of that name */
            snprintf(key_out, key_len, "step%d", p->nsteps);
    }
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(p->tasks, agent);
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(p->inputs, agent);
    cJSON *in = input ? cJSON_Duplicate(input, true) : cJSON_CreateObject();
    if (!input && in && !cJSON_AddStringToObject(in, "$ref", "input")) {
        cJSON_Delete(in);
        in = NULL;
    }
    cJSON *deps = after ? cJSON_AddArrayToObject(s, "dependsOn") : NULL;
    if (!cJSON_AddStringToObject(s, "key", key_out) ||
        !cJSON_AddStringToObject(s, "agent", agent) ||
        !cJSON_AddStringToObject(s, "task", task ? task->valuestring : DEFAULT_TASK) ||
        !cJSON_AddItemToObject(s, "input", in) || (after && !deps) ||
        (after && !cJSON_AddItemToArray(deps, cJSON_CreateString(after))))
        return NULL;
    p->step_agent[p->nsteps++] = agent;
    return s;
}

/* The names routing_rules' entries give (next_agent, default), each a participant; NULL
 * entries are not strings (the routing check refuses them later, naming the field). */
static int check_route_names(const struct seed_plan *p, bool *named, struct field_error *err)
{
    const cJSON *e;
    int k = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(p->routing, "conditions"))
    {
        const char *field = "next_agent";
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, field);
        if (!name) {
            field = "default";
            name = cJSON_GetObjectItemCaseSensitive(e, field);
        }
        if (cJSON_IsString(name)) {
            int at = agent_index(p, name->valuestring);
            char where[80];
            snprintf(where, sizeof(where), "workflow_config.routing_rules.conditions[%d].%s", k,
                     field);
            if (at < 0)
                return field_error_set(err, where, "%s '%.40s' is not one of participating_agents",
                                       where, name->valuestring);
            named[at] = true;
        }
        k++;
    }
    return 0;
}

/* The definition of p's workflow; NULL with err set (field empty: out of memory). */
static cJSON *definition_of(struct seed_plan *p, struct field_error *err)
{
    bool named[PARTICIPANTS_MAX] = {false};
    if (p->routing && check_route_names(p, named, err) < 0)
        return NULL;
    cJSON *def = cJSON_CreateObject();
    cJSON *steps = def ? cJSON_AddArrayToObject(def, "steps") : NULL;
    char desc[120], prev[80] = "", key[80];
    snprintf(desc, sizeof(desc), "%s workflow (POST /api/agents/workflows/execute)", p->type);
    bool ok = steps && cJSON_AddStringToObject(def, "description", desc);
    bool chain = strcmp(p->type, "collaborative") != 0;
    bool conditional = strcmp(p->type, "conditional") == 0;
    cJSON *last = NULL;
    /* The chain (every participant; for conditional, those routing does not name, and the
     * first), or the parallel participants. */
    for (int i = 0; ok && i < p->n; i++) {
        if (conditional && i > 0 && named[i])
            continue;
        last = add_step(p, steps, p->agents[i], false, chain && prev[0] ? prev : NULL, key,
                        sizeof(key));
        ok = last != NULL;
        snprintf(prev, sizeof(prev), "%s", key);
    }
    if (ok && conditional) {
        p->router = p->nsteps - 1;
        ok = cJSON_AddItemToObject(last, "routing", cJSON_Duplicate(p->routing, true));
        for (int i = 0; ok && i < p->n; i++)
            if (named[i])
                ok = add_step(p, steps, p->agents[i], i == 0, prev, key, sizeof(key)) != NULL;
    }
    if (!ok) {
        cJSON_Delete(def);
        err->field[0] = '\0';
        return NULL;
    }
    return def;
}

/* Names err, about "definition.steps[i].<rest>", by the request's fields instead: routing
 * rules, an agent's task or input. */
static void request_names(const struct seed_plan *p, struct field_error *err)
{
    int i = -1, used = 0;
    if (sscanf(err->field, "definition.steps[%d].%n", &i, &used) < 1 || used == 0 || i < 0 ||
        i >= p->nsteps)
        return;
    const char *rest = err->field + used;
    char field[sizeof(err->field)];
    if (strncmp(rest, "routing", 7) == 0 && i == p->router)
        snprintf(field, sizeof(field), "workflow_config.routing_rules%s", rest + 7);
    else if (strncmp(rest, "input", 5) == 0)
        snprintf(field, sizeof(field), "workflow_config.inputs.%.30s", p->step_agent[i]);
    else if (strcmp(rest, "task") == 0)
        snprintf(field, sizeof(field), "workflow_config.tasks.%.30s", p->step_agent[i]);
    else
        return;
    const char *tail = err->message + strlen(err->field);
    char message[sizeof(err->message)];
    snprintf(message, sizeof(message), "%s%s", field, tail);
    snprintf(err->field, sizeof(err->field), "%s", field);
    snprintf(err->message, sizeof(err->message), "%s", message);
}

/* Reads the body into p. Returns 0, or -1 having answered 400. */
static int read_request(struct request *r, struct seed_plan *p)
{
    struct field_error err;
    cJSON *agents = NULL, *config = NULL;
    if (json_get_string(r->body, "workflow_type", true, 1, 32, &p->type, &err) < 0 ||
        json_get_string_array(r->body, "participating_agents", true, PARTICIPANTS_MAX,
                              AGENT_NAME_MAX, &agents, &err) < 0 ||
        json_get_object(r->body, "workflow_config", false, &config, &err) < 0) {
        request_field_error(r, &err);
        return -1;
    }
    if (!in_list(workflow_types, p->type)) {
        request_error(r, 400, "invalid_field", "workflow_type",
                      "workflow_type must be multi_agent, conditional or collaborative");
        return -1;
    }
    const cJSON *a;
    cJSON_ArrayForEach(a, agents)
    {
        if (request_check_agent_name(r, a->valuestring, "participating_agents") < 0)
            return -1;
        if (agent_index(p, a->valuestring) >= 0) {
            request_error(r, 400, "invalid_field", "participating_agents",
                          "participating_agents names %s twice", a->valuestring);
            return -1;
        }
        p->agents[p->n++] = a->valuestring;
    }
    bool conditional = strcmp(p->type, "conditional") == 0;
    if (p->n < (conditional ? 2 : 1)) {
        request_error(r, 400, "invalid_field", "participating_agents",
                      "participating_agents must name %s agent%s",
                      conditional ? "2 or more" : "1 or more",
                      conditional ? "s (the first, then those routing chooses from)" : "");
        return -1;
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, config)
    {
        if (!in_list(config_fields, f->string)) {
            request_error(r, 400, "invalid_field", "workflow_config",
                          "workflow_config.%.40s is an unknown field (routing_rules, tasks and "
                          "inputs are known)",
                          f->string);
            return -1;
        }
    }
    p->routing = cJSON_GetObjectItemCaseSensitive(config, "routing_rules");
    p->tasks = cJSON_GetObjectItemCaseSensitive(config, "tasks");
    p->inputs = cJSON_GetObjectItemCaseSensitive(config, "inputs");
    if (conditional != (p->routing != NULL)) {
        request_error(r, 400, "invalid_field", "workflow_config.routing_rules",
                      conditional ? "workflow_config.routing_rules is required for a "
                                    "conditional workflow"
                                  : "workflow_config.routing_rules applies to conditional "
                                    "workflows only");
        return -1;
    }
    if ((p->tasks && !cJSON_IsObject(p->tasks)) || (p->inputs && !cJSON_IsObject(p->inputs))) {
        request_error(r, 400, "invalid_field",
                      p->tasks && !cJSON_IsObject(p->tasks) ? "workflow_config.tasks"
                                                            : "workflow_config.inputs",
                      "workflow_config.tasks and workflow_config.inputs must be objects keyed "
                      "by participating agent");
        return -1;
    }
    const cJSON *maps[2] = {p->tasks, p->inputs};
    for (int m = 0; m < 2; m++) {
        cJSON_ArrayForEach(f, maps[m])
        {
            const char *field = m ? "workflow_config.inputs" : "workflow_config.tasks";
            if (agent_index(p, f->string) < 0) {
                request_error(r, 400, "invalid_field", field,
                              "%s.%.60s: not one of participating_agents", field, f->string);
                return -1;
            }
            if (!m && (!cJSON_IsString(f) || !json_is_identifier(f->valuestring, WFDEF_TASK_MAX))) {
                request_error(r, 400, "invalid_field", field,
                              "%s.%.60s must be a task name: letters, digits, '_', '.' or '-'",
                              field, f->string);
                return -1;
            }
        }
    }
    return 0;
}

/* POST /api/agents/workflows/execute → 201 with the run in seed 003's shape (workflow_id is
 * the run's id). */
void seed_workflow_execute(struct request *r)
{
    struct seed_plan p = {.router = -1};
    struct field_error err;
    const char *conversation = NULL;
    cJSON *input = NULL;
    if (json_get_string(r->body, "conversation_id", false, 1, WF_KEY_MAX, &conversation, &err) <
            0 ||
        json_get_object(r->body, "input_data", false, &input, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    if (read_request(r, &p) < 0)
        return;
    cJSON *def = definition_of(&p, &err);
    char *def_text = def ? wf_definition_compile(def, &err) : NULL;
    cJSON_Delete(def);
    if (!def_text) {
        if (!err.field[0]) {
            request_error(r, 500, "internal", NULL, "out of memory");
            return;
        }
        request_names(&p, &err);
        request_field_error(r, &err);
        return;
    }
    char *input_text = input ? json_print(input) : NULL;
    struct strbuf agents = {0};
    bool ok = (!input || input_text) && strbuf_add(&agents, "{", 1) == 0;
    for (int i = 0; ok && i < p.n; i++)
        ok = (i == 0 || strbuf_add(&agents, ",", 1) == 0) &&
             strbuf_add(&agents, p.agents[i], strlen(p.agents[i])) == 0;
    ok = ok && strbuf_add(&agents, "}", 1) == 0;
    if (!ok) {
        request_error(r, 500, "internal", NULL, "out of memory");
    } else {
        const char *params[5] = {def_text, input_text ? input_text : "{}", conversation, p.type,
                                 agents.p};
        r->ok_status = 201;
        if (pgpool_query(r->gw->pool, Q_WF_SEED_START, 5, params, request_reply_first_cell, r) < 0)
            request_unavailable(r);
    }
    free(def_text);
    free(input_text);
    free(agents.p);
}

/* GET /api/agents/workflows/:id */
void seed_workflow_get(struct request *r)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    const char *params[1] = {id};
    request_query_body(r, Q_WF_SEED_GET, 1, params, 200);
}

/* PATCH /api/agents/workflows/:id/state {state} */
void seed_workflow_state(struct request *r)
{
    static const char *const states[][2] = {
        {"paused", "pause"}, {"running", "resume"}, {"cancelled", "cancel"}};
    struct field_error err;
    const char *state = NULL;
    if (json_get_string(r->body, "state", true, 1, 32, &state, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
        if (strcmp(state, states[k][0]) == 0) {
            wf_run_control(r, Q_WF_SEED_CONTROL, states[k][1]);
            return;
        }
    }
    request_error(r, 400, "invalid_field", "state",
                  "state must be paused, running (to resume a paused run) or cancelled");
}

/* POST /workflow/coordinate: the body is a coordinate_workflow task's data. → 201 with the
 * run in seed 003's shape. */
void workflow_coordinate(struct request *r)
{
    struct plan plan;
    struct plan_error perr;
    if (plan_read(r->body, &plan, &perr) < 0) {
        /* The coordinator names the fields of its task's data ("data.steps[0].name"). */
        bool in_data = strncmp(perr.field, "data.", 5) == 0;
        request_error(r, 400, "invalid_field", in_data ? perr.field + 5 : "body", "%s",
                      strncmp(perr.message, "data.", 5) == 0 ? perr.message + 5 : perr.message);
        return;
    }
    cJSON *def = cJSON_CreateObject(), *steps = def ? cJSON_AddArrayToObject(def, "steps") : NULL;
    cJSON *step = steps ? cJSON_CreateObject() : NULL;
    char *def_text = NULL;
    struct field_error err = {{0}, {0}};
    if (step && cJSON_AddItemToArray(steps, step) &&
        cJSON_AddStringToObject(def, "description", "POST /workflow/coordinate") &&
        cJSON_AddStringToObject(step, "key", "coordinate") &&
        cJSON_AddStringToObject(step, "agent", "coordinator") &&
        cJSON_AddStringToObject(step, "task", "coordinate_workflow") &&
        cJSON_AddItemReferenceToObject(step, "input", r->body))
        def_text = wf_definition_compile(def, &err);
    else
        cJSON_Delete(step);
    cJSON_Delete(def);
    if (!def_text) {
        if (err.field[0]) /* an input nested deeper than a step's may be */
            request_field_error(r, &err);
        else
            request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    const char *params[5] = {def_text, "{}", NULL, NULL, NULL};
    r->ok_status = 201;
    if (pgpool_query(r->gw->pool, Q_WF_SEED_START, 5, params, request_reply_first_cell, r) < 0)
        request_unavailable(r);
    free(def_text);
}
