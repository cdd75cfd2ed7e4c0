/* insights — the learning agent's pure logic, unit-tested without a gateway:
 * how feedback is weighed and folded into an agent's statistics, and which
 * patterns and recommendations a GET /api/stats/jobs answer supports (each with
 * the numbers behind it). */
#ifndef FLOWSTATE_LEARNING_INSIGHTS_H
#define FLOWSTATE_LEARNING_INSIGHTS_H

#include <cjson/cJSON.h>

/* What one piece of feedback says: rating 1..5 (0: none), success 1/0 (-1:
 * none). */
struct feedback {
    int rating;
    int success;
};

/* success, when given; else rating >= 4 is a success, <= 2 a failure, 3 neither
 * (-1). */
int feedback_outcome(const struct feedback *f);
/* The memory's importance (1..10): 2 x the rating's distance from 3, plus 4 (a
 * 1 or a 5 matters most); without a rating 7 for a failure and 5 for a success.
 */
int feedback_importance(const struct feedback *f);

/* Folds f into the agent state's feedback object {total, byTaskType: {task:
 * stats}} (stats = {count, successes, failures, ratings, ratingSum,
 * averageRating, successRate}); task NULL counts as "unspecified". Returns 0,
 * -1 when out of memory. */
int feedback_merge(cJSON *feedback, const char *task, const struct feedback *f);

struct advice_limits {
    double lease_s;          /* the claim lease: FLOWSTATE_LEASE or data.leaseSeconds */
    double lease_ratio;      /* p99 run time at or above this share of the lease: raise
                                it */
    double max_wait_p90_ms;  /* queue wait p90 at or above this: add workers */
    double max_failure_rate; /* failure rate at or above this: investigate the
                                task */
    long min_samples;        /* finished jobs a task needs before rates count */
};

/* Ranked patterns in the stats' byTask groups: "failure_rate", "retries" and
 * "slow_tail", each {kind, agent, taskType, score, message, evidence}. New
 * array (caller frees) or NULL. */
cJSON *learning_patterns(const cJSON *stats, const struct advice_limits *lim);

/* Recommendations (raise_timeout, lower_max_attempts, add_workers,
 * fix_failures), high priority first, each {action, priority, agent, taskType?,
 * reason, evidence, suggestion}. New array (caller frees) or NULL. */
cJSON *learning_recommendations(const cJSON *stats, const struct advice_limits *lim);

#endif
