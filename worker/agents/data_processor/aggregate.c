/* aggregate — process_data: read the options, find the fields, split the records into
 * groups, and summarise each field of each group with numstats. */
#include "worker/agents/data_processor/aggregate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/agents/data_processor/jout.h"
#include "worker/agents/data_processor/jvalue.h"
#include "worker/agents/data_processor/numstats.h"
#include "worker/agents/data_processor/recordset.h"

struct options {
    const cJSON *records;
    struct name_list fields; /* requested; n == 0 when absent */
    bool fields_given;
    double percentiles[AGGREGATE_MAX_PERCENTILES];
    size_t npercentiles;
    struct name_list group_by; /* n == 0 when absent */
};

static int read_percentiles(const cJSON *data, const struct jsonpath *root, struct options *opt,
                            struct dp_error *err)
{
    static const double defaults[] = {50, 90, 99};
    const cJSON *p = jvalue_member(data, "percentiles");
    struct jsonpath at = *root;
    jsonpath_key(&at, "percentiles");
    if (!p || cJSON_IsNull(p)) {
        memcpy(opt->percentiles, defaults, sizeof(defaults));
        opt->npercentiles = sizeof(defaults) / sizeof(defaults[0]);
        return 0;
    }
    if (!cJSON_IsArray(p))
        return dperror_set(err, "%s must be an array of numbers from 0 to 100", at.text);
    size_t i = 0;
    for (const cJSON *c = p->child; c; c = c->next, i++) {
        if (i >= AGGREGATE_MAX_PERCENTILES)
            return dperror_set(err, "%s has more than %d entries", at.text,
                               AGGREGATE_MAX_PERCENTILES);
        size_t mark = jsonpath_index(&at, i);
        if (!cJSON_IsNumber(c) || c->valuedouble < 0 || c->valuedouble > 100)
            return dperror_set(err, "%s must be a number from 0 to 100", at.text);
        for (size_t j = 0; j < i; j++)
            if (opt->percentiles[j] == c->valuedouble)
                return dperror_set(err, "%s repeats the percentile %g", at.text, c->valuedouble);
        opt->percentiles[i] = c->valuedouble;
        jsonpath_pop(&at, mark);
    }
    opt->npercentiles = i;
    return 0;
}

static int read_options(const cJSON *data, const char *root, struct options *opt,
                        struct dp_error *err)
{
    struct jsonpath path;
    jsonpath_init(&path, root);
    int rc = recordset_records(data, "records", &path, true, true, &opt->records, err);
    if (rc < 0)
        return rc;
    rc = recordset_names(data, "fields", &path, false, true, &opt->fields, err);
    if (rc < 0)
        return rc;
    opt->fields_given = rc == 1;
    if (!opt->fields_given)
        opt->fields.n = 0;
    rc = recordset_names(data, "groupBy", &path, false, true, &opt->group_by, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        opt->group_by.n = 0;
    return read_percentiles(data, &path, opt, err);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool in_list(const struct name_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return true;
    return false;
}

/* The fields to summarise when none were named: every key holding a number in at least one
 * record, except the groupBy keys, sorted bytewise. *out is malloc'd (NULL when none). */
static int find_numeric_fields(const struct options *opt, const char ***out, size_t *n,
                               const char *root, struct dp_error *err)
{
    const char **names = NULL;
    size_t count = 0, cap = 0;
    for (const cJSON *r = opt->records->child; r; r = r->next)
        for (const cJSON *c = r->child; c; c = c->next) {
            if (!cJSON_IsNumber(c) || in_list(&opt->group_by, c->string))
                continue;
            bool seen = false;
            for (size_t i = 0; i < count && !seen; i++)
                seen = strcmp(names[i], c->string) == 0;
            if (seen)
                continue;
            if (count == AGGREGATE_MAX_FIELDS) {
                free(names);
                return dperror_set(err,
                                   "%s.records hold more than %d numeric fields: name the ones to "
                                   "aggregate in %s.fields",
                                   root, AGGREGATE_MAX_FIELDS, root);
            }
            if (count == cap) {
                cap = cap ? cap * 2 : 16;
                const char **grown = realloc(names, cap * sizeof(*names));
                if (!grown) {
                    free(names);
                    return dperror_nomem(err);
                }
                names = grown;
            }
            names[count++] = c->string;
        }
    if (count > 1)
        qsort(names, count, sizeof(*names), cmp_name);
    *out = names;
    *n = count;
    return 0;
}

/* ---- summaries ----------------------------------------------------------------------- */

/* The aggregates of field over recs[0..n); scratch holds at least n doubles. */
static cJSON *field_summary(struct jout *o, const cJSON *const *recs, size_t n, const char *field,
                            const struct options *opt, double *scratch)
{
    size_t numeric = 0, missing = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *v = jvalue_member(recs[i], field);
        if (!v || cJSON_IsNull(v))
            missing++;
        else if (cJSON_IsNumber(v))
            scratch[numeric++] = v->valuedouble;
        else
            other++;
    }
    struct numstats st;
    numstats_compute(scratch, numeric, &st);
    cJSON *s = cJSON_CreateObject();
    if (!s) {
        o->failed = true;
        return NULL;
    }
    jout_num(o, s, "count", (double)numeric);
    jout_num(o, s, "missing", (double)missing);
    jout_num(o, s, "nonNumeric", (double)other);
    jout_num(o, s, "sum", st.sum);
    static const char *const names[] = {"mean", "min", "max", "stddev"};
    const double values[] = {st.mean, st.min, st.max, st.stddev};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (numeric)
            jout_num(o, s, names[i], values[i]);
        else
            jout_null(o, s, names[i]);
    }
    cJSON *pct = jout_obj(o, s, "percentiles");
    for (size_t i = 0; i < opt->npercentiles; i++) {
        char key[40];
        snprintf(key, sizeof(key), "p%g", opt->percentiles[i]);
        if (numeric)
            jout_num(o, pct, key, numstats_percentile(scratch, numeric, opt->percentiles[i]));
        else
            jout_null(o, pct, key);
    }
    return s;
}

