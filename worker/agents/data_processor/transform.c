/* transform — transform_data: parse every step into a struct step (checking it), then run
 * them in order over an array of owned records. Records are moved between steps, never
 * copied, except once from the payload at the start. */
#include "worker/agents/data_processor/transform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/agents/data_processor/jout.h"
#include "worker/agents/data_processor/jvalue.h"
#include "worker/agents/data_processor/recordset.h"

enum op { OP_SELECT, OP_RENAME, OP_FILTER, OP_SORT, OP_DEDUPE, OP_FLATTEN, OP_LIMIT, OP__COUNT };
static const char *const op_names[OP__COUNT] = {"select", "rename",  "filter", "sort",
                                                "dedupe", "flatten", "limit"};
/* The keys each op accepts besides "op" (a typo fails the step instead of being ignored). */
static const char *const op_keys[OP__COUNT][4] = {
    {"fields"},    {"from", "to", "map"}, {"field", "operator", "value"}, {"by"}, {"fields"},
    {"separator"}, {"count", "offset"},
};

enum cmp { F_EQ, F_NE, F_GT, F_GTE, F_LT, F_LTE, F_IN, F_CONTAINS, F_EXISTS, F__COUNT };
static const char *const cmp_names[F__COUNT] = {"eq",  "ne", "gt",       "gte",   "lt",
                                                "lte", "in", "contains", "exists"};

struct sort_key {
    const char *field;
    bool desc;
};

struct step {
    enum op op;
    struct name_list fields; /* select; dedupe (n == 0: whole records) */
    const char *from[RECORDSET_MAX_NAMES], *to[RECORDSET_MAX_NAMES];
    size_t nrename;
    const char *field; /* filter */
    enum cmp cmp;
    const cJSON *value;
    bool exists;
    struct sort_key keys[RECORDSET_MAX_NAMES];
    size_t nkeys;
    const char *separator; /* flatten */
    long count, offset;    /* limit */
};

/* The working set: owned records, in order. */
struct rows {
    cJSON **item;
    size_t n;
};

/* ---- parsing steps ------------------------------------------------------------------ */

static int parse_rename(const cJSON *js, struct jsonpath *path, struct step *st,
                        struct dp_error *err)
{
    const cJSON *map = jvalue_member(js, "map");
    bool pair = jvalue_member(js, "from") || jvalue_member(js, "to");
    if (map && pair)
        return dperror_set(err, "%s takes either from/to or map, not both", path->text);
    if (!map) {
        int rc = recordset_string(js, "from", path, true, &st->from[0], err);
        if (rc < 0)
            return rc;
        rc = recordset_string(js, "to", path, true, &st->to[0], err);
        if (rc < 0)
            return rc;
        st->nrename = 1;
        return 0;
    }
    size_t mark = jsonpath_key(path, "map");
    if (!cJSON_IsObject(map) || !map->child)
        return dperror_set(err, "%s must be a non-empty object of old name: new name", path->text);
    for (const cJSON *c = map->child; c; c = c->next) {
        size_t m2 = jsonpath_key(path, c->string);
        if (st->nrename == RECORDSET_MAX_NAMES)
            return dperror_set(err, "%s: more than %d renames", path->text, RECORDSET_MAX_NAMES);
        if (!c->string[0])
            return dperror_set(err, "%s: the old name must not be empty", path->text);
        if (!cJSON_IsString(c) || !c->valuestring[0])
            return dperror_set(err, "%s must be a non-empty string (the new name)", path->text);
        for (size_t i = 0; i < st->nrename; i++)
            if (strcmp(st->to[i], c->valuestring) == 0)
                return dperror_set(err, "%s renames to \"%.60s\" like an earlier entry", path->text,
                                   c->valuestring);
        st->from[st->nrename] = c->string;
        st->to[st->nrename++] = c->valuestring;
        jsonpath_pop(path, m2);
    }
    jsonpath_pop(path, mark);
    return 0;
}

