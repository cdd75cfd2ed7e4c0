/* Unit tests for worker/runtime/claimsize: fed simulated observations (jobs finished, their
 * run times, claims and whether they came back full), the sizes grow for a backlog of short
 * jobs, stay at the executors for long ones, shrink at once when jobs get longer or stop
 * coming, never pass the holding cap, and pinned settings stay pinned. */
#include "tests/unit/harness.h"
#include "worker/runtime/claimsize.h"

/* A simulated worker: every step of dt seconds it finishes `rate × dt` jobs of run time
 * `run_s` each and makes one claim that comes back full or not, taking rtt seconds. */
struct sim {
    struct claimsize cs;
    double now;
    long long done;
};

static void sim_steps(struct sim *s, int steps, double dt, double rate, double run_s, bool full,
                      double rtt)
{
    for (int i = 0; i < steps; i++) {
        s->now += dt;
        long n = (long)(rate * dt + 0.5);
        s->done += n;
        claimsize_observe_jobs(&s->cs, s->now, s->done, run_s * (double)n, n);
        int asked = claimsize_batch(&s->cs);
        claimsize_claimed(&s->cs, s->now, asked, full ? asked : asked / 2, rtt);
    }
}

static void starts_with_executors_only(const void *arg)
{
    (void)arg;
    struct claimsize cs;
    claimsize_init(&cs, 16, CLAIMSIZE_AUTO, CLAIMSIZE_AUTO);
    CHECK_LONG(claimsize_prefetch(&cs), 0);
    CHECK_LONG(claimsize_batch(&cs), 16);
    CHECK_LONG(claimsize_refill_min(&cs), 1);
    CHECK_LONG(claimsize_cap(&cs), 2 * 16 + CLAIMSIZE_PREFETCH_MAX + CLAIMSIZE_BATCH_MAX);
}

static void grows_on_full_claims_of_short_jobs(const void *arg)
{
    (void)arg;
    struct sim s = {.now = 100};
    claimsize_init(&s.cs, 16, CLAIMSIZE_AUTO, CLAIMSIZE_AUTO);
    /* 20k jobs/s of 50 µs each, claims of 5 ms: 20 ms of work is 400 jobs */
    /* a full claim before any job finished: nothing says the jobs are short */
    claimsize_observe_jobs(&s.cs, s.now, 0, 0, 0);
    claimsize_claimed(&s.cs, s.now, 16, 16, 0.005);
    CHECK_LONG(claimsize_prefetch(&s.cs), 0);
    /* then each full claim multiplies it by 8, plus the executors' count */
    sim_steps(&s, 1, 0.005, 20000, 0.00005, true, 0.005);
    CHECK_LONG(claimsize_prefetch(&s.cs), 16);
    sim_steps(&s, 1, 0.005, 20000, 0.00005, true, 0.005);
    CHECK_LONG(claimsize_prefetch(&s.cs), 144);
    CHECK_LONG(claimsize_batch(&s.cs), 72);
    sim_steps(&s, 1, 0.005, 20000, 0.00005, true, 0.005);
    CHECK_LONG(claimsize_prefetch(&s.cs), CLAIMSIZE_PREFETCH_MAX);
    CHECK_LONG(claimsize_batch(&s.cs), CLAIMSIZE_BATCH_MAX);
    CHECK_LONG(claimsize_refill_min(&s.cs), CLAIMSIZE_BATCH_MAX / 2);
    /* once claims come back short, it holds what a horizon of the throughput needs:
     * 2,000 jobs/s × 100 ms (claims of 5 ms: 4 of them are less than the 100 ms floor) */
    sim_steps(&s, 200, 0.005, 2000, 0.00005, false, 0.005);
    CHECK(claimsize_prefetch(&s.cs) >= 190 && claimsize_prefetch(&s.cs) <= 200);
    /* claims of 50 ms: the horizon is 200 ms */
    sim_steps(&s, 200, 0.005, 2000, 0.00005, false, 0.05);
    CHECK(claimsize_prefetch(&s.cs) >= 190 && claimsize_prefetch(&s.cs) <= 200); /* no growth */
    sim_steps(&s, 1, 0.005, 2000, 0.00005, true, 0.05);
    sim_steps(&s, 1, 0.005, 2000, 0.00005, false, 0.05);
    CHECK(claimsize_prefetch(&s.cs) >= 380 && claimsize_prefetch(&s.cs) <= 400);
}

