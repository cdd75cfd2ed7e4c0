/* schema — compiling a JSON-Schema subset into a tree of nodes, and checking values against
 * it (see schema.h). Keywords outside the subset fail the compile, except annotations that
 * assert nothing (title, description, ...), so a schema never silently checks less than
 * its author meant. */
#include "worker/agents/data_processor/schema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/agents/data_processor/jout.h"
#include "worker/agents/data_processor/jvalue.h"
#include "worker/agents/data_processor/recordset.h"

enum {
    T_NULL = 1 << 0,
    T_BOOLEAN = 1 << 1,
    T_INTEGER = 1 << 2,
    T_NUMBER = 1 << 3,
    T_STRING = 1 << 4,
    T_ARRAY = 1 << 5,
    T_OBJECT = 1 << 6,
};

static const struct {
    const char *name;
    unsigned bit;
} type_names[] = {
    {"object", T_OBJECT},   {"array", T_ARRAY},     {"string", T_STRING}, {"number", T_NUMBER},
    {"integer", T_INTEGER}, {"boolean", T_BOOLEAN}, {"null", T_NULL},
};
#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

/* minimum, maximum, exclusiveMinimum, exclusiveMaximum */
enum bound { B_MIN, B_MAX, B_XMIN, B_XMAX, B__COUNT };
static const char *const bound_names[B__COUNT] = {"minimum", "maximum", "exclusiveMinimum",
                                                  "exclusiveMaximum"};

/* minLength, maxLength, minItems, maxItems */
enum count { C_MINLEN, C_MAXLEN, C_MINITEMS, C_MAXITEMS, C__COUNT };
static const char *const count_names[C__COUNT] = {"minLength", "maxLength", "minItems", "maxItems"};

struct node;

struct prop {
    const char *name;
    struct node *node;
};

struct node {
    bool never;     /* the schema `false` */
    unsigned types; /* 0: any type */
    struct prop *props;
    size_t nprops;
    const cJSON *required; /* array of strings, or NULL */
    int additional;        /* -1 unset, 0 false, 1 true */
    struct node *items;
    const cJSON *enum_values, *const_value;
    bool has_bound[B__COUNT];
    double bound[B__COUNT];
    long count[C__COUNT]; /* -1 unset */
    bool has_pattern;
    const char *pattern;
    regex_t re;
};

struct schema {
    struct node *root;
};

/* Keywords that only annotate: accepted and ignored. */
static const char *const annotations[] = {"$schema",     "$id",      "$comment",  "title",
                                          "description", "default",  "examples",  "format",
                                          "deprecated",  "readOnly", "writeOnly", NULL};

static void node_free(struct node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nprops; i++)
        node_free(n->props[i].node);
    free(n->props);
    node_free(n->items);
    if (n->has_pattern)
        regfree(&n->re);
    free(n);
}

void schema_free(struct schema *s)
{
    if (!s)
        return;
    node_free(s->root);
    free(s);
}

/* ---- compiling ------------------------------------------------------------------------ */

static int compile_node(const cJSON *js, struct jsonpath *path, int depth, struct node **out,
                        struct dp_error *err);

static int compile_type(struct node *n, const cJSON *v, struct jsonpath *path, struct dp_error *err)
{
    if (!cJSON_IsString(v) && !(cJSON_IsArray(v) && v->child))
        return dperror_set(err, "%s must be a type name or a non-empty array of them", path->text);
    const cJSON *one = cJSON_IsString(v) ? v : v->child;
    for (size_t i = 0; one; one = cJSON_IsString(v) ? NULL : one->next, i++) {
        size_t mark = cJSON_IsArray(v) ? jsonpath_index(path, i) : path->len;
        if (!cJSON_IsString(one))
            return dperror_set(err, "%s must be a type name, not %s", path->text,
                               jvalue_type_name(one));
        size_t t = 0;
        while (t < NTYPES && strcmp(type_names[t].name, one->valuestring) != 0)
            t++;
        if (t == NTYPES)
            return dperror_set(
                err,
                "%s has an unknown type \"%.60s\" (known: object, array, string, number, "
                "integer, boolean, null)",
                path->text, one->valuestring);
        n->types |= type_names[t].bit;
        jsonpath_pop(path, mark);
    }
    return 0;
}

