/* reportcols — see reportcols.h. Arrays open with their first element ("{" for PostgreSQL's
 * array text, "[" for a JSON array) and take a comma before every later one. */
#include "gateway/jobs/reportcols.h"

#include <stdlib.h>

int report_cols_add(struct strbuf *col, int k, const struct report_fields *rep, bool fail)
{
    const char *open_array = k ? "," : "{", *open_json = k ? "," : "[";
    if (strbuf_add(&col[REPORT_COL_IDS], open_array, 1) < 0 ||
        strbuf_add(&col[REPORT_COL_IDS], rep->id, rep->id_len) < 0 ||
        strbuf_add(&col[REPORT_COL_ATTEMPTS], open_array, 1) < 0 ||
        strbuf_add(&col[REPORT_COL_ATTEMPTS], rep->attempt, rep->attempt_len) < 0 ||
        strbuf_add(&col[REPORT_COL_RESULTS], open_json, 1) < 0 ||
        (rep->result ? strbuf_add(&col[REPORT_COL_RESULTS], rep->result, rep->result_len)
                     : strbuf_add(&col[REPORT_COL_RESULTS], "null", 4)) < 0)
        return -1;
    if (fail && (strbuf_add(&col[REPORT_COL_ERRORS], open_json, 1) < 0 ||
                 strbuf_add(&col[REPORT_COL_ERRORS], rep->error, rep->error_len) < 0 ||
                 strbuf_add(&col[REPORT_COL_RETRYABLE], open_array, 1) < 0 ||
                 strbuf_add(&col[REPORT_COL_RETRYABLE], rep->retryable ? "t" : "f", 1) < 0))
        return -1;
    return 0;
}

int report_cols_close(struct strbuf *col, bool fail)
{
    if (strbuf_add(&col[REPORT_COL_IDS], "}", 1) < 0 ||
        strbuf_add(&col[REPORT_COL_ATTEMPTS], "}", 1) < 0 ||
        strbuf_add(&col[REPORT_COL_RESULTS], "]", 1) < 0)
        return -1;
    if (fail && (strbuf_add(&col[REPORT_COL_ERRORS], "]", 1) < 0 ||
                 strbuf_add(&col[REPORT_COL_RETRYABLE], "}", 1) < 0))
        return -1;
    return 0;
}

void report_columns_free(struct report_columns *cols)
{
    for (int k = 0; k < REPORT_COLS; k++)
        free(cols->col[k].p);
    *cols = (struct report_columns){0};
}
