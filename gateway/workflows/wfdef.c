/* wfdef — checks a workflow definition in three passes: each step's own fields (those of its
 * kind; a workflow step's inline child definition is checked whole, recursively), then the
 * graph of dependsOn (unknown steps, cycles), then every reference, which may name only the
 * run input or a step that finishes before the referring one starts (an ancestor: a
 * reference to any other step could be read before that step ran). */
#include "gateway/workflows/wfdef.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/handlers.h"

struct step {
    const cJSON *obj;
    const char *key; /* NULL until the step's key has been checked */
    int *deps;       /* indexes of the steps it depends on */
    int ndeps;
};

/* Step keys by hash (open addressing, linear probing): slots hold index + 1, 0 is empty.
 * Twice the most steps, so a probe ends quickly. */
#define KEY_SLOTS (4 * WFDEF_STEPS_MAX)

struct graph {
    struct step *steps;
    int n;
    int slots[KEY_SLOTS];
    int words;     /* 64-bit words per ancestor set */
    uint64_t *anc; /* n sets: bit j of set i: step j is an ancestor of step i */
    int *order;    /* a topological order (parents first) */
    int depth;     /* definitions around this one (inline child definitions) */
};

static const char *const def_fields[] = {"steps", "description", "timeoutSeconds", NULL};
/* The fields of each kind of step; kinds[i] has kind_fields[i]. */
static const char *const kinds[] = {"agent", "sleep", "wait", "workflow", NULL};
enum { KIND_AGENT, KIND_SLEEP, KIND_WAIT, KIND_WORKFLOW };
static const char *const agent_fields[] = {"key",         "kind",
                                           "agent",       "task",
                                           "input",       "dependsOn",
                                           "retries",     "timeoutSeconds",
                                           "when",        "continueOnFailure",
                                           "description", "routing",
                                           NULL};
static const char *const sleep_fields[] = {"key",  "kind",        "seconds",           "dependsOn",
                                           "when", "description", "continueOnFailure", "routing",
                                           NULL};
static const char *const wait_fields[] = {"key",       "kind", "signal",      "timeoutSeconds",
                                          "dependsOn", "when", "description", "continueOnFailure",
                                          "routing",   NULL};
static const char *const workflow_fields[] = {
    "key",       "kind", "template",    "version",           "definition", "input",
    "dependsOn", "when", "description", "continueOnFailure", "routing",    NULL};
static const char *const *const kind_fields[] = {agent_fields, sleep_fields, wait_fields,
                                                 workflow_fields};
static const char *const when_fields[] = {"field", "operator", "value", NULL};
static const char *const operators[] = {"eq",  "ne", "gt",       "gte",    "lt",
                                        "lte", "in", "contains", "exists", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* Makes err, set for a field of step i, name the step: "definition.steps[i].<field>", and
 * the step's key at the end of the message when it is known. Returns -1. */
static int at_step(struct field_error *err, int i, const char *key)
{
    char prefix[40];
    snprintf(prefix, sizeof(prefix), "definition.steps[%d].", i);
    field_error_prefix(err, prefix);
    size_t len = strlen(err->message);
    if (key && len < sizeof(err->message))
        snprintf(err->message + len, sizeof(err->message) - len, " (step '%.40s')", key);
    return -1;
}

int wfdef_at_step(struct field_error *err, int i, const char *key) { return at_step(err, i, key); }

int wfdef_step_error(struct field_error *err, int i, const char *key, const char *field,
                     const char *fmt, ...)
{
    char msg[sizeof(err->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    field_error_set(err, field, "%s %s", field, msg);
    return at_step(err, i, key);
}

/* A field's name as an error shows it: an empty one as "", so the error's field is never
 * empty (which would read as out of memory: a 500). */
static const char *shown_name(const char *name) { return name[0] ? name : "\"\""; }

static int unknown_fields(const cJSON *obj, const char *const *known, const char *where,
                          struct field_error *err)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, obj)
    {
        if (!in_list(known, f->string)) {
            char field[sizeof(err->field)];
            snprintf(field, sizeof(field), "%s%s%.40s", where, where[0] ? "." : "",
                     shown_name(f->string));
            return field_error_set(err, field, "%s: unknown field", field);
        }
    }
    return 0;
}

static bool key_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return n >= 1 && n <= WFDEF_KEY_MAX;
}

