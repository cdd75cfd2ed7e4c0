/* Unit tests for the work threads (gateway/work/workpool.c) on a real event base: works run off
 * the loop and come back to it in order, the bound refuses work and changes nothing, a
 * cancelled work is dropped (at once when queued, after its run when running) and never
 * answered, and freeing the pool drops what was not delivered. A gate the test opens holds
 * a work in its run, so every case is decided by ordering, not by time. */
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "gateway/work/workpool.h"
#include "tests/unit/harness.h"

/* Holds gated works in their run until the test opens it. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int waiting; /* runs currently held */
};

static struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};

static void gate_reset(void)
{
    pthread_mutex_lock(&gate.mu);
    gate.open = false;
    gate.waiting = 0;
    pthread_mutex_unlock(&gate.mu);
}

static void gate_open(void)
{
    pthread_mutex_lock(&gate.mu);
    gate.open = true;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
}

/* Waits until n runs are held at the gate. */
static void gate_wait_for(int n)
{
    pthread_mutex_lock(&gate.mu);
    while (gate.waiting < n)
        pthread_cond_wait(&gate.cv, &gate.mu);
    pthread_mutex_unlock(&gate.mu);
}

struct job {
    int input, output;
    bool gated;
    pthread_t ran_on;
    int *done_order; /* where done writes input */
    int *ndone, *ndropped;
};

static pthread_t loop_thread;

static void job_run(void *arg)
{
    struct job *j = arg;
    j->ran_on = pthread_self();
    if (j->gated) {
        pthread_mutex_lock(&gate.mu);
        gate.waiting++;
        pthread_cond_broadcast(&gate.cv);
        while (!gate.open)
            pthread_cond_wait(&gate.cv, &gate.mu);
        pthread_mutex_unlock(&gate.mu);
    }
    j->output = j->input * j->input;
}

static void job_done(void *arg)
{
    struct job *j = arg;
    CHECK(pthread_equal(pthread_self(), loop_thread));
    CHECK(!pthread_equal(j->ran_on, loop_thread));
    CHECK_LONG(j->output, j->input * j->input);
    j->done_order[(*j->ndone)++] = j->input;
}

static void job_drop(void *arg)
{
    struct job *j = arg;
    (*j->ndropped)++;
}

static const struct work_type square = {"square", job_run, job_done, job_drop};

/* Runs the loop until *count reaches want. */
static void loop_until(struct event_base *base, const int *count, int want)
{
    while (*count < want)
        event_base_loop(base, EVLOOP_ONCE);
}

static void test_runs_off_the_loop_in_order(const void *arg)
{
    loop_thread = pthread_self();
    struct event_base *base = event_base_new();
    struct workpool *p = workpool_new(base, 1, 16);
    REQUIRE(p);
    CHECK_LONG(workpool_threads(p), 1);
    struct job jobs[10];
    int order[10], ndone = 0, ndropped = 0;
    for (int i = 0; i < 10; i++) {
        jobs[i] = (struct job){
            .input = i + 1, .done_order = order, .ndone = &ndone, .ndropped = &ndropped};
        CHECK(workpool_submit(p, &square, &jobs[i]) != NULL);
    }
    loop_until(base, &ndone, 10);
    for (int i = 0; i < 10; i++)
        CHECK_LONG(order[i], i + 1); /* one thread: done in the order submitted */
    CHECK_LONG(ndropped, 0);
    workpool_free(p);
    event_base_free(base);
}

static void test_default_threads(const void *arg)
{
    struct event_base *base = event_base_new();
    struct workpool *p = workpool_new(base, 0, 0);
    REQUIRE(p);
    CHECK(workpool_threads(p) >= 1);
    workpool_free(p);
    event_base_free(base);
}

