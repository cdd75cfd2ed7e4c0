/* numstats — the numbers behind process_data: sum, mean, min, max, population standard
 * deviation and percentiles of a list of doubles. Pure arithmetic, no JSON.
 *
 * Percentiles interpolate linearly between the closest ranks (the "R-7" method, as in
 * numpy's default and Excel's PERCENTILE.INC): over the sorted values x[0..n-1], the p-th
 * percentile sits at rank h = (n-1)·p/100 and is x[⌊h⌋] + (h-⌊h⌋)·(x[⌊h⌋+1]-x[⌊h⌋]). */
#ifndef FLOWSTATE_DP_NUMSTATS_H
#define FLOWSTATE_DP_NUMSTATS_H

#include <stddef.h>

struct numstats {
    size_t count;
    double sum, mean, min, max;
    double stddev; /* population: sqrt(Σ(x-mean)²/n) */
};

/* Sorts values[0..n) ascending in place and summarises them. With n == 0 every number is 0
 * (callers print them as null). The sum is taken over the sorted values with compensation,
 * so the result does not depend on the order the values came in. */
void numstats_compute(double *values, size_t n, struct numstats *out);

/* The p-th percentile (0..100) of sorted[0..n), n > 0, by the method above. */
double numstats_percentile(const double *sorted, size_t n, double p);

#endif