static unsigned key_hash(const char *key)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h % KEY_SLOTS;
}

/* The index of the step with key, or -1. */
static int find_key(const struct graph *g, const char *key)
{
    for (unsigned h = key_hash(key);; h = (h + 1) % KEY_SLOTS) {
        int i = g->slots[h] - 1;
        if (i < 0)
            return -1;
        if (strcmp(g->steps[i].key, key) == 0)
            return i;
    }
}

/* Adds step i's key; the index of an earlier step with the same key, or -1. */
static int add_key(struct graph *g, int i)
{
    unsigned h = key_hash(g->steps[i].key);
    for (; g->slots[h]; h = (h + 1) % KEY_SLOTS)
        if (strcmp(g->steps[g->slots[h] - 1].key, g->steps[i].key) == 0)
            return g->slots[h] - 1;
    g->slots[h] = i + 1;
    return -1;
}

static bool is_ancestor(const struct graph *g, int of, int who)
{
    return (g->anc[(size_t)of * (size_t)g->words + (size_t)(who / 64)] >> (who % 64)) & 1u;
}

/* Seed 003's symbolic operators and the names they stand for (fs_wf_when maps them too). */
static const char *const op_aliases[][2] = {{">", "gt"},   {">=", "gte"}, {"<", "lt"},
                                            {"<=", "lte"}, {"==", "eq"},  {"!=", "ne"}};

const char *wfdef_operator_name(const char *op)
{
    for (size_t k = 0; k < sizeof(op_aliases) / sizeof(op_aliases[0]); k++)
        if (strcmp(op, op_aliases[k][0]) == 0)
            return op_aliases[k][1];
    return in_list(operators, op) ? op : NULL;
}