static int parse_filter(const cJSON *js, struct jsonpath *path, struct step *st,
                        struct dp_error *err)
{
    const char *name;
    int rc = recordset_string(js, "field", path, true, &st->field, err);
    if (rc < 0)
        return rc;
    rc = recordset_string(js, "operator", path, true, &name, err);
    if (rc < 0)
        return rc;
    int c = 0;
    while (c < F__COUNT && strcmp(cmp_names[c], name) != 0)
        c++;
    if (c == F__COUNT)
        return dperror_set(
            err,
            "%s.operator must be one of eq, ne, gt, gte, lt, lte, in, contains, exists, "
            "not \"%.40s\"",
            path->text, name);
    st->cmp = (enum cmp)c;
    st->value = jvalue_member(js, "value");
    size_t mark = jsonpath_key(path, "value");
    switch (st->cmp) {
    case F_EXISTS:
        st->exists = true;
        if (st->value && !cJSON_IsBool(st->value))
            return dperror_set(err, "%s must be true or false for exists", path->text);
        if (st->value)
            st->exists = cJSON_IsTrue(st->value);
        break;
    case F_GT:
    case F_GTE:
    case F_LT:
    case F_LTE:
        if (!cJSON_IsNumber(st->value) && !cJSON_IsString(st->value))
            return dperror_set(err, "%s must be a number or a string for %s", path->text, name);
        break;
    case F_IN:
        if (!cJSON_IsArray(st->value))
            return dperror_set(err, "%s must be an array for in", path->text);
        break;
    default:
        if (!st->value)
            return dperror_set(err, "%s is required for %s", path->text, name);
    }
    jsonpath_pop(path, mark);
    return 0;
}

