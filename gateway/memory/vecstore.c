/* vecstore — the int8 vector store and its bounded-error candidate search (see vecstore.h).
 *
 * Each vector v is kept as codes c (int8, c_i = round(v_i / s), s = max|v_i| / 127), its
 * scale s, the L2 norm of its quantisation error e = v - s·c and its own L2 norm. For a
 * query q (itself possibly dequantised, with error norm eq) the exact score q·v differs
 * from the estimate s·(q·c) by at most
 *     min(s/2 · |q|₁, |q|₂ · |e|₂) + eq · |v|₂ + (float rounding slack),
 * so every vector whose upper bound reaches the k-th best lower bound is a candidate and
 * all others provably are not among the best k. Slots are dense (removal moves the last
 * slot into the hole); an open-addressing table with backward-shift deletion maps ids to
 * slots. */
#include "gateway/memory/vecstore.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct vmeta {
    float scale, err, norm;
    unsigned char mark;
};

struct vecstore {
    int dims;
    size_t n, cap;
    long long *ids;
    struct vmeta *meta;
    int8_t *codes;
    uint32_t *table; /* slot + 1, 0 = empty */
    size_t tcap;     /* power of two, at least twice cap */
};

struct vecstore *vecstore_new(int dims)
{
    if (dims <= 0)
        return NULL;
    struct vecstore *s = calloc(1, sizeof(*s));
    if (s)
        s->dims = dims;
    return s;
}

void vecstore_free(struct vecstore *s)
{
    if (!s)
        return;
    free(s->ids);
    free(s->meta);
    free(s->codes);
    free(s->table);
    free(s);
}

int vecstore_dims(const struct vecstore *s) { return s->dims; }

size_t vecstore_count(const struct vecstore *s) { return s->n; }

size_t vecstore_bytes(const struct vecstore *s)
{
    return s->cap * (sizeof(long long) + sizeof(struct vmeta) + (size_t)s->dims) +
           s->tcap * sizeof(uint32_t);
}

/* A copy of n elements of size bytes at src (NULL when there are none). */
static void *copy_of(const void *src, size_t n, size_t size, bool *failed)
{
    if (!n)
        return NULL;
    void *p = malloc(n * size);
    if (!p)
        *failed = true;
    else
        memcpy(p, src, n * size);
    return p;
}

struct vecstore *vecstore_clone(const struct vecstore *s)
{
    struct vecstore *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    bool failed = false;
    *c = *s;
    c->ids = copy_of(s->ids, s->cap, sizeof(*s->ids), &failed);
    c->meta = copy_of(s->meta, s->cap, sizeof(*s->meta), &failed);
    c->codes = copy_of(s->codes, s->cap, (size_t)s->dims, &failed);
    c->table = copy_of(s->table, s->tcap, sizeof(*s->table), &failed);
    if (failed) {
        vecstore_free(c);
        return NULL;
    }
    return c;
}

void vecstore_clear(struct vecstore *s)
{
    s->n = 0;
    if (s->table)
        memset(s->table, 0, s->tcap * sizeof(uint32_t));
}

static size_t home(const struct vecstore *s, long long id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    return (size_t)h & (s->tcap - 1);
}

/* The table position holding id, or the empty position where it would go. */
static size_t probe(const struct vecstore *s, long long id)
{
    size_t i = home(s, id);
    while (s->table[i] && s->ids[s->table[i] - 1] != id)
        i = (i + 1) & (s->tcap - 1);
    return i;
}

static long find_slot(const struct vecstore *s, long long id)
{
    if (!s->tcap)
        return -1;
    size_t i = probe(s, id);
    return s->table[i] ? (long)s->table[i] - 1 : -1;
}

bool vecstore_has(const struct vecstore *s, long long id) { return find_slot(s, id) >= 0; }

static int grow(struct vecstore *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    if (cap > UINT32_MAX / 4)
        return -1;
    long long *ids = realloc(s->ids, cap * sizeof(*ids));
    if (!ids)
        return -1;
    s->ids = ids;
    struct vmeta *meta = realloc(s->meta, cap * sizeof(*meta));
    if (!meta)
        return -1;
    s->meta = meta;
    int8_t *codes = realloc(s->codes, cap * (size_t)s->dims);
    if (!codes)
        return -1;
    s->codes = codes;
    size_t tcap = cap * 2;
    uint32_t *table = calloc(tcap, sizeof(*table));
    if (!table)
        return -1;
    free(s->table);
    s->table = table;
    s->tcap = tcap;
    s->cap = cap;
    for (size_t slot = 0; slot < s->n; slot++)
        s->table[probe(s, s->ids[slot])] = (uint32_t)slot + 1;
    return 0;
}