static int compile_properties(struct node *n, const cJSON *v, struct jsonpath *path, int depth,
                              struct dp_error *err)
{
    if (!cJSON_IsObject(v))
        return dperror_set(err, "%s must be an object of schemas", path->text);
    size_t count = (size_t)cJSON_GetArraySize(v);
    n->props = calloc(count ? count : 1, sizeof(*n->props));
    if (!n->props)
        return dperror_nomem(err);
    for (const cJSON *c = v->child; c; c = c->next) {
        size_t mark = jsonpath_key(path, c->string);
        struct prop *p = &n->props[n->nprops++];
        p->name = c->string;
        int rc = compile_node(c, path, depth + 1, &p->node, err);
        if (rc < 0)
            return rc;
        jsonpath_pop(path, mark);
    }
    return 0;
}

static int compile_required(struct node *n, const cJSON *v, struct jsonpath *path,
                            struct dp_error *err)
{
    if (!cJSON_IsArray(v))
        return dperror_set(err, "%s must be an array of property names", path->text);
    size_t i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++)
        if (!cJSON_IsString(c)) {
            jsonpath_index(path, i);
            return dperror_set(err, "%s must be a string, not %s", path->text, jvalue_type_name(c));
        }
    n->required = v;
    return 0;
}

/* glibc's regcomp builds a repeated part once per count it may take, and again for each
 * quantifier stacked on it, so `(a{100}){100}` or `a+++…+` costs memory exponential in the
 * pattern's length (the schema fuzzer took a worker past 1 GB with 50 `+`, and 13 stacked
 * on `*` kept it compiling for seconds). A pattern is measured first: each element's size
 * times the largest count of its quantifier, through nested groups, refused past
 * PATTERN_SIZE_MAX; a quantifier stacked on another is refused outright. */
#define PATTERN_SIZE_MAX 5000.0
#define PATTERN_DEPTH_MAX 32

/* Where the bracket expression starting at p ([…]) ends: the `]` closing it, or NULL. */
static const char *bracket_end(const char *p)
{
    p++;
    if (*p == '^')
        p++;
    if (*p == ']')
        p++;
    for (; *p && *p != ']'; p++)
        if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            const char *close = strchr(p + 2, ']');
            if (!close)
                return NULL;
            p = close;
        }
    return *p ? p : NULL;
}

/* The largest count of the interval at p ({n}, {n,}, {n,m}), with *end set past it; 0 when
 * p does not start an interval (regcomp then refuses it or reads the brace literally). */
static double interval_count(const char *p, const char **end)
{
    char *q;
    double lo = strtod(p + 1, &q), hi = lo;
    if (q == p + 1 || !(lo >= 0))
        return 0;
    const char *e = q;
    if (*e == ',') {
        if (e[1] == '}') {
            hi = lo + 1;
            e++;
        } else {
            hi = strtod(e + 1, &q);
            if (q == e + 1)
                return 0;
            e = q;
        }
    }
    if (*e != '}')
        return 0;
    *end = e;
    return hi > 1 ? hi : 1;
}

static double pattern_size(const char *p)
{
    double size[PATTERN_DEPTH_MAX + 1] = {0}, last = 0;
    int depth = 0;
    bool quantified = false; /* the element just read was a quantifier */
    for (; *p; p++) {
        double times = 0;
        const char *end = p;
        if (*p == '(' || *p == ')' || *p == '|')
            quantified = false;
        switch (*p) {
        case '(':
            if (depth == PATTERN_DEPTH_MAX)
                return INFINITY;
            size[++depth] = 0;
            last = 0;
            continue;
        case ')':
            if (depth > 0) {
                last = size[depth--] + 2;
                size[depth] += last;
                continue;
            }
            break;
        case '*':
        case '+':
        case '?': times = 2; break;
        case '{': times = interval_count(p, &end); break;
        case '|': last = 0; continue;
        case '[':
            if (!(end = bracket_end(p)))
                return INFINITY; /* regcomp refuses it */
            break;
        case '\\':
            if (p[1])
                end = p + 1;
            break;
        default: break;
        }
        if (times > 0 && quantified)
            return INFINITY; /* stacked (`a+*`, `a{2}+`): undefined in POSIX, costly in glibc */
        quantified = times > 0;
        if (times > 0) { /* a quantifier: the element before it, that many times */
            size[depth] += last * (times - 1);
            last *= times;
        } else {
            last = 1;
            size[depth] += 1;
        }
        p = end;
        if (size[depth] > PATTERN_SIZE_MAX)
            return INFINITY;
    }
    double total = 0;
    for (int d = 0; d <= depth; d++)
        total += size[d];
    return total;
}