static void test_bound_refuses_and_changes_nothing(const void *arg)
{
    loop_thread = pthread_self();
    gate_reset();
    struct event_base *base = event_base_new();
    struct workpool *p = workpool_new(base, 1, 1); /* one running and one waiting */
    REQUIRE(p);
    int order[4], ndone = 0, ndropped = 0;
    struct job jobs[4];
    for (int i = 0; i < 4; i++)
        jobs[i] = (struct job){.input = i + 1,
                               .gated = true,
                               .done_order = order,
                               .ndone = &ndone,
                               .ndropped = &ndropped};
    CHECK(workpool_submit(p, &square, &jobs[0]) != NULL);
    CHECK(workpool_submit(p, &square, &jobs[1]) != NULL);
    /* full whether or not the thread has started the first one yet */
    CHECK(workpool_submit(p, &square, &jobs[2]) == NULL);
    gate_wait_for(1);
    CHECK(workpool_submit(p, &square, &jobs[3]) == NULL);
    gate_open();
    loop_until(base, &ndone, 2);
    CHECK_LONG(order[0], 1);
    CHECK_LONG(order[1], 2);
    CHECK_LONG(ndropped, 0);
    CHECK_LONG(jobs[2].output, 0); /* the refused ones never ran */
    CHECK_LONG(jobs[3].output, 0);
    /* room again once they finished */
    jobs[2].gated = false;
    CHECK(workpool_submit(p, &square, &jobs[2]) != NULL);
    loop_until(base, &ndone, 3);
    CHECK_LONG(order[2], 3);
    workpool_free(p);
    event_base_free(base);
}

static void test_cancel(const void *arg)
{
    loop_thread = pthread_self();
    gate_reset();
    struct event_base *base = event_base_new();
    struct workpool *p = workpool_new(base, 1, 4);
    REQUIRE(p);
    int order[4], ndone = 0, ndropped = 0;
    struct job jobs[3];
    for (int i = 0; i < 3; i++)
        jobs[i] = (struct job){.input = i + 1,
                               .gated = i == 0,
                               .done_order = order,
                               .ndone = &ndone,
                               .ndropped = &ndropped};
    struct work *running = workpool_submit(p, &square, &jobs[0]);
    struct work *queued = workpool_submit(p, &square, &jobs[1]);
    REQUIRE(running && queued);
    gate_wait_for(1);
    workpool_cancel(p, queued); /* still queued: dropped at once, never run */
    CHECK_LONG(ndropped, 1);
    CHECK_LONG(jobs[1].output, 0);
    workpool_cancel(p, running); /* running: dropped once its run returns */
    CHECK_LONG(ndropped, 1);
    CHECK(workpool_submit(p, &square, &jobs[2]) != NULL);
    gate_open();
    loop_until(base, &ndone, 1);
    loop_until(base, &ndropped, 2);
    CHECK_LONG(ndone, 1);
    CHECK_LONG(order[0], 3);
    CHECK_LONG(jobs[0].output, 1); /* the cancelled work finished; only its answer was dropped */
    workpool_free(p);
    event_base_free(base);
}

static void test_free_drops_undelivered(const void *arg)
{
    loop_thread = pthread_self();
    gate_reset();
    struct event_base *base = event_base_new();
    struct workpool *p = workpool_new(base, 1, 4);
    REQUIRE(p);
    int order[4], ndone = 0, ndropped = 0;
    struct job jobs[3];
    for (int i = 0; i < 3; i++)
        jobs[i] = (struct job){.input = i + 1,
                               .gated = i == 0,
                               .done_order = order,
                               .ndone = &ndone,
                               .ndropped = &ndropped};
    for (int i = 0; i < 3; i++)
        CHECK(workpool_submit(p, &square, &jobs[i]) != NULL);
    gate_wait_for(1);
    gate_open();
    workpool_free(p); /* the loop never ran: every work is dropped, none answered */
    CHECK_LONG(ndone, 0);
    CHECK_LONG(ndropped, 3);
    event_base_free(base);
}

void register_workpool_tests(void)
{
    test_add("workpool runs off the loop and answers on it in order",
             test_runs_off_the_loop_in_order, NULL);
    test_add("workpool default threads", test_default_threads, NULL);
    test_add("workpool bound refuses and changes nothing", test_bound_refuses_and_changes_nothing,
             NULL);
    test_add("workpool cancel queued and running", test_cancel, NULL);
    test_add("workpool free drops undelivered works", test_free_drops_undelivered, NULL);
}