/* Jobs of 5 ms: the work queued is at most 100 ms of the executors' (16 × 100 ms / 5 ms). */
static void bounded_by_the_run_time(const void *arg)
{
    (void)arg;
    struct sim s = {.now = 100};
    claimsize_init(&s.cs, 16, CLAIMSIZE_AUTO, CLAIMSIZE_AUTO);
    sim_steps(&s, 100, 0.01, 3200, 0.005, true, 0.002);
    CHECK_LONG(claimsize_prefetch(&s.cs), 320);
    CHECK_LONG(claimsize_batch(&s.cs), 160);
}

/* Short jobs, then a burst of long ones: the claims that bring them come back full before
 * any of them finished, and must not grow the prefetch on the short jobs' run times. */
static void does_not_grow_on_stale_run_times(const void *arg)
{
    (void)arg;
    struct sim s = {.now = 100};
    claimsize_init(&s.cs, 16, CLAIMSIZE_AUTO, CLAIMSIZE_AUTO);
    sim_steps(&s, 50, 0.01, 40000, 0.00005, false, 0.002); /* no backlog: stays small */
    s.now += 1.0;
    claimsize_observe_jobs(&s.cs, s.now, s.done, 0, 0); /* idle for a second */
    REQUIRE(claimsize_prefetch(&s.cs) == 0);
    for (int i = 0; i < 5; i++) { /* full claims in a row, nothing finishing between them */
        s.now += 0.001;
        claimsize_observe_jobs(&s.cs, s.now, s.done, 0, 0);
        claimsize_claimed(&s.cs, s.now, 16, 16, 0.001);
        CHECK_LONG(claimsize_prefetch(&s.cs), 0);
    }
}

static void does_not_grow_without_backlog(const void *arg)
{
    (void)arg;
    struct sim s = {.now = 100};
    claimsize_init(&s.cs, 16, CLAIMSIZE_AUTO, CLAIMSIZE_AUTO);
    sim_steps(&s, 200, 0.005, 20000, 0.00005, false, 0.005); /* claims never come back full */
    CHECK_LONG(claimsize_prefetch(&s.cs), 0);
}

static void long_jobs_are_never_prefetched(const void *arg)
{
    (void)arg;
    static const double runs[] = {0.1, 0.2, 0.5, 5.0};
    for (size_t i = 0; i < COUNT_OF(runs); i++) {
        struct sim s = {.now = 100};
        claimsize_init(&s.cs, 16, CLAIMSIZE_AUTO, CLAIMSIZE_AUTO);
        /* 16 executors busy with jobs of runs[i] s; every claim full: a backlog waits */
        sim_steps(&s, 400, runs[i], 16 / runs[i], runs[i], true, 0.002);
        CHECK_LONG(claimsize_prefetch(&s.cs), 0);
        CHECK_LONG(claimsize_batch(&s.cs), 16);
    }
}

static void shrinks_at_once_when_jobs_get_long(const void *arg)
{
    (void)arg;
    struct sim s = {.now = 100};
    claimsize_init(&s.cs, 16, CLAIMSIZE_AUTO, CLAIMSIZE_AUTO);
    sim_steps(&s, 400, 0.01, 80000, 0.00005, true, 0.02);
    REQUIRE(claimsize_prefetch(&s.cs) == CLAIMSIZE_PREFETCH_MAX);
    /* the next jobs finished ran 300 ms each: no claim needed to notice */
    s.now += 0.3;
    s.done += 16;
    claimsize_observe_jobs(&s.cs, s.now, s.done, 16 * 0.3, 16);
    CHECK_LONG(claimsize_prefetch(&s.cs), 0);
    CHECK_LONG(claimsize_batch(&s.cs), 16);
    /* full claims of them do not grow it: they outlast the horizon */
    for (int i = 0; i < 5; i++) {
        s.now += 0.3;
        s.done += 16;
        claimsize_observe_jobs(&s.cs, s.now, s.done, 16 * 0.3, 16);
        claimsize_claimed(&s.cs, s.now, 16, 16, 0.002);
        CHECK_LONG(claimsize_prefetch(&s.cs), 0);
    }
}