static int compile_pattern(struct node *n, const cJSON *v, struct jsonpath *path,
                           struct dp_error *err)
{
    if (!cJSON_IsString(v))
        return dperror_set(err, "%s must be a string", path->text);
    if (pattern_size(v->valuestring) > PATTERN_SIZE_MAX)
        return dperror_set(err,
                           "%s repeats too much (nested or stacked repetitions would take "
                           "too much memory to compile): %.100s",
                           path->text, v->valuestring);
    if (n->has_pattern) { /* a repeated keyword: the last one counts, as for the others */
        regfree(&n->re);
        n->has_pattern = false;
    }
    int rc = regcomp(&n->re, v->valuestring, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, &n->re, why, sizeof(why));
        return dperror_set(err, "%s is not a valid POSIX extended regular expression (%s): %.100s",
                           path->text, why, v->valuestring);
    }
    n->has_pattern = true;
    n->pattern = v->valuestring;
    return 0;
}

/* One keyword of a schema object; path already names it. */
static int compile_keyword(struct node *n, const cJSON *v, struct jsonpath *path, int depth,
                           struct dp_error *err)
{
    const char *k = v->string;
    if (strcmp(k, "type") == 0)
        return compile_type(n, v, path, err);
    if (strcmp(k, "properties") == 0)
        return compile_properties(n, v, path, depth, err);
    if (strcmp(k, "required") == 0)
        return compile_required(n, v, path, err);
    if (strcmp(k, "pattern") == 0)
        return compile_pattern(n, v, path, err);
    if (strcmp(k, "additionalProperties") == 0) {
        if (!cJSON_IsBool(v))
            return dperror_set(err, "%s must be true or false (the schema form is not supported)",
                               path->text);
        n->additional = cJSON_IsTrue(v);
        return 0;
    }
    if (strcmp(k, "items") == 0) {
        if (cJSON_IsArray(v))
            return dperror_set(err, "%s must be one schema (the array form is not supported)",
                               path->text);
        return compile_node(v, path, depth + 1, &n->items, err);
    }
    if (strcmp(k, "enum") == 0) {
        if (!cJSON_IsArray(v) || !v->child)
            return dperror_set(err, "%s must be a non-empty array", path->text);
        n->enum_values = v;
        return 0;
    }
    if (strcmp(k, "const") == 0) {
        n->const_value = v;
        return 0;
    }
    for (int b = 0; b < B__COUNT; b++)
        if (strcmp(k, bound_names[b]) == 0) {
            if (!cJSON_IsNumber(v))
                return dperror_set(err, "%s must be a number%s", path->text,
                                   b >= B_XMIN ? " (the draft-4 boolean form is not supported)"
                                               : "");
            n->has_bound[b] = true;
            n->bound[b] = v->valuedouble;
            return 0;
        }
    for (int c = 0; c < C__COUNT; c++)
        if (strcmp(k, count_names[c]) == 0) {
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
                v->valuedouble < 0 || v->valuedouble > 1e15)
                return dperror_set(err, "%s must be a non-negative integer", path->text);
            n->count[c] = (long)v->valuedouble;
            return 0;
        }
    for (const char *const *a = annotations; *a; a++)
        if (strcmp(k, *a) == 0)
            return 0;
    return dperror_set(err, "%s is not a supported keyword (see docs/agents/data_processor.md)",
                       path->text);
}