/* The field of a part of a `when` at path ("when", "when.all[1]", "when.not"). */
static int when_error(struct field_error *err, const char *path, const char *leaf, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
static int when_error(struct field_error *err, const char *path, const char *leaf, const char *fmt,
                      ...)
{
    char field[sizeof(err->field)], msg[sizeof(err->message)];
    snprintf(field, sizeof(field), "%s%s%s", path, leaf[0] ? "." : "", leaf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return field_error_set(err, field, "%s %s", field, msg);
}

/* A leaf {field, operator, value}; field's reference is checked with the others
 * (check_ref). */
static int check_leaf(const cJSON *when, const char *path, struct field_error *err)
{
    if (unknown_fields(when, when_fields, path, err) < 0)
        return -1;
    const char *field = NULL, *opname = NULL;
    if (json_get_string(when, "field", true, 1, WFDEF_REF_MAX, &field, err) < 0 ||
        json_get_string(when, "operator", true, 1, 16, &opname, err) < 0) {
        char prefix[sizeof(err->field)];
        snprintf(prefix, sizeof(prefix), "%s.", path);
        return field_error_prefix(err, prefix);
    }
    const char *op = wfdef_operator_name(opname);
    if (!op)
        return when_error(err, path, "operator",
                          "must be one of eq, ne, gt, gte, lt, lte (or ==, !=, >, >=, <, <=), "
                          "in, contains, exists");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(when, "value");
    if (strcmp(op, "exists") == 0) {
        if (value && !cJSON_IsBool(value) && !cJSON_IsNull(value))
            return when_error(err, path, "value", "must be true or false for exists");
    } else if (!value) {
        return when_error(err, path, "value", "is required for %s", opname);
    } else if (strcmp(op, "in") == 0 && !cJSON_IsArray(value)) {
        return when_error(err, path, "value", "must be an array for in");
    } else if (op[0] == 'g' || op[0] == 'l') {
        if (!cJSON_IsNumber(value) && !cJSON_IsString(value))
            return when_error(err, path, "value", "must be a number or a string for %s", opname);
    }
    return 0;
}

/* The compound forms' one field, or NULL for a leaf. */
static const char *compound_of(const cJSON *when)
{
    static const char *const forms[] = {"all", "any", "not"};
    for (size_t k = 0; k < 3; k++)
        if (cJSON_GetObjectItemCaseSensitive(when, forms[k]))
            return forms[k];
    return NULL;
}

static int check_when_at(const cJSON *when, const char *path, int depth, struct field_error *err)
{
    if (!cJSON_IsObject(when))
        return when_error(err, path, "",
                          "must be an object: {field, operator, value}, {all: [...]}, "
                          "{any: [...]} or {not: ...}");
    if (depth > WFDEF_WHEN_DEPTH_MAX)
        return when_error(err, path, "", "nests deeper than %d levels", WFDEF_WHEN_DEPTH_MAX);
    const char *form = compound_of(when);
    if (!form)
        return check_leaf(when, path, err);
    if (cJSON_GetArraySize(when) != 1)
        return when_error(err, path, "", "with %s must have no other field", form);
    const cJSON *inner = cJSON_GetObjectItemCaseSensitive(when, form);
    char sub[sizeof(err->field)];
    if (form[0] == 'n') {
        snprintf(sub, sizeof(sub), "%s.not", path);
        return check_when_at(inner, sub, depth + 1, err);
    }
    int n = cJSON_IsArray(inner) ? cJSON_GetArraySize(inner) : 0;
    if (n == 0 || n > WFDEF_WHEN_ITEMS_MAX)
        return when_error(err, path, form, "must be an array of 1 to %d conditions",
                          WFDEF_WHEN_ITEMS_MAX);
    int k = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, inner)
    {
        snprintf(sub, sizeof(sub), "%s.%s[%d]", path, form, k++);
        if (check_when_at(c, sub, depth + 1, err) < 0)
            return -1;
    }
    return 0;
}

int wfdef_check_when(const cJSON *when, const char *where, struct field_error *err)
{
    return check_when_at(when, where, 1, err);
}

/* Step i's `when`: its shape (the references come later, with the others). */
static int check_when_shape(const cJSON *when, int i, const char *key, struct field_error *err)
{
    return wfdef_check_when(when, "when", err) < 0 ? at_step(err, i, key) : 0;
}

static int validate_def(const cJSON *def, int depth, struct field_error *err);

/* The fields only an agent step has: the job's agent, task, retries and timeout. */
static int check_agent_fields(const cJSON *o, int i, const char *key, struct field_error *err)
{
    const char *agent = NULL, *task = NULL;
    long retries, timeout;
    if (json_get_string(o, "agent", true, 1, AGENT_NAME_MAX, &agent, err) < 0 ||
        json_get_string(o, "task", true, 1, WFDEF_TASK_MAX, &task, err) < 0 ||
        json_get_int(o, "retries", false, 0, WFDEF_RETRIES_MAX, &retries, err) < 0 ||
        json_get_int(o, "timeoutSeconds", false, 1, WFDEF_TIMEOUT_MAX, &timeout, err) < 0)
        return at_step(err, i, key);
    if (!json_is_identifier(agent, AGENT_NAME_MAX))
        return wfdef_step_error(err, i, key, "agent",
                                "must be letters, digits, '_', '.' or '-' (an agent's name)");
    if (!json_is_identifier(task, WFDEF_TASK_MAX))
        return wfdef_step_error(err, i, key, "task", "must be letters, digits, '_', '.' or '-'");
    return 0;
}

/* A wait step's signal name and timeout. */
static int check_wait_fields(const cJSON *o, int i, const char *key, struct field_error *err)
{
    const char *signal = NULL;
    long timeout;
    if (json_get_string(o, "signal", true, 1, WFDEF_SIGNAL_MAX, &signal, err) < 0 ||
        json_get_int(o, "timeoutSeconds", false, 1, WFDEF_TIMER_MAX, &timeout, err) < 0)
        return at_step(err, i, key);
    if (!json_is_identifier(signal, WFDEF_SIGNAL_MAX))
        return wfdef_step_error(err, i, key, "signal", "must be letters, digits, '_', '.' or '-'");
    return 0;
}

/* How many definitions nest in def, def counted, looking at most left deep (left + 1: deeper
 * than that). */
static int inline_depth(const cJSON *def, int left)
{
    int deepest = 0;
    const cJSON *s;
    if (left <= 0)
        return 1;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(def, "steps"))
    {
        const cJSON *d =
            cJSON_IsObject(s) ? cJSON_GetObjectItemCaseSensitive(s, "definition") : NULL;
        int k = cJSON_IsObject(d) ? inline_depth(d, left - 1) : 0;
        if (k > deepest)
            deepest = k;
    }
    return 1 + deepest;
}

