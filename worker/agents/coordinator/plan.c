/* plan — up-front validation of workflow payloads (see plan.h). */
#include "worker/agents/coordinator/plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "worker/agents/coordinator/refpath.h"

#define NAME_LEN 100 /* task types, agent names, capabilities */

static int plan_fail(struct plan_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills err: field, and message = field + " " + the formatted rest. Returns -1. */
static int plan_fail(struct plan_error *err, const char *field, const char *fmt, ...)
{
    char rest[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rest, sizeof(rest), fmt, ap);
    va_end(ap);
    snprintf(err->field, sizeof(err->field), "%s", field);
    snprintf(err->message, sizeof(err->message), "%s %s", field, rest);
    return -1;
}

/* Turns a common/json.h error about a member of the object at prefix into a plan error:
 * its message starts with the member's name, so prefixing it names the whole path. */
static int from_field_error(struct plan_error *err, const char *prefix,
                            const struct field_error *fe)
{
    snprintf(err->field, sizeof(err->field), "%s.%s", prefix, fe->field);
    snprintf(err->message, sizeof(err->message), "%s.%s", prefix, fe->message);
    return -1;
}

static bool is_step_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PLAN_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

int plan_read_target(const cJSON *obj, const char *prefix, struct plan_target *t,
                     struct plan_error *err)
{
    struct field_error fe;
    t->agent = t->capability = NULL;
    if (json_get_string(obj, "agent", false, 1, NAME_LEN, &t->agent, &fe) < 0 ||
        json_get_string(obj, "capability", false, 1, NAME_LEN, &t->capability, &fe) < 0)
        return from_field_error(err, prefix, &fe);
    if (t->agent && !json_is_identifier(t->agent, NAME_LEN)) {
        char field[200];
        snprintf(field, sizeof(field), "%s.agent", prefix);
        return plan_fail(err, field, "must consist of [A-Za-z0-9_.-]");
    }
    if (t->agent && t->capability) {
        char field[200];
        snprintf(field, sizeof(field), "%s.capability", prefix);
        return plan_fail(err, field,
                         "cannot be given together with agent: name one agent or one capability");
    }
    return 0;
}

/* Checks one input reference of step i (field names it): "$.input…" or
 * "$.steps.<earlier step>.result…". */
static int check_reference(const struct plan *p, int i, const cJSON *ref, const char *field,
                           struct plan_error *err)
{
    char why[128], buf[REFPATH_MAX + 1];
    if (!cJSON_IsString(ref))
        return plan_fail(
            err, field,
            "must be a reference string such as \"$.input.x\" or \"$.steps.<name>.result.x\"");
    if (refpath_check(ref->valuestring, why, sizeof(why)) < 0)
        return plan_fail(err, field, "%s", why);
    const char *key;
    long index;
    const char *rest = refpath_next(ref->valuestring + 1, buf, sizeof(buf), &key, &index);
    if (rest && key && strcmp(key, "input") == 0)
        return 0;
    if (!rest || !key || strcmp(key, "steps") != 0)
        return plan_fail(err, field, "must start with $.input or $.steps.<name>.result");
    rest = refpath_next(rest, buf, sizeof(buf), &key, &index);
    if (!rest || !key)
        return plan_fail(err, field, "must name a step: $.steps.<name>.result");
    int j = 0;
    while (j < p->nsteps && strcmp(p->steps[j].name, key) != 0)
        j++;
    if (j == p->nsteps)
        return plan_fail(err, field, "refers to an unknown step '%s'", key);
    if (j >= i)
        return plan_fail(err, field, "refers to step '%s', which does not run before this one",
                         key);
    rest = refpath_next(rest, buf, sizeof(buf), &key, &index);
    if (!rest || !key || strcmp(key, "result") != 0)
        return plan_fail(err, field, "must read a step's result: $.steps.%s.result…",
                         p->steps[j].name);
    return 0;
}

/* Step keys this version runs; anything else is refused, so a misspelt key is not ignored. */
static const char *const step_keys[] = {"name",    "taskType",       "agent",     "capability",
                                        "data",    "input",          "timeout",   "dependsOn",
                                        "retries", "timeoutSeconds", "condition", NULL};
static const char *const condition_keys[] = {"field", "operator", "value", NULL};
/* The operators of a workflow step's `when` (docs/workflows.md), checked here too so that a
 * wrong one is named by the coordinator's own field. */
static const char *const operators[] = {"eq",  "ne", "gt",       "gte",    "lt",
                                        "lte", "in", "contains", "exists", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* The index of the step named name among the first n, or -1. */
static int step_index(const struct plan *p, int n, const char *name)
{
    for (int j = 0; j < n; j++)
        if (strcmp(p->steps[j].name, name) == 0)
            return j;
    return -1;
}

/* dependsOn of step i (prefix names it): distinct names of earlier steps. */
static int read_depends(const cJSON *s, int i, struct plan *p, const char *prefix,
                        struct plan_error *err)
{
    struct field_error fe;
    cJSON *deps = NULL;
    char field[200];
    if (json_get_string_array(s, "dependsOn", false, PLAN_MAX_STEPS, PLAN_NAME_MAX, &deps, &fe) < 0)
        return from_field_error(err, prefix, &fe);
    p->steps[i].depends_on = deps;
    int k = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, deps)
    {
        snprintf(field, sizeof(field), "%s.dependsOn[%d]", prefix, k);
        int j = step_index(p, p->nsteps, d->valuestring);
        if (j < 0)
            return plan_fail(err, field, "refers to an unknown step '%s'", d->valuestring);
        if (j >= i)
            return plan_fail(err, field,
                             "refers to step '%s', which does not run before this one (list "
                             "steps after the steps they depend on)",
                             d->valuestring);
        for (const cJSON *e = deps->child; e != d; e = e->next)
            if (strcmp(e->valuestring, d->valuestring) == 0)
                return plan_fail(err, field, "names step '%s' twice", d->valuestring);
        k++;
    }
    return 0;
}

/* condition of step i: {field: a reference, operator, value}. */
static int read_condition(const cJSON *s, int i, struct plan *p, const char *prefix,
                          struct plan_error *err)
{
    struct field_error fe;
    cJSON *cond = NULL;
    char where[96], field[200];
    const char *op = NULL;
    if (json_get_object(s, "condition", false, &cond, &fe) < 0)
        return from_field_error(err, prefix, &fe);
    p->steps[i].condition = cond;
    if (!cond)
        return 0;
    snprintf(where, sizeof(where), "%s.condition", prefix);
    const cJSON *m;
    cJSON_ArrayForEach(m, cond)
    {
        if (!in_list(condition_keys, m->string)) {
            snprintf(field, sizeof(field), "%s.%s", where, m->string);
            return plan_fail(err, field, "is not supported (known keys: field, operator, value)");
        }
    }
    if (json_get_string(cond, "operator", true, 1, 16, &op, &fe) < 0)
        return from_field_error(err, where, &fe);
    if (!in_list(operators, op)) {
        snprintf(field, sizeof(field), "%s.operator", where);
        return plan_fail(err, field,
                         "must be one of eq, ne, gt, gte, lt, lte, in, contains, exists");
    }
    snprintf(field, sizeof(field), "%s.field", where);
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(cond, "field");
    if (!ref)
        return plan_fail(err, field, "is required");
    return check_reference(p, i, ref, field, err);
}

static int read_step(const cJSON *s, int i, struct plan *p, int default_timeout,
                     struct plan_error *err)
{
    char prefix[64], field[200];
    struct field_error fe;
    struct plan_step *st = &p->steps[i];
    snprintf(prefix, sizeof(prefix), "data.steps[%d]", i);
    if (!cJSON_IsObject(s))
        return plan_fail(err, prefix, "must be an object");
    const cJSON *m;
    cJSON_ArrayForEach(m, s)
    {
        size_t k = 0;
        while (step_keys[k] && strcmp(step_keys[k], m->string) != 0)
            k++;
        if (!step_keys[k]) {
            snprintf(field, sizeof(field), "%s.%s", prefix, m->string);
            return plan_fail(
                err, field,
                "is not supported (known keys: name, taskType, agent, capability, data, input, "
                "timeout, dependsOn, retries, timeoutSeconds, condition)");
        }
    }
    long timeout = default_timeout;
    st->retries = -1;
    cJSON *data = NULL, *input = NULL;
    if (json_get_string(s, "name", true, 1, PLAN_NAME_MAX, &st->name, &fe) < 0 ||
        json_get_string(s, "taskType", true, 1, NAME_LEN, &st->target.task_type, &fe) < 0 ||
        json_get_object(s, "data", false, &data, &fe) < 0 ||
        json_get_object(s, "input", false, &input, &fe) < 0 ||
        json_get_int(s, "timeout", false, 1, PLAN_MAX_TIMEOUT_S, &timeout, &fe) < 0 ||
        json_get_int(s, "retries", false, 0, PLAN_MAX_RETRIES, &st->retries, &fe) < 0 ||
        json_get_int(s, "timeoutSeconds", false, 1, 86400, &st->timeout_seconds, &fe) < 0)
        return from_field_error(err, prefix, &fe);
    snprintf(field, sizeof(field), "%s.name", prefix);
    if (!is_step_name(st->name))
        return plan_fail(err, field, "must be 1 to %d characters of [A-Za-z0-9_-]", PLAN_NAME_MAX);
    for (int j = 0; j < i; j++)
        if (strcmp(p->steps[j].name, st->name) == 0)
            return plan_fail(err, field, "'%s' is already the name of data.steps[%d]", st->name, j);
    if (plan_read_target(s, prefix, &st->target, err) < 0)
        return -1;
    st->data = data;
    st->input = input;
    st->timeout_s = (int)timeout;
    if (read_depends(s, i, p, prefix, err) < 0 || read_condition(s, i, p, prefix, err) < 0)
        return -1;
    cJSON_ArrayForEach(m, input)
    {
        snprintf(field, sizeof(field), "%s.input.%s", prefix, m->string);
        if (!*m->string)
            return plan_fail(err, field, "has an empty field name");
        if (check_reference(p, i, m, field, err) < 0)
            return -1;
    }
    return 0;
}

int plan_read(const cJSON *data, struct plan *out, struct plan_error *err)
{
    struct field_error fe;
    memset(out, 0, sizeof(*out));
    out->stop_on_failure = true;
    long step_timeout = PLAN_DEFAULT_TIMEOUT_S;
    if (!cJSON_IsObject(data))
        return plan_fail(err, "data", "must be an object with steps");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(data, "steps");
    if (json_get_bool(data, "stopOnFailure", false, &out->stop_on_failure, &fe) < 0 ||
        json_get_int(data, "stepTimeout", false, 1, PLAN_MAX_TIMEOUT_S, &step_timeout, &fe) < 0)
        return from_field_error(err, "data", &fe);
    if (!cJSON_IsArray(steps))
        return plan_fail(err, "data.steps", "must be an array of steps");
    int n = cJSON_GetArraySize(steps);
    if (n < 1 || n > PLAN_MAX_STEPS)
        return plan_fail(err, "data.steps", "must hold 1 to %d steps (it has %d)", PLAN_MAX_STEPS,
                         n);
    cJSON *input = NULL;
    if (json_get_object(data, "input", false, &input, &fe) < 0)
        return from_field_error(err, "data", &fe);
    out->input = input;
    const cJSON *s;
    cJSON_ArrayForEach(s, steps)
    {
        /* Names of later steps are known before references are checked, so a reference
         * to a later step says so instead of "unknown". */
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(s, "name");
        out->steps[out->nsteps++].name = cJSON_IsString(name) ? name->valuestring : "";
    }
    int i = 0;
    cJSON_ArrayForEach(s, steps)
    {
        if (read_step(s, i, out, (int)step_timeout, err) < 0)
            return -1;
        i++;
    }
    return 0;
}
