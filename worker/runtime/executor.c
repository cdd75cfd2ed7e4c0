/* executor — the threads that run tasks: each takes the next claimed job, runs it, and
 * queues its outcome for the reporter, waking the main thread once there is room enough
 * to claim again. */
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "worker/runtime/shared.h"

static void *executor_main(void *arg)
{
    struct runtime *rt = arg;
    pthread_mutex_lock(&rt->lock);
    for (;;) {
        while (!rt->exec_q.head && !rt->exec_stop)
            pthread_cond_wait(&rt->exec_cond, &rt->lock);
        struct job *job = jobq_pop(&rt->exec_q);
        if (!job)
            break; /* stopping and nothing left */
        rt->executing++;
        pthread_mutex_unlock(&rt->lock);

        double started = clock_now();
        task_run(rt, job);
        double finished = clock_now();

        pthread_mutex_lock(&rt->lock);
        rt->executing--;
        rt->finished_total++;
        rt->run_time_sum += finished - started;
        rt->run_count++;
        job->finished = true;
        job->finished_at = finished;
        bool wake = false;
        if (job->dropped) {
            jobq_push(&rt->acked_q, job);
            wake = true; /* the main thread frees it */
        } else {
            jobq_push(&rt->report_q, job);
            if (rt->report_q.len == 1 || outcomes_due(rt, job->finished_at))
                pthread_cond_signal(&rt->report_cond);
        }
        /* One wake per refill, not one per job: the main thread claims in batches. */
        if (!rt->refill_asked && runtime_room(rt) >= runtime_refill_min(rt)) {
            rt->refill_asked = true;
            wake = true;
        }
        if (wake)
            runtime_wake(rt);
    }
    pthread_mutex_unlock(&rt->lock);
    return NULL;
}

int executors_start(struct runtime *rt)
{
    pthread_t *threads = rt->exec_threads = calloc((size_t)rt->concurrency, sizeof(pthread_t));
    if (!threads)
        return -1;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < rt->concurrency; i++) {
        if (pthread_create(&threads[i], &attr, executor_main, rt) != 0) {
            log_error("msg=\"cannot start executor threads\" started=%d", i);
            pthread_attr_destroy(&attr);
            return -1;
        }
    }
    pthread_attr_destroy(&attr);
    return 0;
}

int executors_stop(struct runtime *rt, double wait_s)
{
    pthread_t *threads = rt->exec_threads;
    pthread_mutex_lock(&rt->lock);
    rt->exec_stop = true;
    pthread_cond_broadcast(&rt->exec_cond);
    pthread_mutex_unlock(&rt->lock);
    double deadline = clock_now() + wait_s;
    int left = 0;
    for (int i = 0; i < rt->concurrency; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double wait = deadline - clock_now();
        if (wait < 0)
            wait = 0;
        ts.tv_sec += (time_t)wait;
        ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_timedjoin_np(threads[i], NULL, &ts) != 0)
            left++;
    }
    if (left == 0) {
        free(threads);
        rt->exec_threads = NULL;
    }
    return left;
}
