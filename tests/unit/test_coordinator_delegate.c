/* Unit tests for the coordinator's wait on a delegated job (worker/agents/coordinator/
 * delegate.c): the long poll each slice of the wait asks for, given the seconds left. A wait
 * of 1 s (timeout: 1) used to end before its first poll, because a hair under 1 s was left by
 * then. */
#include "tests/unit/harness.h"
#include "worker/agents/coordinator/delegate.h"

struct slice_row {
    double left;
    int want;
};

static const struct slice_row slice_rows[] = {
    {0.9999, 1}, /* timeout: 1, checked just after the child was created */
    {1.0, 1},    {1.49, 1},  {1.5, 2},  {1.98, 2}, /* timeout: 7 after one 5 s slice: the last 2 s
                                                      are waited too */
    {4.9995, 5}, {5.0, 5},   {6.99, 5}, {300.0, 5}, {0.5, 1},
    {0.49, 0},               /* less than half a second left: done */
    {0.0, 0},    {-0.03, 0}, /* the last slice ran a little past the deadline */
    {-5.0, 0},
};

static void check_slice(const void *arg)
{
    const struct slice_row *row = arg;
    CHECK_LONG(delegate_slice(row->left), row->want);
}

void register_coordinator_delegate_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(slice_rows); i++)
        test_addf(check_slice, &slice_rows[i], "coordinator delegate slice %.4f s left",
                  slice_rows[i].left);
}