static int parse_sort(const cJSON *js, struct jsonpath *path, struct step *st, struct dp_error *err)
{
    const cJSON *by = jvalue_member(js, "by");
    size_t mark = jsonpath_key(path, "by");
    if (!cJSON_IsArray(by) || !by->child)
        return dperror_set(err, "%s must be a non-empty array of {\"field\", \"order\"}",
                           path->text);
    size_t i = 0;
    for (const cJSON *k = by->child; k; k = k->next, i++) {
        if (i == RECORDSET_MAX_NAMES)
            return dperror_set(err, "%s has more than %d sort keys", path->text,
                               RECORDSET_MAX_NAMES);
        size_t m2 = jsonpath_index(path, i);
        struct sort_key *sk = &st->keys[st->nkeys++];
        if (cJSON_IsString(k) && k->valuestring[0]) {
            sk->field = k->valuestring;
        } else if (cJSON_IsObject(k)) {
            const char *order = "asc";
            int rc = recordset_string(k, "field", path, true, &sk->field, err);
            if (rc < 0)
                return rc;
            rc = recordset_string(k, "order", path, false, &order, err);
            if (rc < 0)
                return rc;
            if (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
                return dperror_set(err, "%s.order must be \"asc\" or \"desc\"", path->text);
            sk->desc = order[0] == 'd';
            for (const cJSON *c = k->child; c; c = c->next)
                if (strcmp(c->string, "field") != 0 && strcmp(c->string, "order") != 0) {
                    jsonpath_key(path, c->string);
                    return dperror_set(err,
                                       "%s is not a known key of a sort key (known: field, order)",
                                       path->text);
                }
        } else {
            return dperror_set(err, "%s must be a field name or {\"field\", \"order\"}",
                               path->text);
        }
        jsonpath_pop(path, m2);
    }
    jsonpath_pop(path, mark);
    return 0;
}

static int parse_step(const cJSON *js, struct jsonpath *path, struct step *st, struct dp_error *err)
{
    if (!cJSON_IsObject(js))
        return dperror_set(err, "%s must be an object with an \"op\"", path->text);
    const char *name;
    int rc = recordset_string(js, "op", path, true, &name, err);
    if (rc < 0)
        return rc;
    int op = 0;
    while (op < OP__COUNT && strcmp(op_names[op], name) != 0)
        op++;
    if (op == OP__COUNT)
        return dperror_set(
            err,
            "%s has an unknown op \"%.40s\" (known: select, rename, filter, sort, dedupe, "
            "flatten, limit)",
            path->text, name);
    st->op = (enum op)op;
    for (const cJSON *c = js->child; c; c = c->next) {
        bool known = strcmp(c->string, "op") == 0;
        for (size_t k = 0; k < 4 && op_keys[op][k] && !known; k++)
            known = strcmp(op_keys[op][k], c->string) == 0;
        if (!known) {
            jsonpath_key(path, c->string);
            return dperror_set(err, "%s is not a known key of a %s step", path->text, name);
        }
    }
    switch (st->op) {
    case OP_SELECT: rc = recordset_names(js, "fields", path, true, false, &st->fields, err); break;
    case OP_DEDUPE:
        rc = recordset_names(js, "fields", path, false, false, &st->fields, err);
        if (rc == 0)
            st->fields.n = 0;
        break;
    case OP_RENAME: rc = parse_rename(js, path, st, err); break;
    case OP_FILTER: rc = parse_filter(js, path, st, err); break;
    case OP_SORT: rc = parse_sort(js, path, st, err); break;
    case OP_FLATTEN:
        st->separator = ".";
        rc = recordset_string(js, "separator", path, false, &st->separator, err);
        if (rc >= 0 && strlen(st->separator) > TRANSFORM_MAX_SEPARATOR)
            rc = dperror_set(err, "%s.separator must be at most %d bytes", path->text,
                             TRANSFORM_MAX_SEPARATOR);
        break;
    case OP_LIMIT:
        rc = recordset_int(js, "count", path, true, 0, RECORDSET_MAX_RECORDS, &st->count, err);
        if (rc >= 0)
            rc = recordset_int(js, "offset", path, false, 0, RECORDSET_MAX_RECORDS, &st->offset,
                               err);
        break;
    default: break;
    }
    return rc < 0 ? rc : 0;
}

static int parse_steps(const cJSON *data, const struct jsonpath *root, struct step **out, size_t *n,
                       struct dp_error *err)
{
    const cJSON *steps = jvalue_member(data, "steps");
    struct jsonpath path = *root;
    jsonpath_key(&path, "steps");
    *out = NULL;
    *n = 0;
    if (!steps || cJSON_IsNull(steps))
        return dperror_set(err, "%s is required", path.text);
    if (!cJSON_IsArray(steps))
        return dperror_set(err, "%s must be an array of steps", path.text);
    int count = cJSON_GetArraySize(steps);
    if (count > TRANSFORM_MAX_STEPS)
        return dperror_set(err, "%s has %d steps; at most %d are allowed", path.text, count,
                           TRANSFORM_MAX_STEPS);
    struct step *st = calloc(count ? (size_t)count : 1, sizeof(*st));
    if (!st)
        return dperror_nomem(err);
    size_t i = 0;
    for (const cJSON *c = steps->child; c; c = c->next, i++) {
        size_t mark = jsonpath_index(&path, i);
        int rc = parse_step(c, &path, &st[i], err);
        if (rc < 0) {
            free(st);
            return rc;
        }
        jsonpath_pop(&path, mark);
    }
    *out = st;
    *n = i;
    return 0;
}

/* ---- running steps ------------------------------------------------------------------- */

/* Keeps the rows whose keep[i] is set, in order; deletes the others. */
static void compact(struct rows *r, const bool *keep)
{
    size_t o = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (keep[i])
            r->item[o++] = r->item[i];
        else
            cJSON_Delete(r->item[i]);
    }
    r->n = o;
}

/* Moves the member called name from src to dst under new_name (replacing a member of that
 * name). Returns -1 when out of memory. */
