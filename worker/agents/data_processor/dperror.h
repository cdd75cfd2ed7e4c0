/* dperror — the error every data_processor module reports: one message that names the
 * offending field by its path (e.g. "data.records[3].amount must be a number"), ready to
 * become a job's last_error. */
#ifndef FLOWSTATE_DP_DPERROR_H
#define FLOWSTATE_DP_DPERROR_H

#define DPERROR_LEN 512

/* Status codes shared by the data_processor modules: 0 ok, DP_BAD_INPUT (the task's input
 * is wrong: another attempt cannot help), DP_NO_MEMORY (may succeed on another attempt). */
#define DP_BAD_INPUT (-1)
#define DP_NO_MEMORY (-2)

struct dp_error {
    char message[DPERROR_LEN];
};

/* Fills err with a printf-formatted message (truncated to fit). Returns DP_BAD_INPUT. */
int dperror_set(struct dp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fills err with "out of memory". Returns DP_NO_MEMORY. */
int dperror_nomem(struct dp_error *err);

#endif