static int compile_node(const cJSON *js, struct jsonpath *path, int depth, struct node **out,
                        struct dp_error *err)
{
    if (depth > RECORDSET_MAX_DEPTH)
        return dperror_set(err, "%s nests deeper than %d schemas", path->text, RECORDSET_MAX_DEPTH);
    if (!cJSON_IsObject(js) && !cJSON_IsBool(js))
        return dperror_set(err, "%s must be a schema object or a boolean, not %s", path->text,
                           jvalue_type_name(js));
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return dperror_nomem(err);
    *out = n; /* owned by the parent from here, freed with it even on failure */
    n->additional = -1;
    for (int c = 0; c < C__COUNT; c++)
        n->count[c] = -1;
    if (cJSON_IsBool(js)) {
        n->never = cJSON_IsFalse(js);
        return 0;
    }
    for (const cJSON *k = js->child; k; k = k->next) {
        size_t mark = jsonpath_key(path, k->string);
        int rc = compile_keyword(n, k, path, depth, err);
        if (rc < 0)
            return rc;
        jsonpath_pop(path, mark);
    }
    return 0;
}

int schema_compile(const cJSON *schema, const struct jsonpath *path, struct schema **out,
                   struct dp_error *err)
{
    struct schema *s = calloc(1, sizeof(*s));
    if (!s)
        return dperror_nomem(err);
    struct jsonpath at = *path;
    int rc = compile_node(schema, &at, 0, &s->root, err);
    if (rc < 0) {
        schema_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- checking --------------------------------------------------------------------------- */

struct checker {
    cJSON *violations; /* may be NULL */
    long count;
    bool oom;
};

static void violation(struct checker *ck, const struct jsonpath *path, const char *keyword,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void violation(struct checker *ck, const struct jsonpath *path, const char *keyword,
                      const char *fmt, ...)
{
    ck->count++;
    if (!ck->violations || cJSON_GetArraySize(ck->violations) >= SCHEMA_MAX_VIOLATIONS)
        return;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct jout o = {false};
    cJSON *v = jout_obj(&o, ck->violations, NULL);
    jout_str(&o, v, "path", path->text);
    jout_str(&o, v, "keyword", keyword);
    jout_str(&o, v, "message", msg);
    if (o.failed)
        ck->oom = true;
}

static unsigned type_of(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return T_NULL;
    if (cJSON_IsBool(v))
        return T_BOOLEAN;
    if (cJSON_IsNumber(v))
        return v->valuedouble == floor(v->valuedouble) ? T_INTEGER | T_NUMBER : T_NUMBER;
    if (cJSON_IsString(v))
        return T_STRING;
    if (cJSON_IsArray(v))
        return T_ARRAY;
    return T_OBJECT;
}

static void describe_types(unsigned types, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t t = 0; t < NTYPES && o < len; t++)
        if (types & type_names[t].bit)
            o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " or " : "", type_names[t].name);
}

/* Characters in a UTF-8 string: bytes that do not continue a sequence. */
static long utf8_length(const char *s)
{
    long n = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        n += (*c & 0xC0) != 0x80;
    return n;
}

static void check_node(struct checker *ck, const struct node *n, const cJSON *v,
                       struct jsonpath *path);

static void check_number(struct checker *ck, const struct node *n, double x, struct jsonpath *path)
{
    if (n->has_bound[B_MIN] && x < n->bound[B_MIN])
        violation(ck, path, "minimum", "%.15g is less than the minimum %.15g", x, n->bound[B_MIN]);
    if (n->has_bound[B_MAX] && x > n->bound[B_MAX])
        violation(ck, path, "maximum", "%.15g is greater than the maximum %.15g", x,
                  n->bound[B_MAX]);
    if (n->has_bound[B_XMIN] && x <= n->bound[B_XMIN])
        violation(ck, path, "exclusiveMinimum", "%.15g is not greater than %.15g", x,
                  n->bound[B_XMIN]);
    if (n->has_bound[B_XMAX] && x >= n->bound[B_XMAX])
        violation(ck, path, "exclusiveMaximum", "%.15g is not less than %.15g", x,
                  n->bound[B_XMAX]);
}

static void check_string(struct checker *ck, const struct node *n, const char *s,
                         struct jsonpath *path)
{
    if (n->count[C_MINLEN] >= 0 || n->count[C_MAXLEN] >= 0) {
        long len = utf8_length(s);
        if (n->count[C_MINLEN] >= 0 && len < n->count[C_MINLEN])
            violation(ck, path, "minLength", "is %ld characters long, shorter than %ld", len,
                      n->count[C_MINLEN]);
        if (n->count[C_MAXLEN] >= 0 && len > n->count[C_MAXLEN])
            violation(ck, path, "maxLength", "is %ld characters long, longer than %ld", len,
                      n->count[C_MAXLEN]);
    }
    if (n->has_pattern && regexec(&n->re, s, 0, NULL, 0) != 0)
        violation(ck, path, "pattern", "does not match the pattern %.200s", n->pattern);
}

static void check_array(struct checker *ck, const struct node *n, const cJSON *v,
                        struct jsonpath *path)
{
    long size = cJSON_GetArraySize(v);
    if (n->count[C_MINITEMS] >= 0 && size < n->count[C_MINITEMS])
        violation(ck, path, "minItems", "has %ld items, fewer than %ld", size,
                  n->count[C_MINITEMS]);
    if (n->count[C_MAXITEMS] >= 0 && size > n->count[C_MAXITEMS])
        violation(ck, path, "maxItems", "has %ld items, more than %ld", size, n->count[C_MAXITEMS]);
    if (!n->items)
        return;
    size_t i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        size_t mark = jsonpath_index(path, i);
        check_node(ck, n->items, c, path);
        jsonpath_pop(path, mark);
    }
}

