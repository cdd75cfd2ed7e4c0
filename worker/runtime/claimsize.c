/* claimsize — the worker's claim and prefetch sizes, from the throughput, run times and claim
 * round trips it observes (see claimsize.h for the policy). */
#include "worker/runtime/claimsize.h"

#include <math.h>

/* Jobs that run this long or longer are never prefetched. */
#define LONG_S 0.100
/* The time a prefetch covers: a few claim round trips, so a refill claimed when half the
 * queue is gone comes back before the rest is; at least HORIZON_MIN_S, so jobs arriving in
 * bursts are taken in one claim; at most HORIZON_MAX_S, so a slow database does not make a
 * worker hoard. */
#define HORIZON_RTTS 4.0
#define HORIZON_MIN_S 0.100
#define HORIZON_MAX_S 0.500
/* Time constant of the throughput's smoothing; windows shorter than WINDOW_MIN_S are
 * merged into the next one (a rate over a few jobs is noise). */
#define RATE_TAU_S 0.100
#define WINDOW_MIN_S 0.002
/* The mean run time is smoothed per job: each job finished moves it by this fraction, so it
 * is the mean of roughly the last 1 / RUN_TIME_WEIGHT jobs. A mix of short and long jobs
 * then gives its true mean (not the last long one's), and a batch of long jobs finishing
 * together still moves it most of the way at once (16 of them: 56%). */
#define RUN_TIME_WEIGHT 0.05
#define RTT_WEIGHT 0.25
/* A full claim multiplies the prefetch by this (plus the concurrency): from nothing to the
 * ceiling in three claims, since on a loaded machine a claim can take 50 ms. What may be
 * held is bounded by the run times (run_time_bound), not by the pace of growth. */
#define GROWTH 8.0

void claimsize_init(struct claimsize *cs, int concurrency, int prefetch, int claim_batch)
{
    *cs = (struct claimsize){
        .concurrency = concurrency > 0 ? concurrency : 1,
        .prefetch_pin = prefetch < 0 ? CLAIMSIZE_AUTO : prefetch,
        .batch_pin = claim_batch <= 0 ? CLAIMSIZE_AUTO : claim_batch,
    };
}

static double horizon(const struct claimsize *cs)
{
    return fmin(HORIZON_MAX_S, fmax(HORIZON_MIN_S, HORIZON_RTTS * cs->rtt));
}

/* The most worth queueing for jobs of the observed run time: what the executors get through
 * in a horizon (Little's law: their throughput, concurrency / run time, times the time a
 * refill takes to come back), and nothing when a job runs LONG_S or longer (it would wait
 * here while an idle worker could run it). A run time is measured on the wall clock, so it
 * grows when the CPUs are busy: no-op jobs on a loaded machine still take microseconds, far
 * from these bounds. */
static double run_time_bound(const struct claimsize *cs)
{
    if (!cs->timed || cs->duration >= LONG_S)
        return 0; /* no job has finished yet: nothing says they are short */
    return cs->duration > 0
               ? fmin(CLAIMSIZE_PREFETCH_MAX, cs->concurrency * horizon(cs) / cs->duration)
               : CLAIMSIZE_PREFETCH_MAX;
}

void claimsize_observe_jobs(struct claimsize *cs, double now, long long finished_total,
                            double run_time_sum, long run_count)
{
    if (run_count > 0) {
        double mean = run_time_sum / (double)run_count;
        double w = cs->timed ? 1.0 - pow(1.0 - RUN_TIME_WEIGHT, (double)run_count) : 1.0;
        cs->duration += w * (mean - cs->duration);
        cs->timed = true;
        cs->finished_since_claim += run_count;
    }
    if (!cs->started) {
        cs->started = true;
        cs->last_t = now;
        cs->last_done = finished_total;
    } else if (now - cs->last_t >= WINDOW_MIN_S) {
        double dt = now - cs->last_t;
        double inst = (double)(finished_total - cs->last_done) / dt;
        cs->rate += (1.0 - exp(-dt / RATE_TAU_S)) * (inst - cs->rate);
        cs->last_t = now;
        cs->last_done = finished_total;
    }
    if (!cs->backlog && cs->last_got_t > 0 && now - cs->last_got_t > horizon(cs))
        cs->depth = 0; /* idle for a horizon: what comes next may be long, start over */
    cs->depth = fmin(cs->depth, run_time_bound(cs)); /* shrink at once: the jobs got longer */
    if (!cs->backlog) /* and, with no backlog seen, as the throughput falls (idle: to 0) */
        cs->depth = fmin(cs->depth, cs->rate * horizon(cs));
}

void claimsize_claimed(struct claimsize *cs, double now, int asked, int got, double rtt)
{
    if (got > 0)
        cs->last_got_t = now;
    if (rtt >= 0)
        cs->rtt = cs->rtt > 0 ? cs->rtt + RTT_WEIGHT * (rtt - cs->rtt) : rtt;
    double bound = run_time_bound(cs);
    cs->backlog = asked > 0 && got >= asked;
    /* Full: more is waiting, so hold more (slow start) — if jobs finished since the last
     * claim. Otherwise the run times known are older than what was just claimed: a burst
     * of long jobs after short ones would be hoarded before the first of them finished. */
    if (cs->backlog && cs->finished_since_claim > 0)
        cs->depth = fmin(bound, GROWTH * cs->depth + cs->concurrency);
    else if (!cs->backlog) /* gone: hold what covers the throughput seen for a horizon */
        cs->depth = fmin(fmin(cs->depth, bound), cs->rate * horizon(cs));
    cs->finished_since_claim = 0;
}

int claimsize_prefetch(const struct claimsize *cs)
{
    return cs->prefetch_pin != CLAIMSIZE_AUTO ? cs->prefetch_pin : (int)cs->depth;
}

int claimsize_batch(const struct claimsize *cs)
{
    if (cs->batch_pin != CLAIMSIZE_AUTO)
        return cs->batch_pin;
    int half = claimsize_prefetch(cs) / 2;
    if (half > CLAIMSIZE_BATCH_MAX)
        half = CLAIMSIZE_BATCH_MAX;
    return half > cs->concurrency ? half : cs->concurrency;
}

int claimsize_refill_min(const struct claimsize *cs)
{
    int prefetch = claimsize_prefetch(cs), batch = claimsize_batch(cs);
    int half = (prefetch < batch ? prefetch : batch) / 2;
    return half > 1 ? half : 1;
}

int claimsize_cap(const struct claimsize *cs)
{
    int prefetch = cs->prefetch_pin != CLAIMSIZE_AUTO ? cs->prefetch_pin : CLAIMSIZE_PREFETCH_MAX;
    int batch = cs->batch_pin != CLAIMSIZE_AUTO         ? cs->batch_pin
                : cs->concurrency > CLAIMSIZE_BATCH_MAX ? cs->concurrency
                                                        : CLAIMSIZE_BATCH_MAX;
    return 2 * cs->concurrency + prefetch + batch;
}
