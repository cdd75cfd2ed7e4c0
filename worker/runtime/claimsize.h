/* claimsize — how many jobs a worker claims at a time and how many it keeps queued beyond its
 * executors, sized from what it observes: the jobs it finishes (how many a second, how long
 * each ran) and the claims it makes (how long each took, whether it came back full).
 *
 * The queue beyond the executors (the prefetch) only has to cover the time until the next
 * claim brings more; the horizon it covers is 4 claim round trips (at least 20 ms, at most
 * 100 ms). While claims come back full (more jobs are waiting) and jobs finish between them
 * (their run times are fresh, not those of jobs before a burst), the prefetch grows fourfold
 * per claim (plus the executors' count), up to CLAIMSIZE_PREFETCH_MAX and to what the executors get
 * through in 100 ms at the observed run time (concurrency × 100 ms / mean run time: the work
 * queued here never amounts to more than that). Jobs whose mean run time is not
 * shorter than the horizon are never prefetched, so a worker busy with long jobs holds only
 * what its executors run and leaves the rest to idle workers; run times that rise shrink the
 * prefetch at once, and before any job has finished nothing is prefetched. A claim that comes back
 * short (the backlog is gone) shrinks it to what the observed throughput needs over a horizon
 * (Little's law), so an idle worker holds nothing beyond its executors. Each claim takes at most
 * half the prefetch (at least the executors' count, at most CLAIMSIZE_BATCH_MAX), so a busy queue
 * is drained in large claims.
 *
 * An explicit prefetch or claim batch (flag or environment) pins that value. Whatever the
 * sizing, a worker never holds more than claimsize_cap() jobs (running, queued, or waiting
 * to be reported), which bounds what it keeps while the gateway is unreachable.
 *
 * Pure logic: the caller passes the time and its observations, and guards the struct (the
 * worker keeps it under rt->lock). */
#ifndef FLOWSTATE_WORKER_CLAIMSIZE_H
#define FLOWSTATE_WORKER_CLAIMSIZE_H

#include <stdbool.h>

/* The value of an unpinned --prefetch / --claim-batch (the settings' "auto"). */
#define CLAIMSIZE_AUTO (-1)
/* The most an adaptive prefetch and claim reach: claims above 500 jobs made draining no
 * faster (docs/benchmarks.md). */
#define CLAIMSIZE_PREFETCH_MAX 1000
#define CLAIMSIZE_BATCH_MAX 500

struct claimsize {
    int concurrency;
    int prefetch_pin, batch_pin; /* CLAIMSIZE_AUTO or the pinned value */
    double depth;                /* the adaptive prefetch */
    double rate;                 /* jobs finished a second, smoothed */
    double duration;             /* mean run time of a job, seconds, smoothed */
    double rtt;                  /* a claim's round trip, seconds, smoothed */
    double last_t;               /* time of the last observation of finished jobs */
    long long last_done;         /* jobs finished by then */
    bool started;                /* an observation has been made */
    bool timed;                  /* a job's run time has been observed */
    bool backlog;                /* the last claim came back full */
    long finished_since_claim;   /* jobs finished (and timed) since the last claim */
};

/* concurrency ≥ 1; prefetch and claim_batch are the settings (CLAIMSIZE_AUTO or pinned). */
void claimsize_init(struct claimsize *cs, int concurrency, int prefetch, int claim_batch);

/* Jobs finished by time now (a running total) and, for those finished since the last call,
 * the sum of their run times and their count. */
void claimsize_observe_jobs(struct claimsize *cs, double now, long long finished_total,
                            double run_time_sum, long run_count);

/* A claim asked for asked jobs, got got, and took rtt seconds. */
void claimsize_claimed(struct claimsize *cs, int asked, int got, double rtt);

/* Jobs to keep queued beyond the executors. */
int claimsize_prefetch(const struct claimsize *cs);
/* Most jobs one claim takes. */
int claimsize_batch(const struct claimsize *cs);
/* The least room worth a claim while more jobs are probably waiting: half of the smaller of
 * prefetch and claim, one free executor without prefetch. */
int claimsize_refill_min(const struct claimsize *cs);
/* Most jobs held at once: 2 × concurrency + the largest prefetch + the largest claim. */
int claimsize_cap(const struct claimsize *cs);

#endif