static const struct node *find_prop(const struct node *n, const char *name)
{
    for (size_t i = 0; i < n->nprops; i++)
        if (strcmp(n->props[i].name, name) == 0)
            return n->props[i].node;
    return NULL;
}

static void check_object(struct checker *ck, const struct node *n, const cJSON *v,
                         struct jsonpath *path)
{
    if (n->required)
        for (const cJSON *r = n->required->child; r; r = r->next)
            if (!cJSON_GetObjectItemCaseSensitive(v, r->valuestring)) {
                size_t mark = jsonpath_key(path, r->valuestring);
                violation(ck, path, "required", "is required but missing");
                jsonpath_pop(path, mark);
            }
    for (const cJSON *c = v->child; c; c = c->next) {
        const struct node *p = find_prop(n, c->string);
        if (!p && n->additional != 0)
            continue;
        size_t mark = jsonpath_key(path, c->string);
        if (p)
            check_node(ck, p, c, path);
        else
            violation(ck, path, "additionalProperties", "is not an allowed property");
        jsonpath_pop(path, mark);
    }
}

static void check_node(struct checker *ck, const struct node *n, const cJSON *v,
                       struct jsonpath *path)
{
    if (n->never) {
        violation(ck, path, "false", "no value is allowed here");
        return;
    }
    unsigned t = type_of(v);
    if (n->types && !(n->types & t)) {
        char want[100];
        describe_types(n->types, want, sizeof(want));
        violation(ck, path, "type", "must be %s, not %s", want,
                  t == T_NUMBER     ? "a fractional number"
                  : (t & T_INTEGER) ? "integer"
                                    : jvalue_type_name(v));
    }
    if (n->enum_values) {
        bool found = false;
        for (const cJSON *e = n->enum_values->child; e && !found; e = e->next)
            found = jvalue_equal(v, e);
        if (!found)
            violation(ck, path, "enum", "is not one of the %d allowed values",
                      cJSON_GetArraySize(n->enum_values));
    }
    if (n->const_value && !jvalue_equal(v, n->const_value))
        violation(ck, path, "const", "does not equal the required constant");
    if (t & T_NUMBER)
        check_number(ck, n, v->valuedouble, path);
    else if (t == T_STRING)
        check_string(ck, n, v->valuestring, path);
    else if (t == T_ARRAY)
        check_array(ck, n, v, path);
    else if (t == T_OBJECT)
        check_object(ck, n, v, path);
}

long schema_check(const struct schema *s, const cJSON *value, const char *path, cJSON *violations)
{
    struct checker ck = {violations, 0, false};
    struct jsonpath p;
    jsonpath_init(&p, path);
    check_node(&ck, s->root, value, &p);
    return ck.oom ? -1 : ck.count;
}

