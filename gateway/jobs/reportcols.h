/* reportcols — the one rendering of worker reports for the outcome statements: the column
 * forms of fs_jobs_complete and fs_jobs_fail, one array per field, one element per report.
 * Every report reaches the database through it, whoever read it: reportscan (the plain
 * batches workers send), outcomes.c's checks of a parsed body (other batches), and the
 * single reports the batcher group-commits. Each report is checked once by its reader and
 * appended here once, as JSON text the reader already holds. */
#ifndef FLOWSTATE_REPORTCOLS_H
#define FLOWSTATE_REPORTCOLS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"

/* The columns, in the order the statements take them ($1…); a completion takes the first
 * three. */
enum {
    REPORT_COL_IDS,       /* bigint[]: {7,9} */
    REPORT_COL_ATTEMPTS,  /* int[]: {2,1} */
    REPORT_COL_RESULTS,   /* jsonb array: [{"pong":true},null], null where there is none */
    REPORT_COL_ERRORS,    /* fail only, jsonb array of strings: ["boom","b\u00e9"] */
    REPORT_COL_RETRYABLE, /* fail only, bool[]: {t,f} */
    REPORT_COLS
};

/* How many columns a completion (fail false) or a fail report fills. */
static inline int report_cols_count(bool fail) { return fail ? REPORT_COLS : REPORT_COL_ERRORS; }

/* One checked report, as text: id and attempt plain decimal integers, result any JSON value
 * (NULL when there is none), a fail's error a JSON string. */
struct report_fields {
    const char *id, *attempt, *result, *error;
    size_t id_len, attempt_len, result_len, error_len;
    bool retryable;
};

/* Columns being filled, zero-initialised ({0}); the owner frees them (report_columns_free). */
struct report_columns {
    struct strbuf col[REPORT_COLS];
};

/* Appends the k-th report (k counts from 0) to col[0..report_cols_count(fail)). 0, or -1
 * when out of memory. */
int report_cols_add(struct strbuf *col, int k, const struct report_fields *rep, bool fail);

/* Closes each column's array once every report is in. 0, or -1 when out of memory. */
int report_cols_close(struct strbuf *col, bool fail);

/* Frees the columns' text and zeroes them. */
void report_columns_free(struct report_columns *cols);

#endif