/* Quantises v into slot. Returns -1 when v holds a value that is not finite. */
static int quantise(struct vecstore *s, size_t slot, const float *v)
{
    double maxabs = 0, norm2 = 0, err2 = 0;
    for (int i = 0; i < s->dims; i++) {
        if (!isfinite(v[i]))
            return -1;
        double a = fabs((double)v[i]);
        maxabs = a > maxabs ? a : maxabs;
        norm2 += (double)v[i] * v[i];
    }
    struct vmeta *m = &s->meta[slot];
    int8_t *c = s->codes + slot * (size_t)s->dims;
    float scale = (float)(maxabs / 127.0);
    for (int i = 0; i < s->dims; i++) {
        long q = scale > 0 ? lrint((double)v[i] / scale) : 0;
        q = q > 127 ? 127 : q < -127 ? -127 : q;
        c[i] = (int8_t)q;
        double e = (double)v[i] - (double)scale * (double)q;
        err2 += e * e;
    }
    m->scale = scale;
    /* Rounded up, so the bound stays a bound. */
    m->err = nextafterf((float)sqrt(err2), INFINITY);
    m->norm = nextafterf((float)sqrt(norm2), INFINITY);
    m->mark = 1;
    return 0;
}

int vecstore_put(struct vecstore *s, long long id, const float *v)
{
    for (int i = 0; i < s->dims; i++)
        if (!isfinite(v[i]))
            return -1;
    long slot = find_slot(s, id);
    if (slot >= 0)
        return quantise(s, (size_t)slot, v);
    if (s->n == s->cap && grow(s) < 0)
        return -1;
    size_t at = s->n;
    s->ids[at] = id;
    if (quantise(s, at, v) < 0)
        return -1;
    s->table[probe(s, id)] = (uint32_t)at + 1;
    s->n++;
    return 0;
}

/* Empties table position i, shifting later entries of the same run back. */
static void table_delete(struct vecstore *s, size_t i)
{
    size_t mask = s->tcap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!s->table[j])
            break;
        size_t k = home(s, s->ids[s->table[j] - 1]);
        /* Move entry j into the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            s->table[i] = s->table[j];
            i = j;
        }
    }
    s->table[i] = 0;
}

bool vecstore_remove(struct vecstore *s, long long id)
{
    if (!s->tcap)
        return false;
    size_t pos = probe(s, id);
    if (!s->table[pos])
        return false;
    size_t slot = s->table[pos] - 1, last = s->n - 1;
    table_delete(s, pos);
    if (slot != last) {
        s->table[probe(s, s->ids[last])] = (uint32_t)slot + 1;
        s->ids[slot] = s->ids[last];
        s->meta[slot] = s->meta[last];
        memcpy(s->codes + slot * (size_t)s->dims, s->codes + last * (size_t)s->dims,
               (size_t)s->dims);
    }
    s->n--;
    return true;
}

int vecstore_get(const struct vecstore *s, long long id, float *out, float *err)
{
    long slot = find_slot(s, id);
    if (slot < 0)
        return -1;
    const int8_t *c = s->codes + (size_t)slot * (size_t)s->dims;
    for (int i = 0; i < s->dims; i++)
        out[i] = s->meta[slot].scale * (float)c[i];
    /* The dequantised floats are rounded once more: widen the error a little. */
    *err = s->meta[slot].err + s->meta[slot].scale * 127.0f * 1e-6f * (float)s->dims;
    return 0;
}

void vecstore_unmark_all(struct vecstore *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->meta[i].mark = 0;
}

void vecstore_mark(struct vecstore *s, long long id)
{
    long slot = find_slot(s, id);
    if (slot >= 0)
        s->meta[slot].mark = 1;
}

size_t vecstore_sweep(struct vecstore *s)
{
    size_t removed = 0;
    for (size_t i = s->n; i-- > 0;)
        if (!s->meta[i].mark) {
            vecstore_remove(s, s->ids[i]);
            removed++;
        }
    return removed;
}