/* A workflow step's child: a stored template (and version) or an inline definition, which
 * is checked as a whole here, at most WFDEF_NEST_MAX definitions deep. */
static int check_workflow_fields(const cJSON *o, int i, const char *key, int depth,
                                 struct field_error *err)
{
    const char *tname = NULL;
    long version;
    int has_version;
    if (json_get_string(o, "template", false, 1, WFDEF_TEMPLATE_MAX, &tname, err) < 0 ||
        (has_version = json_get_int(o, "version", false, 1, 0x7fffffff, &version, err)) < 0)
        return at_step(err, i, key);
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(o, "definition");
    if (def && cJSON_IsNull(def))
        def = NULL;
    if (!tname == !def)
        return wfdef_step_error(err, i, key, "template",
                                "or definition: a workflow step needs exactly one of them");
    if (has_version && !tname)
        return wfdef_step_error(err, i, key, "version", "goes with template");
    if (tname && !json_is_identifier(tname, WFDEF_TEMPLATE_MAX))
        return wfdef_step_error(err, i, key, "template",
                                "must be letters, digits, '_', '.' or '-' (a template's name)");
    if (def) {
        /* Measured before any is checked, so the outermost step is named (a field path
         * through nine definitions would not fit in err). */
        if (inline_depth(def, WFDEF_NEST_MAX - depth) > WFDEF_NEST_MAX - depth)
            return wfdef_step_error(err, i, key, "definition",
                                    "nests child definitions more than %d deep", WFDEF_NEST_MAX);
        if (validate_def(def, depth + 1, err) < 0)
            return err->field[0] ? at_step(err, i, key) : -1;
    }
    return 0;
}

/* Step i's own fields: everything but what needs the other steps. */
static int check_step_shape(struct graph *g, int i, struct field_error *err)
{
    struct step *s = &g->steps[i];
    const cJSON *o = s->obj;
    const char *key = NULL, *kind = NULL, *description = NULL;
    long seconds;
    bool cont;
    cJSON *deps = NULL;
    if (!cJSON_IsObject(o)) {
        char field[40];
        snprintf(field, sizeof(field), "definition.steps[%d]", i);
        return field_error_set(err, field, "%s must be an object", field);
    }
    if (json_get_string(o, "key", true, 1, WFDEF_KEY_MAX, &key, err) < 0)
        return at_step(err, i, NULL);
    if (!key_ok(key))
        return wfdef_step_error(err, i, NULL, "key",
                                "must be 1 to %d characters of letters, digits, '_' or '-'",
                                WFDEF_KEY_MAX);
    if (json_get_string(o, "kind", false, 1, 32, &kind, err) < 0)
        return at_step(err, i, key);
    int k = 0;
    while (kind && kinds[k] && strcmp(kinds[k], kind) != 0)
        k++;
    if (!kinds[k])
        return wfdef_step_error(err, i, key, "kind",
                                "'%.32s' is an unknown kind (agent, sleep, wait or workflow)",
                                kind);
    const cJSON *f;
    cJSON_ArrayForEach(f, o)
    {
        if (!in_list(kind_fields[k], f->string)) {
            char field[sizeof(err->field)];
            snprintf(field, sizeof(field), "%.40s", shown_name(f->string));
            field_error_set(err, field, "%s: unknown field of %s %s step", field,
                            k == KIND_AGENT ? "an" : "a", kinds[k]);
            return at_step(err, i, key);
        }
    }
    if (json_get_bool(o, "continueOnFailure", false, &cont, err) < 0 ||
        json_get_string(o, "description", false, 0, 1000, &description, err) < 0 ||
        json_get_string_array(o, "dependsOn", false, WFDEF_STEPS_MAX, WFDEF_KEY_MAX, &deps, err) <
            0)
        return at_step(err, i, key);
    if ((k == KIND_AGENT && check_agent_fields(o, i, key, err) < 0) ||
        (k == KIND_WAIT && check_wait_fields(o, i, key, err) < 0) ||
        (k == KIND_WORKFLOW && check_workflow_fields(o, i, key, g->depth, err) < 0))
        return -1;
    if (k == KIND_SLEEP && json_get_int(o, "seconds", true, 1, WFDEF_TIMER_MAX, &seconds, err) < 0)
        return at_step(err, i, key);
    const cJSON *when = cJSON_GetObjectItemCaseSensitive(o, "when");
    if (when && !cJSON_IsNull(when) && check_when_shape(when, i, key, err) < 0)
        return -1;
    s->key = key;
    int j = add_key(g, i);
    if (j >= 0)
        return wfdef_step_error(err, i, key, "key", "'%.40s' is also the key of steps[%d]", key, j);
    return 0;
}

