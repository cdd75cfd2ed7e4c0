/* numstats — sums, spreads and percentiles of doubles (see numstats.h). */
#include "worker/agents/data_processor/numstats.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Neumaier's compensated sum: exact enough that 0.1+0.2+0.3 sums like a calculator. */
static double sum_of(const double *v, size_t n)
{
    double sum = 0.0, comp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = sum + v[i];
        if (fabs(sum) >= fabs(v[i]))
            comp += (sum - t) + v[i];
        else
            comp += (v[i] - t) + sum;
        sum = t;
    }
    return sum + comp;
}

void numstats_compute(double *values, size_t n, struct numstats *out)
{
    *out = (struct numstats){.count = n};
    if (n == 0)
        return;
    qsort(values, n, sizeof(*values), cmp_double);
    out->min = values[0];
    out->max = values[n - 1];
    out->sum = sum_of(values, n);
    out->mean = out->sum / (double)n;
    double sq = 0.0, comp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = values[i] - out->mean;
        double y = d * d - comp, t = sq + y;
        comp = (t - sq) - y;
        sq = t;
    }
    out->stddev = sqrt(sq / (double)n);
}

double numstats_percentile(const double *sorted, size_t n, double p)
{
    double h = (double)(n - 1) * p / 100.0;
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1)
        return sorted[n - 1];
    return sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}
