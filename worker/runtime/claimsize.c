/* claimsize — the worker's claim and prefetch sizes, from the throughput, run times and claim
 * round trips it observes (see claimsize.h for the policy). */
#include "worker/runtime/claimsize.h"

#include <math.h>

/* The horizon a prefetch covers: a few claim round trips, so a refill claimed when half the
 * queue is gone comes back before the rest is; at least 20 ms, which lets a busy queue of
 * short jobs be drained in claims large enough to be cheap for PostgreSQL; at most 100 ms,
 * so a slow database does not make a worker hoard. */
#define HORIZON_RTTS 4.0
#define HORIZON_MIN_S 0.020
#define HORIZON_MAX_S 0.100
/* Time constant of the throughput's smoothing; windows shorter than WINDOW_MIN_S are
 * merged into the next one (a rate over a few jobs is noise). */
#define RATE_TAU_S 0.100
#define WINDOW_MIN_S 0.002
/* A longer mean run time is taken at once; a shorter one only by this fraction per
 * observation, so a single quick window does not undo the caution long jobs taught. */
#define DURATION_FALL 0.25
#define RTT_WEIGHT 0.25
/* A full claim multiplies the prefetch by this (plus the concurrency): from nothing to the
 * ceiling in four claims, since on a loaded machine a claim can take 50 ms. */
#define GROWTH 4.0

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
 * in HORIZON_MAX_S, so the work held here beyond the executors never amounts to more than
 * that (a run time is measured on the wall clock and grows when the CPUs are busy, so the
 * bound is generous rather than the horizon itself); and nothing when a job outlasts the
 * horizon (it would wait here while an idle worker could run it). */
static double run_time_bound(const struct claimsize *cs)
{
    if (!cs->timed || cs->duration >= horizon(cs))
        return 0; /* no job has finished yet: nothing says they are short */
    return cs->duration > 0
               ? fmin(CLAIMSIZE_PREFETCH_MAX, cs->concurrency * HORIZON_MAX_S / cs->duration)
               : CLAIMSIZE_PREFETCH_MAX;
}

void claimsize_observe_jobs(struct claimsize *cs, double now, long long finished_total,
                            double run_time_sum, long run_count)
{
    if (run_count > 0) {
        double mean = run_time_sum / (double)run_count;
        if (!cs->timed || mean > cs->duration)
            cs->duration = mean;
        else
            cs->duration += DURATION_FALL * (mean - cs->duration);
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
    cs->depth = fmin(cs->depth, run_time_bound(cs)); /* shrink at once: the jobs got longer */
    if (!cs->backlog) /* and, with no backlog seen, as the throughput falls (idle: to 0) */
        cs->depth = fmin(cs->depth, cs->rate * horizon(cs));
}

void claimsize_claimed(struct claimsize *cs, int asked, int got, double rtt)
{
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
