/* shared — the state one agent process shares between its threads, and the job record
 * that travels between them:
 *
 *   main thread (claimer.c)   claims jobs, renews their leases, hands jobs back, frees them
 *        │ exec_q                                            ▲ acked_q
 *        ▼                                                   │
 *   executor threads (executor.c) run tasks ──report_q──▶ reporter thread (reporter.c)
 *                                                            sends outcomes to the gateway
 *
 * Every queue and counter below is guarded by rt->lock. A job stays on the main thread's
 * held list from claim until the reporter is done with it, so its lease is renewed while it
 * waits to be reported. */
#ifndef FLOWSTATE_WORKER_SHARED_H
#define FLOWSTATE_WORKER_SHARED_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "worker/runtime/agent.h"
#include "worker/runtime/claimsize.h"

struct config;

struct job {
    long long id;
    int attempt;
    int lease_s;
    cJSON *payload;
    /* main thread only */
    double next_renew; /* monotonic seconds */
    struct job *held_prev, *held_next;
    /* set by the main thread; read by the executor and reporter */
    volatile bool stop; /* the task should stop */
    bool dropped;       /* cancelled, lease lost or handed back: never report (under lock) */
    bool finished;      /* the task has returned (under lock) */
    /* the outcome, written by the executor before it queues the job for the reporter */
    bool failed, retryable;
    double finished_at; /* monotonic seconds, when the task returned */
    char *result;       /* a completed job's result as JSON text, printed by the executor that made
                         * it: the tree is freed by the thread that allocated it */
    char *error;
    struct job *next; /* link in whichever queue holds it */
};

struct jobq {
    struct job *head, *tail;
    int len;
};

void jobq_push(struct jobq *q, struct job *j);
/* Moves every job of from, in order, to the end of q; from is left empty. */
void jobq_append(struct jobq *q, struct jobq *from);
struct job *jobq_pop(struct jobq *q);
/* Removes j if it is in q; returns whether it was. */
bool jobq_remove(struct jobq *q, struct job *j);
void job_free(struct job *j);

struct runtime {
    const struct agent_def *agent;
    const struct config *cfg;
    char worker[300]; /* host:pid, as stored in job_queue.locked_by */
    int concurrency, report_batch, poll_ms, lease_s, heartbeat_s, shutdown_s;
    double report_delay_s; /* how long an outcome may wait for others while jobs still run */

    pthread_mutex_t lock;
    pthread_cond_t exec_cond;   /* executors wait for exec_q */
    pthread_cond_t report_cond; /* the reporter waits for report_q */
    struct jobq exec_q;         /* claimed, waiting for an executor */
    struct jobq report_q;       /* finished, waiting to be reported */
    struct jobq acked_q;        /* reported or dropped: the main thread frees them */
    int executing;              /* tasks running right now */
    struct claimsize sizing;    /* prefetch and claim sizes (the main thread updates them) */
    long long finished_total;   /* tasks that have returned */
    double run_time_sum;        /* their run times since the main thread last read them */
    long run_count;             /* and their count */
    bool refill_asked;          /* an executor woke the main thread to claim more */
    bool exec_stop;             /* executors exit once exec_q is empty */
    bool reporter_stop;         /* the reporter flushes report_q, says offline, exits */
    double reporter_give_up;    /* monotonic deadline for resending reports during shutdown */
    bool key_refused;           /* the gateway answered 401/403: hand everything back, exit 78 */
    int wake_fd;                /* eventfd: wakes the main thread */
    pthread_t *exec_threads;    /* concurrency of them */
    pthread_t reporter_thread;
};

/* Wakes the main thread's poll (executors freed enough room to claim, the reporter acked
 * jobs). */
void runtime_wake(struct runtime *rt);
/* Jobs the process can take now (room for running and prefetched jobs, as rt->sizing sizes
 * the prefetch), and the least room worth a claim when more jobs are probably waiting
 * (claimsize_refill_min). Both under rt->lock. */
int runtime_room(const struct runtime *rt);
int runtime_refill_min(const struct runtime *rt);

/* Executor threads (executor.c), kept in rt->exec_threads. */
int executors_start(struct runtime *rt);
/* Asks executors to exit once the queue is empty and waits up to wait_s for them; returns
 * how many did not exit. */
int executors_stop(struct runtime *rt, double wait_s);

/* Runs the job's task (tasks.c): the built-in ping or the agent's handler. Fills the job's
 * outcome fields. */
void task_run(struct runtime *rt, struct job *job);

/* The built-in inter_agent_message task (message_task.c). */
int message_task_run(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *out);

/* The reporter thread (reporter.c). register_agent runs once before claiming starts:
 * returns 0, -1 (transient: retry later) or -2 (fatal: the key or settings were refused). */
int reporter_register(struct runtime *rt, char *err, size_t errlen);
int reporter_start(struct runtime *rt);
/* Whether finished jobs should be reported now rather than wait for others to share the
 * request (under rt->lock); executors use it to wake the reporter only when it matters. */
bool outcomes_due(const struct runtime *rt, double now);

/* The main thread's loop (claimer.c) until SIGTERM and a drain; then stops the executors
 * and the reporter. Returns the process exit code. */
int claimer_run(struct runtime *rt, int signal_fd);

#endif
