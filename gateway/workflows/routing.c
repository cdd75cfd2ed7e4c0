/* routing — compiles seed 003's routing rules into `when` clauses on the routed children
 * (routing.h). Condition i chooses its child when it holds and no condition before it does;
 * the default chooses when none holds. A child named by several entries runs when any of
 * them chooses it. The clauses read the routing step's output, whose run has settled before
 * any child is decided, so the engine evaluates them as any other `when`. */
#include "gateway/workflows/routing.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/workflows/wfdef.h"

static const char *const routing_fields[] = {"conditions", NULL};
static const char *const rule_fields[] = {"field", "operator", "value", "next_agent", NULL};

static bool known(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static const char *step_key(const cJSON *step)
{
    return cJSON_GetObjectItemCaseSensitive(step, "key")->valuestring;
}

static bool depends_on(const cJSON *step, const char *key)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(step, "dependsOn"))
    {
        if (strcmp(d->valuestring, key) == 0)
            return true;
    }
    return false;
}

int wf_routing_target(const cJSON *steps, int from, const char *name)
{
    const char *key = step_key(cJSON_GetArrayItem(steps, from));
    int by_agent = -1, k = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, steps)
    {
        if (depends_on(s, key)) {
            if (strcmp(step_key(s), name) == 0)
                return k;
            const cJSON *agent = cJSON_GetObjectItemCaseSensitive(s, "agent");
            if (cJSON_IsString(agent) && strcmp(agent->valuestring, name) == 0)
                by_agent = by_agent == -1 ? k : -2;
        }
        k++;
    }
    return by_agent;
}

/* A relative field path: 1 or more non-empty dot-separated parts, few enough that
 * "steps.<key>.output." before them stays a reference wfdef accepts. */
static int check_field(const char *field, int i, const char *key, const char *where,
                       struct field_error *err)
{
    size_t len = strlen(field), room = WFDEF_REF_MAX - strlen(key) - 14;
    int parts = 1;
    for (const char *p = field; *p; p++)
        parts += *p == '.';
    if (len == 0 || len > room || field[0] == '.' || field[len - 1] == '.' || strstr(field, ".."))
        return wfdef_step_error(err, i, key, where,
                                "must be a path of 1 to %zu characters into the step's output, "
                                "without empty parts ('metadata.lead_score')",
                                room);
    if (parts > WFDEF_REF_SEGMENTS_MAX - 3)
        return wfdef_step_error(err, i, key, where, "has %d parts; at most %d are allowed", parts,
                                WFDEF_REF_SEGMENTS_MAX - 3);
    return 0;
}

/* Condition entry e (routing.conditions[n]) of step i as a `when` leaf reading step i's
 * output, with its target in *target; NULL with err set (field empty: out of memory). */