/* ---- the task ---------------------------------------------------------------------------- */

int schema_run(const cJSON *data, const char *root, cJSON **result, struct dp_error *err)
{
    struct schema *s = NULL;
    cJSON *r = NULL;
    const cJSON *records = NULL, *single = NULL;
    struct jsonpath path;
    jsonpath_init(&path, root);
    int rc = recordset_records(data, "records", &path, false, false, &records, err);
    if (rc < 0)
        goto fail;
    if (rc == 0) {
        single = jvalue_member(data, "record");
        if (!single) {
            rc = dperror_set(err, "%s.records (or %s.record) is required", root, root);
            goto fail;
        }
        if (jvalue_depth(single) > RECORDSET_MAX_DEPTH) {
            rc = dperror_set(err, "%s.record nests deeper than %d levels", root,
                             RECORDSET_MAX_DEPTH);
            goto fail;
        }
    } else if (jvalue_member(data, "record")) {
        rc = dperror_set(err, "%s.records and %s.record are both given: send one", root, root);
        goto fail;
    }
    const cJSON *js = jvalue_member(data, "schema");
    struct jsonpath spath = path;
    jsonpath_key(&spath, "schema");
    if (!js || cJSON_IsNull(js)) {
        rc = dperror_set(err, "%s is required", spath.text);
        goto fail;
    }
    rc = schema_compile(js, &spath, &s, err);
    if (rc < 0)
        goto fail;

    struct jout o = {false};
    r = cJSON_CreateObject();
    cJSON *violations = cJSON_CreateArray();
    cJSON *invalid = cJSON_CreateArray();
    long total = 0, nrecords = 0, ninvalid = 0;
    if (!r || !violations || !invalid) {
        cJSON_Delete(violations);
        cJSON_Delete(invalid);
        rc = dperror_nomem(err);
        goto fail;
    }
    const cJSON *first = single ? single : records->child;
    for (const cJSON *rec = first; rec; rec = single ? NULL : rec->next, nrecords++) {
        char at[32];
        int before = cJSON_GetArraySize(violations);
        if (single)
            snprintf(at, sizeof(at), "$");
        else
            snprintf(at, sizeof(at), "$[%ld]", nrecords);
        long found = schema_check(s, rec, at, violations);
        if (found < 0)
            o.failed = true;
        if (found <= 0)
            continue;
        total += found;
        ninvalid++;
        if (!single) {
            /* say which record each listed violation belongs to */
            for (cJSON *v = cJSON_GetArrayItem(violations, before); v; v = v->next)
                jout_num(&o, v, "record", (double)nrecords);
            if (cJSON_GetArraySize(invalid) < SCHEMA_MAX_VIOLATIONS)
                jout_num(&o, invalid, NULL, (double)nrecords);
        }
    }
    jout_bool(&o, r, "valid", total == 0);
    jout_num(&o, r, "recordCount", (double)nrecords);
    jout_num(&o, r, "validCount", (double)(nrecords - ninvalid));
    jout_num(&o, r, "invalidCount", (double)ninvalid);
    jout_num(&o, r, "violationCount", (double)total);
    jout_bool(&o, r, "truncated", total > cJSON_GetArraySize(violations));
    jout_item(&o, r, "violations", violations);
    if (single)
        cJSON_Delete(invalid);
    else
        jout_item(&o, r, "invalidRecords", invalid);
    char text[200];
    if (total == 0)
        snprintf(text, sizeof(text), "All %ld record%s valid.", nrecords,
                 nrecords == 1 ? " is" : "s are");
    else
        snprintf(text, sizeof(text), "%ld of %ld record%s invalid, with %ld violation%s.", ninvalid,
                 nrecords, nrecords == 1 ? " is" : "s are", total, total == 1 ? "" : "s");
    jout_str(&o, r, "summary", text);
    if (o.failed) {
        rc = dperror_nomem(err);
        goto fail;
    }
    schema_free(s);
    *result = r;
    return 0;

fail:
    schema_free(s);
    cJSON_Delete(r);
    return rc;
}