/* Step i's dependsOn as indexes: each an existing other step, named once. */
static int resolve_deps(struct graph *g, int i, struct field_error *err)
{
    struct step *s = &g->steps[i];
    const cJSON *deps = cJSON_GetObjectItemCaseSensitive(s->obj, "dependsOn");
    int n = cJSON_IsArray(deps) ? cJSON_GetArraySize(deps) : 0;
    if (n == 0)
        return 0;
    s->deps = malloc(sizeof(int) * (size_t)n);
    if (!s->deps) {
        err->field[0] = '\0';
        return -1;
    }
    const cJSON *d;
    cJSON_ArrayForEach(d, deps)
    {
        int j = find_key(g, d->valuestring);
        if (j < 0)
            return wfdef_step_error(err, i, s->key, "dependsOn", "names no step: '%.40s'",
                                    d->valuestring);
        if (j == i)
            return wfdef_step_error(err, i, s->key, "dependsOn", "names the step itself");
        for (int k = 0; k < s->ndeps; k++)
            if (s->deps[k] == j)
                return wfdef_step_error(err, i, s->key, "dependsOn", "names '%.40s' twice",
                                        d->valuestring);
        s->deps[s->ndeps++] = j;
    }
    return 0;
}

/* A cycle among the steps left unordered: every one of them has a parent also left (else it
 * would have been ordered), so following such parents from any of them enters a cycle within
 * n moves. The cycle is named from its first step in the definition. */
static int unordered_parent(const struct graph *g, const int *left, int i)
{
    for (int k = 0; k < g->steps[i].ndeps; k++)
        if (left[g->steps[i].deps[k]])
            return g->steps[i].deps[k];
    return i; /* not reached: an unordered step has an unordered parent */
}

static int cycle_error(const struct graph *g, const int *left, struct field_error *err)
{
    int at = 0;
    while (at < g->n && !left[at])
        at++;
    for (int moves = 0; moves < g->n; moves++)
        at = unordered_parent(g, left, at);
    int start = at;
    for (int cur = unordered_parent(g, left, at); cur != at; cur = unordered_parent(g, left, cur))
        if (cur < start)
            start = cur;
    char path[120];
    size_t o = 0;
    int cur = start, shown = 0;
    do {
        o += (size_t)snprintf(path + o, sizeof(path) - o, "%.20s -> ", g->steps[cur].key);
        cur = unordered_parent(g, left, cur);
    } while (cur != start && ++shown < 4 && o < sizeof(path));
    if (o < sizeof(path))
        snprintf(path + o, sizeof(path) - o, "%s", cur == start ? g->steps[start].key : "...");
    return wfdef_step_error(err, start, g->steps[start].key, "dependsOn", "makes a cycle: %s",
                            path);
}