static int move_member(cJSON *dst, cJSON *src, cJSON *item, const char *new_name)
{
    cJSON_DetachItemViaPointer(src, item);
    cJSON_DeleteItemFromObjectCaseSensitive(dst, new_name);
    if (!cJSON_AddItemToObject(dst, new_name, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static int run_select(struct rows *r, const struct step *st)
{
    for (size_t i = 0; i < r->n; i++) {
        cJSON *rec = r->item[i], *out = cJSON_CreateObject();
        if (!out)
            return -1;
        for (size_t f = 0; f < st->fields.n; f++) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, st->fields.names[f]);
            if (v && move_member(out, rec, v, st->fields.names[f]) < 0) {
                cJSON_Delete(out);
                return -1;
            }
        }
        cJSON_Delete(rec);
        r->item[i] = out;
    }
    return 0;
}

/* Renames apply all at once (a map can swap two names); a renamed member replaces a member
 * already holding its new name. */
static int run_rename(struct rows *r, const struct step *st)
{
    for (size_t i = 0; i < r->n; i++) {
        cJSON *rec = r->item[i], *out = cJSON_CreateObject();
        if (!out)
            return -1;
        bool renamed_to[RECORDSET_MAX_NAMES] = {false};
        for (size_t k = 0; k < st->nrename; k++)
            renamed_to[k] = cJSON_GetObjectItemCaseSensitive(rec, st->from[k]) != NULL;
        while (rec->child) {
            cJSON *c = rec->child;
            const char *name = c->string;
            bool shadowed = false;
            for (size_t k = 0; k < st->nrename; k++) {
                if (strcmp(st->from[k], c->string) == 0) {
                    name = st->to[k];
                    shadowed = false;
                    break;
                }
                if (renamed_to[k] && strcmp(st->to[k], c->string) == 0)
                    shadowed = true;
            }
            if (shadowed) {
                cJSON_Delete(cJSON_DetachItemViaPointer(rec, c));
                continue;
            }
            char *copy = strdup(name);
            int rc = copy ? move_member(out, rec, c, copy) : -1;
            free(copy);
            if (rc < 0) {
                cJSON_Delete(out);
                return -1;
            }
        }
        cJSON_Delete(rec);
        r->item[i] = out;
    }
    return 0;
}

static bool matches(const cJSON *rec, const struct step *st)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, st->field);
    switch (st->cmp) {
    case F_EQ: return jvalue_equal(v, st->value);
    case F_NE: return !jvalue_equal(v, st->value);
    case F_GT:
    case F_GTE:
    case F_LT:
    case F_LTE: {
        bool comparable = v && ((cJSON_IsNumber(v) && cJSON_IsNumber(st->value)) ||
                                (cJSON_IsString(v) && cJSON_IsString(st->value)));
        if (!comparable)
            return false;
        int c = jvalue_compare(v, st->value);
        return st->cmp == F_GT    ? c > 0
               : st->cmp == F_GTE ? c >= 0
               : st->cmp == F_LT  ? c < 0
                                  : c <= 0;
    }
    case F_IN:
        for (const cJSON *e = st->value->child; e; e = e->next)
            if (jvalue_equal(v, e))
                return true;
        return false;
    case F_CONTAINS:
        if (cJSON_IsString(v) && cJSON_IsString(st->value))
            return strstr(v->valuestring, st->value->valuestring) != NULL;
        if (cJSON_IsArray(v))
            for (const cJSON *e = v->child; e; e = e->next)
                if (jvalue_equal(e, st->value))
                    return true;
        return false;
    case F_EXISTS: return (v != NULL) == st->exists;
    default: return false;
    }
}

static int run_filter(struct rows *r, const struct step *st, bool *keep)
{
    for (size_t i = 0; i < r->n; i++)
        keep[i] = matches(r->item[i], st);
    compact(r, keep);
    return 0;
}

/* A row with what the comparators need, so qsort needs no outside context. */
struct keyed {
    cJSON *rec;
    size_t index;
    const struct step *st;
};

static int cmp_sort_keys(const void *x, const void *y)
{
    const struct keyed *a = x, *b = y;
    for (size_t k = 0; k < a->st->nkeys; k++) {
        const char *f = a->st->keys[k].field;
        int c = jvalue_compare(cJSON_GetObjectItemCaseSensitive(a->rec, f),
                               cJSON_GetObjectItemCaseSensitive(b->rec, f));
        if (c)
            return a->st->keys[k].desc ? -c : c;
    }
    return a->index < b->index ? -1 : a->index > b->index ? 1 : 0; /* stable */
}