/* 90% jobs of 50 µs and 10% of 200 ms, finishing in windows of 20: the mean (20 ms) counts,
 * not the last long job, so there is a prefetch, within what the executors get through in
 * 100 ms (16 × 100 ms / 20 ms = 80). */
static void mixed_jobs_use_their_mean(const void *arg)
{
    (void)arg;
    struct sim s = {.now = 100};
    claimsize_init(&s.cs, 16, CLAIMSIZE_AUTO, CLAIMSIZE_AUTO);
    for (int i = 0; i < 400; i++) {
        s.now += 0.025;
        s.done += 20;
        claimsize_observe_jobs(&s.cs, s.now, s.done, 18 * 0.00005 + 2 * 0.2, 20);
        claimsize_claimed(&s.cs, s.now, claimsize_batch(&s.cs), claimsize_batch(&s.cs), 0.01);
    }
    CHECK(claimsize_prefetch(&s.cs) >= 60 && claimsize_prefetch(&s.cs) <= 80);
}

static void shrinks_when_jobs_stop_coming(const void *arg)
{
    (void)arg;
    struct sim s = {.now = 100};
    claimsize_init(&s.cs, 8, CLAIMSIZE_AUTO, CLAIMSIZE_AUTO);
    sim_steps(&s, 400, 0.01, 40000, 0.00005, true, 0.01);
    REQUIRE(claimsize_prefetch(&s.cs) > 100);
    /* the backlog is gone: the last claim comes back short, and the worker then idles */
    claimsize_claimed(&s.cs, s.now, claimsize_batch(&s.cs), 10, 0.01);
    REQUIRE(claimsize_prefetch(&s.cs) > 100); /* the throughput was high until now */
    /* a second later a NOTIFY comes: before claiming, the sizes see that nothing
     * finished meanwhile, so the claim is for the executors (and little more) */
    s.now += 1.0;
    claimsize_observe_jobs(&s.cs, s.now, s.done, 0, 0);
    CHECK_LONG(claimsize_prefetch(&s.cs), 0);
    claimsize_claimed(&s.cs, s.now, 8, 0, 0.001);
}

static void never_exceeds_the_cap(const void *arg)
{
    (void)arg;
    /* whatever it observes, the sizes stay within their ceilings */
    static const int concurrencies[] = {1, 16, 700};
    for (size_t i = 0; i < COUNT_OF(concurrencies); i++) {
        struct sim s = {.now = 100};
        claimsize_init(&s.cs, concurrencies[i], CLAIMSIZE_AUTO, CLAIMSIZE_AUTO);
        sim_steps(&s, 400, 0.05, 1e7, 1e-7, true, 0.5);
        CHECK(claimsize_prefetch(&s.cs) <= CLAIMSIZE_PREFETCH_MAX);
        CHECK(claimsize_batch(&s.cs) <=
              (concurrencies[i] > CLAIMSIZE_BATCH_MAX ? concurrencies[i] : CLAIMSIZE_BATCH_MAX));
        CHECK(concurrencies[i] + claimsize_prefetch(&s.cs) + claimsize_batch(&s.cs) <=
              claimsize_cap(&s.cs));
    }
}