/* Kahn's algorithm over dependsOn, then each step's ancestors in that order. */
static int order_steps(struct graph *g, struct field_error *err)
{
    int n = g->n, done = 0, edges = 0;
    for (int i = 0; i < n; i++)
        edges += g->steps[i].ndeps;
    int *left = calloc((size_t)n, sizeof(int));      /* parents not yet ordered */
    int *first = calloc((size_t)n + 1, sizeof(int)); /* children of p: kids[first[p]..first[p+1]) */
    int *kids = malloc(sizeof(int) * (size_t)(edges + 1));
    g->order = malloc(sizeof(int) * (size_t)n);
    g->words = (n + 63) / 64;
    g->anc = calloc((size_t)n * (size_t)g->words, sizeof(uint64_t));
    int rc = -1;
    if (!left || !first || !kids || !g->order || !g->anc) {
        err->field[0] = '\0';
        goto done;
    }
    for (int c = 0; c < n; c++)
        for (int k = 0; k < g->steps[c].ndeps; k++)
            first[g->steps[c].deps[k] + 1]++;
    for (int p = 0; p < n; p++)
        first[p + 1] += first[p];
    for (int c = 0; c < n; c++)
        for (int k = 0; k < g->steps[c].ndeps; k++)
            kids[first[g->steps[c].deps[k]] + left[g->steps[c].deps[k]]++] = c;
    for (int i = 0; i < n; i++) {
        left[i] = g->steps[i].ndeps;
        if (left[i] == 0)
            g->order[done++] = i;
    }
    /* Ordered steps release their children; order[] doubles as the queue. */
    for (int q = 0; q < done; q++)
        for (int e = first[g->order[q]]; e < first[g->order[q] + 1]; e++)
            if (--left[kids[e]] == 0)
                g->order[done++] = kids[e];
    rc = 0;
    if (done < n) {
        rc = cycle_error(g, left, err);
    } else {
        for (int q = 0; q < n; q++) {
            int i = g->order[q];
            uint64_t *mine = g->anc + (size_t)i * (size_t)g->words;
            for (int k = 0; k < g->steps[i].ndeps; k++) {
                int p = g->steps[i].deps[k];
                const uint64_t *theirs = g->anc + (size_t)p * (size_t)g->words;
                for (int w = 0; w < g->words; w++)
                    mine[w] |= theirs[w];
                mine[p / 64] |= (uint64_t)1 << (p % 64);
            }
        }
    }
done:
    free(left);
    free(first);
    free(kids);
    return rc;
}

/* A reference path of step i, read from `what` ("input", "when.field"): "input" or
 * "input.<part>…", or "steps.<ancestor>.output" or "steps.<ancestor>.output.<part>…". */
static int check_ref(const struct graph *g, int i, const char *what, const char *path,
                     struct field_error *err)
{
    const char *key = g->steps[i].key;
    size_t len = strlen(path);
    if (len == 0 || len > WFDEF_REF_MAX)
        return wfdef_step_error(err, i, key, what, "a reference must be 1 to %d characters",
                                WFDEF_REF_MAX);
    char buf[WFDEF_REF_MAX + 1];
    memcpy(buf, path, len + 1);
    char *parts[WFDEF_REF_SEGMENTS_MAX];
    int nparts = 0;
    for (char *p = buf;;) {
        char *dot = strchr(p, '.');
        if (dot)
            *dot = '\0';
        if (!*p)
            return wfdef_step_error(err, i, key, what, "reference '%.60s' has an empty part", path);
        if (nparts == WFDEF_REF_SEGMENTS_MAX)
            return wfdef_step_error(err, i, key, what,
                                    "reference '%.60s' is too deep (at most %d parts)", path,
                                    WFDEF_REF_SEGMENTS_MAX);
        parts[nparts++] = p;
        if (!dot)
            break;
        p = dot + 1;
    }
    if (strcmp(parts[0], "input") == 0)
        return 0;
    if (strcmp(parts[0], "steps") != 0 || nparts < 3 || strcmp(parts[2], "output") != 0)
        return wfdef_step_error(err, i, key, what,
                                "reference '%.60s' must start with input or steps.<key>.output",
                                path);
    int j = find_key(g, parts[1]);
    if (j < 0)
        return wfdef_step_error(err, i, key, what, "reference '%.60s' names no step", path);
    if (!is_ancestor(g, i, j))
        return wfdef_step_error(err, i, key, what,
                                "reference '%.60s' names a step this one does not depend on", path);
    return 0;
}

