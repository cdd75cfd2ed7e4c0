/* visualize — a run's graph and its Mermaid text (visualize.h), and the route that answers
 * it. An edge is "routing" when the parent's routing rules name the child (resolved as
 * routing.c resolves them), "when" when the child's `when` reads the parent's output, and
 * plain otherwise. */
#include "gateway/workflows/visualize.h"

#include <stdarg.h>
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
#include "gateway/workflows/routing.h"
#include "gateway/workflows/workflows.h"

/* Mermaid classes of the step statuses (a status without one is drawn plain). */
static const char *const status_classes[][2] = {
    {"pending", "fill:#f4f4f5,stroke:#a1a1aa"},
    {"running", "fill:#dbeafe,stroke:#2563eb"},
    {"completed", "fill:#dcfce7,stroke:#16a34a"},
    {"failed", "fill:#fee2e2,stroke:#dc2626"},
    {"skipped", "fill:#fafafa,stroke:#d4d4d8,stroke-dasharray:4 3"},
    {"cancelled", "fill:#fef9c3,stroke:#ca8a04"},
};

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Whether `when` (or a part of it) reads steps.<key>. */
static bool when_reads(const cJSON *when, const char *key)
{
    if (!cJSON_IsObject(when))
        return false;
    const char *forms[] = {"all", "any", "not"};
    for (int k = 0; k < 3; k++) {
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(when, forms[k]), *c;
        if (!inner)
            continue;
        if (cJSON_IsObject(inner))
            return when_reads(inner, key);
        cJSON_ArrayForEach(c, inner)
        {
            if (when_reads(c, key))
                return true;
        }
        return false;
    }
    const char *field = str(when, "field");
    size_t n = strlen(key);
    return field && strncmp(field, "steps.", 6) == 0 && strncmp(field + 6, key, n) == 0 &&
           field[6 + n] == '.';
}

/* Whether parent p's routing rules (def steps) name child c. */
static bool routes_to(const cJSON *steps, int p, int c)
{
    const cJSON *routing =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(steps, p), "routing");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(routing, "conditions"))
    {
        const char *name = str(e, "next_agent");
        if (!name)
            name = str(e, "default");
        if (name && wf_routing_target(steps, p, name) == c)
            return true;
    }
    return false;
}

static int index_of(const cJSON *steps, const char *key)
{
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, steps)
    {
        const char *k = str(s, "key");
        if (k && strcmp(k, key) == 0)
            return i;
        i++;
    }
    return -1;
}

static int addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int addf(struct strbuf *b, const char *fmt, ...)
{
    char piece[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(piece, sizeof(piece), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    return strbuf_add(b, piece, (size_t)n < sizeof(piece) ? (size_t)n : sizeof(piece) - 1);
}

static const char *class_of(const char *status)
{
    for (size_t k = 0; status && k < sizeof(status_classes) / sizeof(status_classes[0]); k++)
        if (strcmp(status, status_classes[k][0]) == 0)
            return status_classes[k][0];
    return NULL;
}

static void copy_field(cJSON *to, const cJSON *from, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, name);
    cJSON_AddItemToObject(to, name, v ? cJSON_Duplicate(v, true) : cJSON_CreateNull());
}

cJSON *wf_visualize(const cJSON *run)
{
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(run, "steps");
    const cJSON *defsteps = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(run, "definition"), "steps");
    if (!cJSON_IsArray(steps) || !cJSON_IsArray(defsteps))
        return NULL;
    cJSON *out = cJSON_CreateObject();
    cJSON *nodes = cJSON_CreateArray(), *edges = cJSON_CreateArray();
    struct strbuf m = {0};
    int bad = !out || !nodes || !edges;
    if (!bad) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(run, "id");
        cJSON_AddItemToObject(out, "runId", id ? cJSON_Duplicate(id, true) : cJSON_CreateNull());
        copy_field(out, run, "status");
        cJSON_AddItemToObject(out, "nodes", nodes);
        cJSON_AddItemToObject(out, "edges", edges);
        nodes = edges = NULL;
    }
    bad |= addf(&m, "graph TD\n");
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, steps)
    {
        const cJSON *def = cJSON_GetArrayItem(defsteps, i);
        const char *kind = str(def, "kind"), *status = str(s, "status");
        const char *agent = str(s, "agent"), *task = str(s, "task"), *key = str(s, "key");
        cJSON *node = cJSON_CreateObject();
        bad |= !node || !cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(out, "nodes"), node);
        if (bad)
            break;
        copy_field(node, s, "key");
        cJSON_AddStringToObject(node, "kind", kind ? kind : "agent");
        static const char *const copied[] = {"agent",     "task",       "status",
                                             "attempts",  "jobId",      "queuedAt",
                                             "startedAt", "finishedAt", "error"};
        for (size_t k = 0; k < sizeof(copied) / sizeof(copied[0]); k++)
            copy_field(node, s, copied[k]);
        cJSON_AddBoolToObject(node, "routing",
                              cJSON_GetObjectItemCaseSensitive(def, "routing") != NULL);
        const char *cls = class_of(status);
        bad |= addf(&m, "  n%d[\"%s<br/>%s: %s\"]%s%s\n", i, key ? key : "?", agent ? agent : "",
                    task ? task : "", cls ? ":::" : "", cls ? cls : "");
        i++;
    }
    i = 0;
    cJSON_ArrayForEach(s, defsteps)
    {
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(s, "dependsOn"))
        {
            int p = cJSON_IsString(d) ? index_of(defsteps, d->valuestring) : -1;
            if (p < 0 || bad)
                continue;
            const char *cond =
                routes_to(defsteps, p, i) ? "routing"
                : when_reads(cJSON_GetObjectItemCaseSensitive(s, "when"), d->valuestring) ? "when"
                                                                                          : NULL;
            cJSON *edge = cJSON_CreateObject();
            bad |= !edge ||
                   !cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(out, "edges"), edge);
            if (bad)
                break;
            cJSON_AddStringToObject(edge, "from", d->valuestring);
            cJSON_AddStringToObject(edge, "to", str(s, "key"));
            cJSON_AddItemToObject(edge, "condition",
                                  cond ? cJSON_CreateString(cond) : cJSON_CreateNull());
            bad |= cond ? addf(&m, "  n%d -.->|%s| n%d\n", p, cond, i)
                        : addf(&m, "  n%d --> n%d\n", p, i);
        }
        i++;
    }
    for (size_t k = 0; k < sizeof(status_classes) / sizeof(status_classes[0]); k++)
        bad |= addf(&m, "  classDef %s %s\n", status_classes[k][0], status_classes[k][1]);
    if (!bad && !cJSON_AddStringToObject(out, "mermaid", m.p))
        bad = 1;
    free(m.p);
    cJSON_Delete(nodes);
    cJSON_Delete(edges);
    if (bad) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

static void run_read(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!wf_run_found(r, res))
        return;
    cJSON *run = cJSON_ParseWithLength(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    cJSON *graph = run ? wf_visualize(run) : NULL;
    char *text = graph ? json_print(graph) : NULL;
    if (text)
        request_reply(r, 200, text, strlen(text));
    else
        request_error(r, 500, "internal", NULL, "out of memory");
    free(text);
    cJSON_Delete(graph);
    cJSON_Delete(run);
}

/* GET /api/workflows/runs/:id/visualization and /api/agents/workflows/:id/visualization. */
void wf_run_visualize(struct request *r)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    const char *params[1] = {id};
    if (pgpool_query(r->gw->pool, Q_WF_RUN_GET, 1, params, run_read, r) < 0)
        request_unavailable(r);
}
