/* wfbuild — coordinate_workflow plans as workflow definitions (see wfbuild.h). */
#include "worker/agents/coordinator/wfbuild.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "worker/agents/coordinator/refpath.h"

int wfbuild_path(const char *ref, char *out, size_t len)
{
    char buf[REFPATH_MAX + 1];
    const char *key;
    long index;
    size_t o = 0;
    int n = 0;
    bool steps = false;
    if (!ref || ref[0] != '$' || len == 0)
        return -1;
    for (const char *p = ref + 1; *p; n++) {
        if (!(p = refpath_next(p, buf, sizeof(buf), &key, &index)))
            return -1;
        char part[REFPATH_MAX + 24];
        if (n == 0)
            steps = key && strcmp(key, "steps") == 0;
        /* The engine names a step's result "output". */
        const char *name = steps && n == 2 && key && strcmp(key, "result") == 0 ? "output" : key;
        if (name)
            snprintf(part, sizeof(part), "%s", name);
        else
            snprintf(part, sizeof(part), "%ld", index);
        int w = snprintf(out + o, len - o, "%s%s", n ? "." : "", part);
        if (w < 0 || (size_t)w >= len - o)
            return -1;
        o += (size_t)w;
    }
    return n ? 0 : -1;
}

/* The step a reference reads ("$.steps.<name>…"), or -1 for the run input. */
static int ref_step(const struct plan *p, const char *ref)
{
    char buf[REFPATH_MAX + 1];
    const char *key;
    long index;
    const char *rest = refpath_next(ref + 1, buf, sizeof(buf), &key, &index);
    if (!rest || !key || strcmp(key, "steps") != 0)
        return -1;
    if (!refpath_next(rest, buf, sizeof(buf), &key, &index) || !key)
        return -1;
    for (int j = 0; j < p->nsteps; j++)
        if (strcmp(p->steps[j].name, key) == 0)
            return j;
    return -1;
}

static cJSON *ref_object(const char *ref)
{
    char path[REFPATH_MAX + 1];
    if (wfbuild_path(ref, path, sizeof(path)) < 0)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "$ref", path)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *step_input(const struct plan_step *st)
{
    cJSON *in = st->data ? cJSON_Duplicate(st->data, 1) : cJSON_CreateObject();
    const cJSON *m;
    cJSON_ArrayForEach(m, st->input)
    {
        cJSON *ref = ref_object(m->valuestring);
        if (!in || !ref) {
            cJSON_Delete(ref);
            cJSON_Delete(in);
            return NULL;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(in, m->string);
        cJSON_AddItemToObject(in, m->string, ref);
    }
    return in;
}

/* Step i's parents as an array of names, each once, in list order. */
static cJSON *step_parents(const struct plan *p, int i)
{
    const struct plan_step *st = &p->steps[i];
    bool parent[PLAN_MAX_STEPS] = {false};
    const cJSON *m;
    if (st->depends_on) {
        cJSON_ArrayForEach(m, st->depends_on)
        {
            for (int j = 0; j < i; j++)
                parent[j] |= strcmp(p->steps[j].name, m->valuestring) == 0;
        }
    } else if (i > 0) {
        parent[i - 1] = true;
    }
    cJSON_ArrayForEach(m, st->input)
    {
        int j = ref_step(p, m->valuestring);
        if (j >= 0)
            parent[j] = true;
    }
    if (st->condition) {
        int j = ref_step(p, cJSON_GetObjectItemCaseSensitive(st->condition, "field")->valuestring);
        if (j >= 0)
            parent[j] = true;
    }
    cJSON *deps = cJSON_CreateArray();
    for (int j = 0; deps && j < i; j++)
        if (parent[j])
            cJSON_AddItemToArray(deps, cJSON_CreateString(p->steps[j].name));
    return deps;
}

static cJSON *step_when(const cJSON *cond)
{
    cJSON *when = cJSON_Duplicate(cond, 1);
    char path[REFPATH_MAX + 1];
    if (!when ||
        wfbuild_path(cJSON_GetObjectItemCaseSensitive(cond, "field")->valuestring, path,
                     sizeof(path)) < 0 ||
        !cJSON_ReplaceItemInObjectCaseSensitive(when, "field", cJSON_CreateString(path))) {
        cJSON_Delete(when);
        return NULL;
    }
    return when;
}

cJSON *wfbuild_definition(const struct plan *p, const char *const *agents)
{
    cJSON *def = cJSON_CreateObject();
    cJSON *steps = cJSON_AddArrayToObject(def, "steps");
    if (!steps)
        goto oom;
    for (int i = 0; i < p->nsteps; i++) {
        const struct plan_step *st = &p->steps[i];
        cJSON *s = cJSON_CreateObject();
        if (!s)
            goto oom;
        cJSON_AddItemToArray(steps, s);
        cJSON *input = step_input(st), *deps = step_parents(p, i);
        cJSON *when = st->condition ? step_when(st->condition) : NULL;
        if (!input || !deps || (st->condition && !when)) {
            cJSON_Delete(input);
            cJSON_Delete(deps);
            cJSON_Delete(when);
            goto oom;
        }
        cJSON_AddStringToObject(s, "key", st->name);
        cJSON_AddStringToObject(s, "agent", agents[i]);
        cJSON_AddStringToObject(s, "task", st->target.task_type);
        cJSON_AddItemToObject(s, "input", input);
        cJSON_AddItemToObject(s, "dependsOn", deps);
        if (st->retries >= 0)
            cJSON_AddNumberToObject(s, "retries", (double)st->retries);
        if (st->timeout_seconds > 0)
            cJSON_AddNumberToObject(s, "timeoutSeconds", (double)st->timeout_seconds);
        if (when)
            cJSON_AddItemToObject(s, "when", when);
        if (!p->stop_on_failure)
            cJSON_AddTrueToObject(s, "continueOnFailure");
    }
    return def;
oom:
    cJSON_Delete(def);
    return NULL;
}
