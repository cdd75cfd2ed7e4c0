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

/* Step keys this version runs; anything else (dependsOn, condition, …) is refused. */
static const char *const step_keys[] = {"name", "taskType", "agent",   "capability",
                                        "data", "input",    "timeout", NULL};

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
                "is not supported (steps run in the order given; known keys: name, taskType, "
                "agent, capability, data, input, timeout)");
        }
    }
    long timeout = default_timeout;
    cJSON *data = NULL, *input = NULL;
    if (json_get_string(s, "name", true, 1, PLAN_NAME_MAX, &st->name, &fe) < 0 ||
        json_get_string(s, "taskType", true, 1, NAME_LEN, &st->target.task_type, &fe) < 0 ||
        json_get_object(s, "data", false, &data, &fe) < 0 ||
        json_get_object(s, "input", false, &input, &fe) < 0 ||
        json_get_int(s, "timeout", false, 1, PLAN_MAX_TIMEOUT_S, &timeout, &fe) < 0)
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
    out->input = cJSON_GetObjectItemCaseSensitive(data, "input");
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