static cJSON *read_rule(const cJSON *steps, int i, const cJSON *e, int n, int *target,
                        struct field_error *err)
{
    const char *key = step_key(cJSON_GetArrayItem(steps, i));
    char where[64], sub[160];
    snprintf(where, sizeof(where), "routing.conditions[%d]", n);
    const cJSON *f;
    cJSON_ArrayForEach(f, e)
    {
        if (!known(rule_fields, f->string)) {
            snprintf(sub, sizeof(sub), "%s.%.40s", where, f->string);
            wfdef_step_error(err, i, key, sub,
                             "is an unknown field (a condition has field, operator, value and "
                             "next_agent; the last entry may be {\"default\": agent})");
            return NULL;
        }
    }
    const char *field = NULL, *next = NULL;
    if (json_get_string(e, "field", true, 1, WFDEF_REF_MAX, &field, err) < 0 ||
        json_get_string(e, "next_agent", true, 1, WFDEF_KEY_MAX, &next, err) < 0) {
        snprintf(sub, sizeof(sub), "%s.", where);
        field_error_prefix(err, sub);
        wfdef_at_step(err, i, key);
        return NULL;
    }
    snprintf(sub, sizeof(sub), "%s.field", where);
    if (check_field(field, i, key, sub, err) < 0)
        return NULL;
    snprintf(sub, sizeof(sub), "%s.next_agent", where);
    *target = wf_routing_target(steps, i, next);
    if (*target == -2) {
        wfdef_step_error(err, i, key, sub,
                         "'%.40s' is the agent of several steps that depend on '%s': name one by "
                         "its key",
                         next, key);
        return NULL;
    }
    if (*target < 0) {
        wfdef_step_error(err, i, key, sub,
                         "'%.40s' names no step that depends on '%s' (by key, or by agent)", next,
                         key);
        return NULL;
    }
    cJSON *leaf = cJSON_CreateObject();
    char path[WFDEF_REF_MAX + 1];
    snprintf(path, sizeof(path), "steps.%s.output.%s", key, field);
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(e, "operator");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(e, "value");
    if (!leaf || !cJSON_AddStringToObject(leaf, "field", path) ||
        (op && !cJSON_AddItemToObject(leaf, "operator", cJSON_Duplicate(op, true))) ||
        (value && !cJSON_AddItemToObject(leaf, "value", cJSON_Duplicate(value, true)))) {
        cJSON_Delete(leaf);
        err->field[0] = '\0';
        return NULL;
    }
    if (wfdef_check_when(leaf, where, err) < 0) {
        wfdef_at_step(err, i, key);
        cJSON_Delete(leaf);
        return NULL;
    }
    return leaf;
}

/* {form: [copies of items[0..n)]} or, for one item, its copy; NULL out of memory. */
static cJSON *combine(const char *form, cJSON *const *items, int n)
{
    if (n == 1)
        return cJSON_Duplicate(items[0], true);
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, form);
    for (int k = 0; a && k < n; k++)
        if (!cJSON_AddItemToArray(a, cJSON_Duplicate(items[k], true)))
            a = NULL;
    if (!a) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *negate(cJSON *c)
{
    cJSON *o = c ? cJSON_CreateObject() : NULL;
    if (!o || !cJSON_AddItemToObject(o, "not", c)) {
        cJSON_Delete(o);
        cJSON_Delete(c);
        return NULL;
    }
    return o;
}

/* What holds when entry k chooses: conds[k] and none before it (k == n: the default, none of
 * the n). NULL: always (a default without conditions) — or out of memory, *oom set. */
static cJSON *chooses(cJSON *const *conds, int k, int n, bool *oom)
{
    if (k == 0 && n == 0)
        return NULL;
    cJSON *none_before = k > 0 ? negate(combine("any", conds, k)) : NULL;
    cJSON *c = none_before;
    if (k < n) {
        cJSON *pair[2] = {none_before, conds[k]};
        c = combine("all", k > 0 ? pair : pair + 1, k > 0 ? 2 : 1);
        cJSON_Delete(none_before);
    }
    *oom |= !c;
    return c;
}

/* Adds clause (taken) to step c's `when`; 1 added, 0 there already, -1 out of memory. */
static int attach(cJSON *c, cJSON *clause)
{
    cJSON *when = cJSON_GetObjectItemCaseSensitive(c, "when");
    if (!when || cJSON_IsNull(when)) {
        cJSON_DeleteItemFromObjectCaseSensitive(c, "when");
        return cJSON_AddItemToObject(c, "when", clause) ? 1 : (cJSON_Delete(clause), -1);
    }
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(when, "all"), *e;
    bool there = cJSON_Compare(when, clause, true);
    if (cJSON_IsArray(all)) {
        cJSON_ArrayForEach(e, all) there |= cJSON_Compare(e, clause, true);
    }
    if (there) {
        cJSON_Delete(clause);
        return 0;
    }
    cJSON *pair[2] = {when, clause};
    cJSON *both = combine("all", pair, 2);
    cJSON_Delete(clause);
    if (!both)
        return -1;
    return cJSON_ReplaceItemInObjectCaseSensitive(c, "when", both) ? 1 : (cJSON_Delete(both), -1);
}