static void pinned_settings_stay_pinned(const void *arg)
{
    (void)arg;
    struct sim s = {.now = 100};
    claimsize_init(&s.cs, 16, 1000, 500); /* --prefetch 1000 --claim-batch 500 */
    CHECK_LONG(claimsize_cap(&s.cs), 2 * 16 + 1000 + 500);
    sim_steps(&s, 100, 0.05, 16 / 0.5, 0.5, true, 0.002); /* long jobs: no change */
    CHECK_LONG(claimsize_prefetch(&s.cs), 1000);
    CHECK_LONG(claimsize_batch(&s.cs), 500);
    CHECK_LONG(claimsize_refill_min(&s.cs), 250);

    claimsize_init(&s.cs, 8, 0, CLAIMSIZE_AUTO); /* --prefetch 0: claims for idle executors */
    sim_steps(&s, 200, 0.01, 80000, 0.00005, true, 0.02);
    CHECK_LONG(claimsize_prefetch(&s.cs), 0);
    CHECK_LONG(claimsize_batch(&s.cs), 8);
    CHECK_LONG(claimsize_refill_min(&s.cs), 1);
    CHECK_LONG(claimsize_cap(&s.cs), 2 * 8 + 0 + CLAIMSIZE_BATCH_MAX);

    claimsize_init(&s.cs, 8, CLAIMSIZE_AUTO, 50); /* --claim-batch 50: the prefetch adapts */
    sim_steps(&s, 200, 0.01, 80000, 0.00005, true, 0.02);
    CHECK_LONG(claimsize_prefetch(&s.cs), CLAIMSIZE_PREFETCH_MAX);
    CHECK_LONG(claimsize_batch(&s.cs), 50);
    CHECK_LONG(claimsize_refill_min(&s.cs), 25);
    CHECK_LONG(claimsize_cap(&s.cs), 2 * 8 + CLAIMSIZE_PREFETCH_MAX + 50);

    claimsize_init(&s.cs, 4, 300, CLAIMSIZE_AUTO); /* --prefetch 300: claims of half of it */
    CHECK_LONG(claimsize_batch(&s.cs), 150);
    CHECK_LONG(claimsize_cap(&s.cs), 2 * 4 + 300 + CLAIMSIZE_BATCH_MAX);
}

/* The integration test's burst: a backlog of short jobs, then a short claim while the
 * prefetched tail still finishes, then half a second of nothing, then a burst of jobs that
 * may be long. The tail's throughput must not size the claim for the burst. */
static void starts_over_after_idle(const void *arg)
{
    (void)arg;
    struct sim s = {.now = 100};
    claimsize_init(&s.cs, 16, CLAIMSIZE_AUTO, CLAIMSIZE_AUTO);
    sim_steps(&s, 400, 0.005, 20000, 0.00005, true, 0.005);
    REQUIRE(claimsize_prefetch(&s.cs) > 100);
    claimsize_claimed(&s.cs, s.now, claimsize_batch(&s.cs), 10, 0.005);
    /* the 400 queued jobs finish over the next 20 ms, and then nothing until a NOTIFY */
    s.now += 0.02, s.done += 400;
    claimsize_observe_jobs(&s.cs, s.now, s.done, 400 * 0.00005, 400);
    s.now += 0.5;
    claimsize_observe_jobs(&s.cs, s.now, s.done, 0, 0);
    CHECK_LONG(claimsize_prefetch(&s.cs), 0);
    CHECK_LONG(claimsize_batch(&s.cs), 16);
    /* still fast for short jobs: a backlog of them grows it again within a few claims */
    sim_steps(&s, 3, 0.005, 20000, 0.00005, true, 0.005);
    CHECK(claimsize_prefetch(&s.cs) > 100);
}

void register_claimsize_tests(void)
{
    test_add("claimsize starts with the executors only", starts_with_executors_only, NULL);
    test_add("claimsize grows on full claims of short jobs", grows_on_full_claims_of_short_jobs,
             NULL);
    test_add("claimsize is bounded by the run time", bounded_by_the_run_time, NULL);
    test_add("claimsize does not grow on stale run times", does_not_grow_on_stale_run_times, NULL);
    test_add("claimsize does not grow without a backlog", does_not_grow_without_backlog, NULL);
    test_add("claimsize never prefetches long jobs", long_jobs_are_never_prefetched, NULL);
    test_add("claimsize shrinks at once when jobs get long", shrinks_at_once_when_jobs_get_long,
             NULL);
    test_add("claimsize mixed jobs use their mean", mixed_jobs_use_their_mean, NULL);
    test_add("claimsize shrinks when jobs stop coming", shrinks_when_jobs_stop_coming, NULL);
    test_add("claimsize starts over after idle", starts_over_after_idle, NULL);
    test_add("claimsize never exceeds the cap", never_exceeds_the_cap, NULL);
    test_add("claimsize pinned settings stay pinned", pinned_settings_stay_pinned, NULL);
}