/* Compares the dedupe key of two rows: the named fields (missing differs from null), or
 * the whole records. */
static int cmp_dedupe_key(const struct keyed *a, const struct keyed *b)
{
    if (a->st->fields.n == 0)
        return jvalue_compare(a->rec, b->rec);
    for (size_t k = 0; k < a->st->fields.n; k++) {
        const char *f = a->st->fields.names[k];
        int c = jvalue_compare(cJSON_GetObjectItemCaseSensitive(a->rec, f),
                               cJSON_GetObjectItemCaseSensitive(b->rec, f));
        if (c)
            return c;
    }
    return 0;
}

static int cmp_dedupe(const void *x, const void *y)
{
    const struct keyed *a = x, *b = y;
    int c = cmp_dedupe_key(a, b);
    return c ? c : a->index < b->index ? -1 : a->index > b->index ? 1 : 0;
}

static struct keyed *keyed_rows(const struct rows *r, const struct step *st,
                                int (*cmp)(const void *, const void *))
{
    struct keyed *k = malloc((r->n ? r->n : 1) * sizeof(*k));
    if (!k)
        return NULL;
    for (size_t i = 0; i < r->n; i++)
        k[i] = (struct keyed){r->item[i], i, st};
    qsort(k, r->n, sizeof(*k), cmp);
    return k;
}

static int run_sort(struct rows *r, const struct step *st)
{
    struct keyed *k = keyed_rows(r, st, cmp_sort_keys);
    if (!k)
        return -1;
    for (size_t i = 0; i < r->n; i++)
        r->item[i] = k[i].rec;
    free(k);
    return 0;
}

/* Keeps the first row of each key: after sorting by (key, index) the first of each run of
 * equal keys is the earliest. */
static int run_dedupe(struct rows *r, const struct step *st, bool *keep)
{
    struct keyed *k = keyed_rows(r, st, cmp_dedupe);
    if (!k)
        return -1;
    for (size_t i = 0; i < r->n; i++)
        keep[k[i].index] = i == 0 || cmp_dedupe_key(&k[i - 1], &k[i]) != 0;
    free(k);
    compact(r, keep);
    return 0;
}

/* Moves every leaf of src into dst under prefix + key; nested non-empty objects are walked
 * (arrays and empty objects are leaves). prefix is a malloc'd buffer the walk grows. */