/* Step i's routing: read, then one clause per child it names. */
static int compile_step(cJSON *steps, int i, const cJSON *routing, struct field_error *err)
{
    const char *key = step_key(cJSON_GetArrayItem(steps, i));
    if (!cJSON_IsObject(routing))
        return wfdef_step_error(err, i, key, "routing",
                                "must be an object {\"conditions\": [...]}");
    const cJSON *f;
    cJSON_ArrayForEach(f, routing)
    {
        if (!known(routing_fields, f->string)) {
            char field[64];
            snprintf(field, sizeof(field), "routing.%.40s", f->string);
            return wfdef_step_error(err, i, key, field, "is an unknown field");
        }
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(routing, "conditions");
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (n == 0 || n > WF_ROUTING_CONDITIONS_MAX)
        return wfdef_step_error(err, i, key, "routing.conditions",
                                "must be an array of 1 to %d entries", WF_ROUTING_CONDITIONS_MAX);
    cJSON *conds[WF_ROUTING_CONDITIONS_MAX] = {0};
    int targets[WF_ROUTING_CONDITIONS_MAX], nconds = 0, dflt = -1, rc = -1;
    char field[64];
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        int at = nconds + (dflt >= 0);
        snprintf(field, sizeof(field), "routing.conditions[%d]", at);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "default");
        if (!cJSON_IsObject(e)) {
            wfdef_step_error(err, i, key, field, "must be an object");
            goto done;
        }
        if (!d) {
            if (!(conds[nconds] = read_rule(steps, i, e, at, &targets[nconds], err)))
                goto done;
            nconds++;
            continue;
        }
        if (at != n - 1 || cJSON_GetArraySize(e) != 1 || !cJSON_IsString(d)) {
            wfdef_step_error(err, i, key, field,
                             "with default must be the last entry, and only {\"default\": agent}");
            goto done;
        }
        snprintf(field, sizeof(field), "routing.conditions[%d].default", at);
        dflt = wf_routing_target(steps, i, d->valuestring);
        if (dflt < 0) {
            wfdef_step_error(err, i, key, field, "'%.40s' %s", d->valuestring,
                             dflt == -2
                                 ? "is the agent of several children: name one by its key"
                                 : "names no step that depends on this one (by key, or agent)");
            goto done;
        }
    }
    /* One clause per child named, in the order first named. */
    rc = 0;
    for (int k = 0; k <= nconds && rc >= 0; k++) {
        int child = k < nconds ? targets[k] : dflt;
        bool first = child >= 0;
        for (int j = 0; j < k && first; j++)
            first = targets[j] != child;
        if (!first)
            continue;
        cJSON *sels[WF_ROUTING_CONDITIONS_MAX + 1];
        int nsels = 0;
        bool oom = false, always = false;
        for (int j = k; j <= nconds; j++) {
            if ((j < nconds ? targets[j] : dflt) != child)
                continue;
            sels[nsels] = chooses(conds, j, nconds, &oom);
            always |= !sels[nsels] && !oom;
            nsels += sels[nsels] != NULL;
        }
        cJSON *clause = oom || always ? NULL : combine("any", sels, nsels);
        for (int j = 0; j < nsels; j++)
            cJSON_Delete(sels[j]);
        if (oom || (!always && !clause)) {
            err->field[0] = '\0';
            rc = -1;
        } else if (clause) {
            int added = attach(cJSON_GetArrayItem(steps, child), clause);
            if (added < 0)
                err->field[0] = '\0';
            rc = added < 0 ? -1 : rc | added;
        }
    }
done:
    for (int k = 0; k < nconds; k++)
        cJSON_Delete(conds[k]);
    return rc;
}

int wf_routing_compile(cJSON *def, struct field_error *err)
{
    cJSON *steps = cJSON_GetObjectItemCaseSensitive(def, "steps");
    int changed = 0, i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, steps)
    {
        const cJSON *routing = cJSON_GetObjectItemCaseSensitive(s, "routing");
        if (routing && !cJSON_IsNull(routing)) {
            int rc = compile_step(steps, i, routing, err);
            if (rc < 0)
                return -1;
            changed |= rc;
        }
        i++;
    }
    return changed;
}