/* Every {"$ref": path} in step i's input (an object with that one field). */
static int check_input(const struct graph *g, int i, const cJSON *v, int depth,
                       struct field_error *err)
{
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return 0;
    if (depth > WFDEF_INPUT_DEPTH_MAX)
        return wfdef_step_error(err, i, g->steps[i].key, "input", "nests deeper than %d levels",
                                WFDEF_INPUT_DEPTH_MAX);
    const cJSON *ref = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "$ref") : NULL;
    if (ref) {
        if (!cJSON_IsString(ref) || cJSON_GetArraySize(v) != 1)
            return wfdef_step_error(err, i, g->steps[i].key, "input",
                                    "a $ref must be an object with one field, a string path");
        return check_ref(g, i, "input", ref->valuestring, err);
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, v)
    {
        if (check_input(g, i, c, depth + 1, err) < 0)
            return -1;
    }
    return 0;
}

/* The field of every leaf of step i's `when` (its shape was checked). */
static int check_when_refs(const struct graph *g, int i, const cJSON *when, struct field_error *err)
{
    const char *form = compound_of(when);
    if (!form)
        return check_ref(g, i, "when.field",
                         cJSON_GetObjectItemCaseSensitive(when, "field")->valuestring, err);
    const cJSON *inner = cJSON_GetObjectItemCaseSensitive(when, form);
    if (form[0] == 'n')
        return check_when_refs(g, i, inner, err);
    const cJSON *c;
    cJSON_ArrayForEach(c, inner)
    {
        if (check_when_refs(g, i, c, err) < 0)
            return -1;
    }
    return 0;
}

static int check_refs(const struct graph *g, int i, struct field_error *err)
{
    const cJSON *o = g->steps[i].obj;
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(o, "input");
    if (input && check_input(g, i, input, 1, err) < 0)
        return -1;
    const cJSON *when = cJSON_GetObjectItemCaseSensitive(o, "when");
    return cJSON_IsObject(when) ? check_when_refs(g, i, when, err) : 0;
}

int wfdef_validate(const cJSON *def, struct field_error *err) { return validate_def(def, 0, err); }

static int validate_def(const cJSON *def, int depth, struct field_error *err)
{
    int rc = -1;
    const char *description = NULL;
    long timeout;
    if (!cJSON_IsObject(def))
        return field_error_set(err, "definition", "definition must be an object with steps");
    if (unknown_fields(def, def_fields, "definition", err) < 0)
        return -1;
    if (json_get_string(def, "description", false, 0, 1000, &description, err) < 0 ||
        json_get_int(def, "timeoutSeconds", false, 1, WFDEF_TIMER_MAX, &timeout, err) < 0)
        return field_error_prefix(err, "definition.");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(def, "steps");
    if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) == 0)
        return field_error_set(err, "definition.steps",
                               "definition.steps must be a non-empty array of steps");
    int n = cJSON_GetArraySize(steps);
    if (n > WFDEF_STEPS_MAX)
        return field_error_set(err, "definition.steps",
                               "definition.steps holds %d steps; at most %d are allowed", n,
                               WFDEF_STEPS_MAX);
    /* On the heap (its key table is large), as inline child definitions recurse. */
    struct graph *g = calloc(1, sizeof(*g));
    if (!g || !(g->steps = calloc((size_t)n, sizeof(*g->steps)))) {
        free(g);
        err->field[0] = '\0';
        return -1;
    }
    g->n = n;
    g->depth = depth;
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, steps) g->steps[i++].obj = s;
    for (i = 0; i < g->n; i++)
        if (check_step_shape(g, i, err) < 0)
            goto done;
    for (i = 0; i < g->n; i++)
        if (resolve_deps(g, i, err) < 0)
            goto done;
    if (order_steps(g, err) < 0)
        goto done;
    for (i = 0; i < g->n; i++)
        if (check_refs(g, i, err) < 0)
            goto done;
    rc = 0;
done:
    for (i = 0; i < g->n; i++)
        free(g->steps[i].deps);
    free(g->steps);
    free(g->anc);
    free(g->order);
    free(g);
    return rc;
}