static int flatten_into(cJSON *dst, cJSON *src, char **prefix, size_t *cap, size_t plen,
                        const char *sep)
{
    while (src->child) {
        cJSON *c = src->child;
        size_t need = plen + (plen ? strlen(sep) : 0) + strlen(c->string) + 1;
        if (need > *cap) {
            size_t ncap = need * 2;
            char *grown = realloc(*prefix, ncap);
            if (!grown)
                return -1;
            *prefix = grown;
            *cap = ncap;
        }
        size_t len = plen;
        if (plen) {
            memcpy(*prefix + len, sep, strlen(sep));
            len += strlen(sep);
        }
        memcpy(*prefix + len, c->string, strlen(c->string) + 1);
        len += strlen(c->string);
        if (cJSON_IsObject(c) && c->child) {
            if (flatten_into(dst, c, prefix, cap, len, sep) < 0)
                return -1;
            cJSON_Delete(cJSON_DetachItemViaPointer(src, c));
        } else {
            /* move_member detaches c from src */
            char *name = strdup(*prefix);
            int rc = name ? move_member(dst, src, c, name) : -1;
            free(name);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

static int run_flatten(struct rows *r, const struct step *st)
{
    size_t cap = 64;
    char *prefix = malloc(cap);
    if (!prefix)
        return -1;
    for (size_t i = 0; i < r->n; i++) {
        cJSON *out = cJSON_CreateObject();
        if (!out || flatten_into(out, r->item[i], &prefix, &cap, 0, st->separator) < 0) {
            cJSON_Delete(out);
            free(prefix);
            return -1;
        }
        cJSON_Delete(r->item[i]);
        r->item[i] = out;
    }
    free(prefix);
    return 0;
}

static void run_limit(struct rows *r, const struct step *st, bool *keep)
{
    for (size_t i = 0; i < r->n; i++)
        keep[i] = i >= (size_t)st->offset && i - (size_t)st->offset < (size_t)st->count;
    compact(r, keep);
}

/* Runs one step. keep is scratch for r->n flags. Returns -1 when out of memory. */
static int run_step(struct rows *r, const struct step *st, bool *keep)
{
    switch (st->op) {
    case OP_SELECT: return run_select(r, st);
    case OP_RENAME: return run_rename(r, st);
    case OP_FILTER: return run_filter(r, st, keep);
    case OP_SORT: return run_sort(r, st);
    case OP_DEDUPE: return run_dedupe(r, st, keep);
    case OP_FLATTEN: return run_flatten(r, st);
    case OP_LIMIT: run_limit(r, st, keep); return 0;
    default: return 0;
    }
}

/* ---- the task -------------------------------------------------------------------------- */

int transform_run(const cJSON *data, const char *root, cJSON **result, struct dp_error *err)
{
    struct step *steps = NULL;
    size_t nsteps = 0;
    struct rows rows = {NULL, 0};
    bool *keep = NULL;
    cJSON *r = NULL, *copy = NULL;
    const cJSON *records;
    struct jsonpath path;
    jsonpath_init(&path, root);
    int rc = recordset_records(data, "records", &path, true, true, &records, err);
    if (rc < 0)
        goto fail;
    rc = parse_steps(data, &path, &steps, &nsteps, err);
    if (rc < 0)
        goto fail;
    size_t n = (size_t)cJSON_GetArraySize(records);
    rows.item = malloc((n ? n : 1) * sizeof(*rows.item));
    keep = malloc((n ? n : 1) * sizeof(*keep));
    copy = cJSON_Duplicate(records, true);
    r = cJSON_CreateObject();
    if (!rows.item || !keep || !copy || !r)
        goto nomem;
    while (copy->child)
        rows.item[rows.n++] = cJSON_DetachItemViaPointer(copy, copy->child);

    struct jout o = {false};
    cJSON *counts = cJSON_CreateArray();
    for (size_t i = 0; i < nsteps; i++) {
        size_t in = rows.n;
        if (run_step(&rows, &steps[i], keep) < 0) {
            cJSON_Delete(counts);
            goto nomem;
        }
        cJSON *c = jout_obj(&o, counts, NULL);
        jout_num(&o, c, "step", (double)i);
        jout_str(&o, c, "op", op_names[steps[i].op]);
        jout_num(&o, c, "in", (double)in);
        jout_num(&o, c, "out", (double)rows.n);
    }
    cJSON *out = jout_arr(&o, r, "records");
    for (size_t i = 0; i < rows.n; i++) {
        jout_item(&o, out, NULL, rows.item[i]);
        rows.item[i] = NULL;
    }
    jout_num(&o, r, "count", (double)rows.n);
    jout_num(&o, r, "inputCount", (double)n);
    jout_item(&o, r, "steps", counts);
    char text[200];
    snprintf(text, sizeof(text), "Transformed %zu record%s into %zu through %zu step%s.", n,
             n == 1 ? "" : "s", rows.n, nsteps, nsteps == 1 ? "" : "s");
    jout_str(&o, r, "summary", text);
    rows.n = 0;
    if (o.failed)
        goto nomem;
    free(steps);
    free(rows.item);
    free(keep);
    cJSON_Delete(copy);
    *result = r;
    return 0;

nomem:
    rc = dperror_nomem(err);
fail:
    for (size_t i = 0; i < rows.n; i++)
        cJSON_Delete(rows.item[i]);
    free(rows.item);
    free(steps);
    free(keep);
    cJSON_Delete(copy);
    cJSON_Delete(r);
    return rc;
}