/* {"count": n, "fields": {name: summary, ...}} into obj. */
static void summarise(struct jout *o, cJSON *obj, const cJSON *const *recs, size_t n,
                      const char *const *fields, size_t nfields, const struct options *opt,
                      double *scratch)
{
    jout_num(o, obj, "count", (double)n);
    cJSON *f = jout_obj(o, obj, "fields");
    for (size_t i = 0; i < nfields && !o->failed; i++)
        jout_item(o, f, fields[i], field_summary(o, recs, n, fields[i], opt, scratch));
}

/* ---- groups -------------------------------------------------------------------------- */

/* A record with what the sort needs, so the comparator needs no outside context. */
struct keyed {
    const cJSON *rec;
    size_t index;
    const struct name_list *keys;
};

static const cJSON null_value = {.type = cJSON_NULL};

/* A record's value of a groupBy field; missing counts as null. */
static const cJSON *group_value(const cJSON *rec, const char *field)
{
    const cJSON *v = jvalue_member(rec, field);
    return v ? v : &null_value;
}

static int cmp_group(const struct keyed *a, const struct keyed *b)
{
    for (size_t i = 0; i < a->keys->n; i++) {
        int c = jvalue_compare(group_value(a->rec, a->keys->names[i]),
                               group_value(b->rec, a->keys->names[i]));
        if (c)
            return c;
    }
    return 0;
}

static int cmp_keyed(const void *x, const void *y)
{
    const struct keyed *a = x, *b = y;
    int c = cmp_group(a, b);
    return c ? c : a->index < b->index ? -1 : a->index > b->index ? 1 : 0;
}

/* One group: {"key": canonical text, "by": {field: value}, "count", "fields"}. */
static cJSON *group_entry(struct jout *o, const cJSON *const *recs, size_t n,
                          const char *const *fields, size_t nfields, const struct options *opt,
                          double *scratch)
{
    cJSON *g = cJSON_CreateObject(), *key = NULL;
    if (!g) {
        o->failed = true;
        return NULL;
    }
    cJSON *by = jout_obj(o, g, "by");
    for (size_t i = 0; i < opt->group_by.n; i++)
        jout_item(o, by, opt->group_by.names[i],
                  cJSON_Duplicate(group_value(recs[0], opt->group_by.names[i]), true));
    if (opt->group_by.n == 1) {
        key = cJSON_Duplicate(group_value(recs[0], opt->group_by.names[0]), true);
    } else {
        key = cJSON_CreateArray();
        for (size_t i = 0; i < opt->group_by.n; i++)
            jout_item(o, key, NULL,
                      cJSON_Duplicate(group_value(recs[0], opt->group_by.names[i]), true));
    }
    char *text = key ? jvalue_render(key) : NULL;
    cJSON_Delete(key);
    if (text)
        jout_str(o, g, "key", text);
    else
        o->failed = true;
    free(text);
    summarise(o, g, recs, n, fields, nfields, opt, scratch);
    return g;
}