/* The query's norms, computed once per search. */
struct qinfo {
    const float *q;
    double l1, l2, err;
};

static void query_info(const struct vecstore *s, const float *q, float query_err, struct qinfo *qi)
{
    qi->q = q;
    qi->l1 = qi->l2 = 0;
    for (int i = 0; i < s->dims; i++) {
        qi->l1 += fabs((double)q[i]);
        qi->l2 += (double)q[i] * q[i];
    }
    qi->l2 = sqrt(qi->l2);
    qi->err = query_err;
}

/* s·(q·c) in float with eight independent partial sums, and its error bound. */
static void estimate(const struct vecstore *s, size_t slot, const struct qinfo *qi, double *score,
                     double *bound)
{
    const int8_t *c = s->codes + slot * (size_t)s->dims;
    const float *q = qi->q;
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= s->dims; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += q[i + l] * (float)c[i + l];
    for (; i < s->dims; i++)
        acc[0] += q[i] * (float)c[i];
    float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    const struct vmeta *m = &s->meta[slot];
    double scale = m->scale;
    double e1 = scale * 0.5 * qi->l1, e2 = qi->l2 * m->err;
    /* float rounding: at most dims·2⁻²⁴ of Σ|q_i·c_i| ≤ 127·s·|q|₁, generously doubled. */
    double slack = scale * 127.0 * qi->l1 * (double)s->dims * 1.2e-7 + 1e-9;
    *score = scale * (double)sum;
    *bound = (e1 < e2 ? e1 : e2) + qi->err * m->norm + slack;
}

int vecstore_estimate(const struct vecstore *s, long long id, const float *query, float query_err,
                      double *score, double *bound)
{
    long slot = find_slot(s, id);
    if (slot < 0)
        return -1;
    struct qinfo qi;
    query_info(s, query, query_err, &qi);
    estimate(s, (size_t)slot, &qi, score, bound);
    return 0;
}

struct cand {
    double est, hi;
    long long id;
};

/* Min-heap of the k best lower bounds. */
static void heap_push(double *h, int *n, int k, double v)
{
    if (*n < k) {
        int i = (*n)++;
        while (i > 0 && h[(i - 1) / 2] > v) {
            h[i] = h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h[i] = v;
        return;
    }
    if (v <= h[0])
        return;
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        double mv = v;
        if (l < *n && h[l] < mv) {
            m = l;
            mv = h[l];
        }
        if (r < *n && h[r] < mv)
            m = r;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = v;
}

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->est != y->est)
        return x->est < y->est ? 1 : -1;
    return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

long vecstore_candidates(const struct vecstore *s, const float *query, float query_err,
                         const long long *allow, size_t nallow, long long exclude, int k,
                         long long *out, long max)
{
    if (k < 1)
        return 0;
    size_t total = allow ? nallow : s->n;
    struct cand *c = malloc((total ? total : 1) * sizeof(*c));
    double *heap = malloc((size_t)k * sizeof(*heap));
    if (!c || !heap) {
        free(c);
        free(heap);
        return -1;
    }
    struct qinfo qi;
    query_info(s, query, query_err, &qi);
    if (qi.l1 == 0 && query_err == 0)
        total = 0; /* the zero vector scores 0 with everything */
    size_t nc = 0;
    int nh = 0;
    for (size_t i = 0; i < total; i++) {
        long slot = allow ? find_slot(s, allow[i]) : (long)i;
        if (slot < 0 || s->ids[slot] == exclude)
            continue;
        double est, bound;
        estimate(s, (size_t)slot, &qi, &est, &bound);
        if (est + bound <= 0)
            continue; /* the exact score cannot be > 0 */
        c[nc++] = (struct cand){est, est + bound, s->ids[slot]};
        heap_push(heap, &nh, k, est - bound);
    }
    double t = nh == k ? heap[0] : -INFINITY;
    long n = 0;
    for (size_t i = 0; i < nc; i++)
        if (c[i].hi >= t)
            c[n++] = c[i];
    free(heap);
    if (n > max) {
        free(c);
        return -1;
    }
    qsort(c, (size_t)n, sizeof(*c), cand_cmp);
    for (long i = 0; i < n; i++)
        out[i] = c[i].id;
    free(c);
    return n;
}
