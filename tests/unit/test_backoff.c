/* Unit tests for common/backoff: delays stay within [d/2, d], d doubles up to the cap, and
 * reset starts over. */
#include "common/backoff.h"
#include "tests/unit/harness.h"

struct backoff_row {
    long min_ms, max_ms;
    long want_d[6]; /* the d each successive delay is drawn under */
};

static const struct backoff_row rows[] = {
    {100, 1000, {100, 200, 400, 800, 1000, 1000}},
    {200, 5000, {200, 400, 800, 1600, 3200, 5000}},
    {1, 3, {1, 2, 3, 3, 3, 3}},
    {500, 500, {500, 500, 500, 500, 500, 500}},
    {0, 0, {1, 1, 1, 1, 1, 1}}, /* nonsense bounds are clamped to at least 1 ms */
};

static void sequence_case(const void *arg)
{
    const struct backoff_row *row = arg;
    for (int round = 0; round < 50; round++) {
        struct backoff b;
        backoff_init(&b, row->min_ms, row->max_ms);
        for (int i = 0; i < 6; i++) {
            long d = row->want_d[i], got = backoff_next(&b);
            if (!CHECK(got >= d / 2 && got <= d))
                return;
        }
    }
}

static void reset_case(const void *arg)
{
    (void)arg;
    struct backoff b;
    backoff_init(&b, 100, 10000);
    for (int i = 0; i < 10; i++)
        backoff_next(&b);
    backoff_reset(&b);
    long got = backoff_next(&b);
    CHECK(got >= 50 && got <= 100);
}

void register_backoff_tests(void)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        test_addf(sequence_case, &rows[i], "backoff sequence min=%ld max=%ld", rows[i].min_ms,
                  rows[i].max_ms);
    test_add("backoff reset starts over", reset_case, NULL);
}
