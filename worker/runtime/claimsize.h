/* claimsize — how many jobs a worker claims at a time and how many it keeps queued beyond its
 * executors, sized from what it observes: the jobs it finishes (how many a second, how long
 * each ran) and the claims it makes (how long each took, whether it came back full).
 *
 * The queue beyond the executors (the prefetch) covers a horizon: 4 claim round trips, at
 * least 100 ms, at most 500 ms, the time a refill may take to come back. It is bounded by
 * the work the executors get through in a horizon at the observed mean run time
 * (concurrency × horizon / run time, Little's law), and is nothing for jobs that run 100 ms
 * or longer, so a worker busy with long jobs holds only what its executors run and leaves
 * the rest to idle workers. Within that bound, while claims come back full (more jobs are
 * waiting) and jobs finished since the previous claim (their run times are fresh, not those
 * of jobs before a burst), the prefetch grows eightfold per claim plus the executors'
 * count, up to CLAIMSIZE_PREFETCH_MAX. Run times that rise shrink it before the next claim;
 * before any job has finished nothing is prefetched. A claim that comes back short (the
 * backlog is gone) shrinks it to the observed throughput times the horizon, and it follows
 * that throughput down until a claim is full again, so an idle worker soon holds nothing
 * beyond its executors; and once no claim has found a job for a horizon, it starts again
 * from nothing (like TCP's slow start after idle): the next burst may be of long jobs, and
 * the throughput of the short ones that finished meanwhile says nothing about them. Each claim
 * takes at most half the prefetch (at least the executors' count, at most CLAIMSIZE_BATCH_MAX), so
 * a busy queue is drained in large claims.
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
    double duration;             /* mean run time of the last jobs, seconds */
    double rtt;                  /* a claim's round trip, seconds, smoothed */
    double last_t;               /* time of the last observation of finished jobs */
    long long last_done;         /* jobs finished by then */
    bool started;                /* an observation has been made */
    bool timed;                  /* a job's run time has been observed */
    bool backlog;                /* the last claim came back full */
    long finished_since_claim;   /* jobs finished (and timed) since the last claim */
    double last_got_t;           /* time of the last claim that got jobs (0: none yet) */
};

/* concurrency ≥ 1; prefetch and claim_batch are the settings (CLAIMSIZE_AUTO or pinned). */
void claimsize_init(struct claimsize *cs, int concurrency, int prefetch, int claim_batch);

/* Jobs finished by time now (a running total) and, for those finished since the last call,
 * the sum of their run times and their count. */
void claimsize_observe_jobs(struct claimsize *cs, double now, long long finished_total,
                            double run_time_sum, long run_count);

/* A claim asked for asked jobs, got got, took rtt seconds and came back at time now. */
void claimsize_claimed(struct claimsize *cs, double now, int asked, int got, double rtt);

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
