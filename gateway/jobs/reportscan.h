/* reportscan — the fast path for a batch of worker reports (POST /api/jobs/complete and
 * /api/jobs/fail). Workers send these in bursts, one per few hundred jobs, and they are the
 * gateway's largest cost in a drain: parsing them into a cJSON tree, reading it and printing
 * every result back out for the statement dominated it (docs/gateway.md). This scans
 * the body once, in place, and appends each report to the columns the statement takes
 * (reportcols.h), with each result (and error) copied through as the worker wrote it.
 *
 * It takes only the plain shape a worker sends, and it never answers anything itself: a body
 * that is malformed, or merely unusual, is left to the general path (parse, outcomes.c's
 * checks, field-named 400s), so errors and edge cases are decided in one place. Plain means:
 * {"jobs":[{"id":…,"attempt":…[,"result":…][,"error":"…","retryable":…]},…]} with unescaped
 * keys, those five at most once (others are skipped, as the general path ignores them); ids
 * and attempts written as plain integers in range; no repeated
 * id; result values in strict JSON that PostgreSQL stores as the general path would have
 * (numbers of at most 15 significant digits, 20 digits in all and exponents within ±280;
 * strings without control characters, \u0000 or escaped surrogates; nesting at most
 * REPORT_SCAN_DEPTH deep). */
#ifndef FLOWSTATE_REPORTSCAN_H
#define FLOWSTATE_REPORTSCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/jobs/reportcols.h"

#define REPORT_SCAN_DEPTH 64

enum report_scan {
    REPORT_SCAN_OK,      /* columns rendered */
    REPORT_SCAN_GENERAL, /* not the plain shape: take the general path */
    REPORT_SCAN_NOMEM,
};

struct report_limits {
    int max_reports;        /* most items in "jobs" */
    long long max_id;       /* ids are 1..max_id */
    long max_attempt;       /* attempts are 1..max_attempt */
    size_t max_error_chars; /* a fail's error: 1..max_error_chars characters */
};

/* Scans text[0..len) (already checked to be UTF-8 without NUL bytes) as a batch of complete
 * (fail false) or fail reports and renders it into cols (zeroed by the caller). *count gets
 * the number of reports. On REPORT_SCAN_GENERAL cols may hold part of a rendering; the caller
 * frees it. */
enum report_scan report_scan(const char *text, size_t len, bool fail,
                             const struct report_limits *limits, struct report_columns *cols,
                             int *count);

#endif
