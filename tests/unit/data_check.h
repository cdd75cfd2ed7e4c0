/* data_check — helpers shared by the data_processor unit tests (test_data_*.c): running a
 * task module over a JSON text and comparing its result with a hand-written expectation. */
#ifndef FLOWSTATE_TEST_DATA_CHECK_H
#define FLOWSTATE_TEST_DATA_CHECK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "worker/agents/data_processor/dperror.h"

typedef int (*data_task_fn)(const cJSON *data, const char *root, cJSON **result,
                            struct dp_error *err);

/* Parses data_json (a task's data object) and runs fn over it with root "data". Returns
 * fn's status; *result is set (caller frees) on 0, err filled otherwise. A data_json that
 * does not parse returns -100. */
int data_check_run(data_task_fn fn, const char *data_json, cJSON **result, struct dp_error *err);

/* True when got matches want: every member of a want object matches got's member of that
 * name (got may have more), arrays match element by element and in length, numbers within
 * 1e-9 (relative), other values exactly. On a mismatch, where gets its path and both
 * values. */
bool data_check_match(const cJSON *want, const cJSON *got, char *where, size_t len);

#endif