static void add_groups(struct jout *o, cJSON *result, const cJSON **recs, size_t n,
                       const char *const *fields, size_t nfields, const struct options *opt,
                       double *scratch)
{
    cJSON *groups = jout_arr(o, result, "groups");
    if (n == 0 || o->failed)
        return;
    struct keyed *order = malloc(n * sizeof(*order));
    if (!order) {
        o->failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (struct keyed){recs[i], i, &opt->group_by};
    qsort(order, n, sizeof(*order), cmp_keyed);
    /* recs is reused in group order: each group is one contiguous run. */
    for (size_t i = 0; i < n; i++)
        recs[i] = order[i].rec;
    for (size_t start = 0; start < n && !o->failed;) {
        size_t end = start + 1;
        while (end < n && cmp_group(&order[start], &order[end]) == 0)
            end++;
        jout_item(o, groups, NULL,
                  group_entry(o, recs + start, end - start, fields, nfields, opt, scratch));
        start = end;
    }
    free(order);
}

/* ---- the task -------------------------------------------------------------------------- */

static void add_summary(struct jout *o, cJSON *result, size_t n, const char *const *fields,
                        size_t nfields, const struct options *opt, const cJSON *groups)
{
    char text[400];
    size_t len =
        (size_t)snprintf(text, sizeof(text), "Aggregated %zu record%s over %zu numeric field%s", n,
                         n == 1 ? "" : "s", nfields, nfields == 1 ? "" : "s");
    for (size_t i = 0; i < nfields && i < 5 && len < sizeof(text); i++)
        len +=
            (size_t)snprintf(text + len, sizeof(text) - len, "%s%.40s", i ? ", " : " (", fields[i]);
    if (nfields && len < sizeof(text))
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s)", nfields > 5 ? ", ..." : "");
    if (opt->group_by.n && len < sizeof(text)) {
        int ng = cJSON_GetArraySize(groups);
        len += (size_t)snprintf(text + len, sizeof(text) - len, " in %d group%s by", ng,
                                ng == 1 ? "" : "s");
        for (size_t i = 0; i < opt->group_by.n && len < sizeof(text); i++)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s %.40s", i ? "," : "",
                                    opt->group_by.names[i]);
    }
    if (len < sizeof(text))
        snprintf(text + len, sizeof(text) - len, ".");
    jout_str(o, result, "summary", text);
}

int aggregate_run(const cJSON *data, const char *root, cJSON **result, struct dp_error *err)
{
    struct options opt;
    const char **found = NULL;
    const cJSON **recs = NULL;
    double *scratch = NULL;
    cJSON *r = NULL;
    int rc = read_options(data, root, &opt, err);
    if (rc < 0)
        goto fail;
    const char *const *fields = opt.fields.names;
    size_t nfields = opt.fields.n;
    if (!opt.fields_given) {
        rc = find_numeric_fields(&opt, &found, &nfields, root, err);
        if (rc < 0)
            goto fail;
        fields = found;
    }
    size_t n = (size_t)cJSON_GetArraySize(opt.records);
    recs = malloc((n ? n : 1) * sizeof(*recs));
    scratch = malloc((n ? n : 1) * sizeof(*scratch));
    r = cJSON_CreateObject();
    if (!recs || !scratch || !r) {
        rc = dperror_nomem(err);
        goto fail;
    }
    size_t i = 0;
    for (const cJSON *c = opt.records->child; c; c = c->next)
        recs[i++] = c;

    struct jout o = {false};
    summarise(&o, r, recs, n, fields, nfields, &opt, scratch);
    cJSON *pct = jout_arr(&o, r, "percentiles");
    for (size_t k = 0; k < opt.npercentiles; k++)
        jout_num(&o, pct, NULL, opt.percentiles[k]);
    if (opt.group_by.n) {
        cJSON *gb = jout_arr(&o, r, "groupBy");
        for (size_t k = 0; k < opt.group_by.n; k++)
            jout_str(&o, gb, NULL, opt.group_by.names[k]);
        add_groups(&o, r, recs, n, fields, nfields, &opt, scratch);
    }
    add_summary(&o, r, n, fields, nfields, &opt, cJSON_GetObjectItemCaseSensitive(r, "groups"));
    if (o.failed) {
        rc = dperror_nomem(err);
        goto fail;
    }
    free(found);
    free(recs);
    free(scratch);
    *result = r;
    return 0;

fail:
    free(found);
    free(recs);
    free(scratch);
    cJSON_Delete(r);
    return rc;
}
