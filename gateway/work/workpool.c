/* workpool — the CPU work threads and the hand-back of finished works to the loop (see
 * workpool.h). Threads take works from a FIFO under one mutex and put finished ones on a done
 * list; the first one on an empty list writes a byte to a non-blocking pipe, which wakes the
 * loop: it takes the whole list and calls each work's done (or drop, when it was cancelled)
 * oldest first. The loop never waits for a thread: it holds the mutex only to link or unlink a
 * work, and a full pipe means a wake-up is pending anyway. */
#include "gateway/work/workpool.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"

/* The most threads a pool starts, whatever the setting or the CPU count says. */
#define WORKPOOL_THREADS_MAX 256
/* How much nicer than the process the threads run: when they and the loop want the same CPU,
 * the loop (every other request) is scheduled first. */
#define WORKPOOL_NICE 10

enum work_state { WORK_QUEUED, WORK_RUNNING, WORK_DONE };

struct work {
    struct work *prev, *next; /* in the queue (both) or on the done list (next) */
    const struct work_type *type;
    void *arg;
    enum work_state state;
    bool cancelled; /* the loop's owner is gone: drop instead of done */
};

struct workpool {
    pthread_mutex_t mu; /* everything below except wake and the threads array */
    pthread_cond_t cv;
    bool stop;
    struct work *head, *tail; /* queued, oldest first */
    struct work *done;        /* finished, newest first */
    int unfinished;           /* accepted and not yet run: queued or running */
    int max_unfinished;       /* threads + queue_max */
    int nthreads;
    pthread_t *threads;
    int pipe_fd[2];
    struct event *wake;
};

static void *thread_main(void *arg)
{
    struct workpool *p = arg;
    /* Linux: a thread's nice value is its own (setpriority on its thread id). Failure only
     * costs the loop some latency under load. */
    int nice_now = getpriority(PRIO_PROCESS, 0);
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice_now + WORKPOOL_NICE) < 0)
        log_debug("msg=\"cannot lower the work thread's priority\"");
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && !p->head)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop)
            break;
        struct work *w = p->head;
        p->head = w->next;
        if (p->head)
            p->head->prev = NULL;
        else
            p->tail = NULL;
        w->state = WORK_RUNNING;
        pthread_mutex_unlock(&p->mu);
        w->type->run(w->arg);
        pthread_mutex_lock(&p->mu);
        w->state = WORK_DONE;
        p->unfinished--;
        bool was_empty = !p->done;
        w->next = p->done;
        p->done = w;
        if (was_empty) {
            char b = 1;
            ssize_t n = write(p->pipe_fd[1], &b, 1); /* full pipe: the loop is waking anyway */
            (void)n;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* The loop side: every finished work, oldest first. */
static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct workpool *p = arg;
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&p->mu);
    struct work *list = p->done, *fifo = NULL;
    p->done = NULL;
    pthread_mutex_unlock(&p->mu);
    while (list) { /* reverse the LIFO done list */
        struct work *w = list;
        list = w->next;
        w->next = fifo;
        fifo = w;
    }
    while (fifo) {
        struct work *w = fifo;
        fifo = w->next;
        /* Only the loop sets cancelled, so no lock is needed to read it here. */
        if (w->cancelled)
            w->type->drop(w->arg);
        else
            w->type->done(w->arg);
        free(w);
    }
}

struct workpool *workpool_new(struct event_base *base, int threads, int queue_max)
{
    if (threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? (int)cpus : 1;
    }
    if (threads > WORKPOOL_THREADS_MAX)
        threads = WORKPOOL_THREADS_MAX;
    if (queue_max < 0)
        queue_max = 0;
    struct workpool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->pipe_fd[0] = p->pipe_fd[1] = -1;
    p->max_unfinished = threads + queue_max;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (!(p->threads = calloc((size_t)threads, sizeof(*p->threads))) ||
        pipe2(p->pipe_fd, O_NONBLOCK | O_CLOEXEC) < 0 ||
        !(p->wake = event_new(base, p->pipe_fd[0], EV_READ | EV_PERSIST, wake_cb, p)) ||
        event_add(p->wake, NULL) < 0)
        goto fail;
    for (; p->nthreads < threads; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, thread_main, p) != 0)
            goto fail;
    return p;
fail:
    log_error("msg=\"cannot start the work threads\" threads=%d", threads);
    workpool_free(p);
    return NULL;
}

static void drop_list(struct work *list)
{
    while (list) {
        struct work *w = list;
        list = w->next;
        w->type->drop(w->arg);
        free(w);
    }
}

void workpool_free(struct workpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    drop_list(p->head);
    drop_list(p->done);
    if (p->wake)
        event_free(p->wake);
    for (int i = 0; i < 2; i++)
        if (p->pipe_fd[i] >= 0)
            close(p->pipe_fd[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

int workpool_threads(const struct workpool *p) { return p->nthreads; }

struct work *workpool_submit(struct workpool *p, const struct work_type *type, void *arg)
{
    struct work *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->type = type;
    w->arg = arg;
    w->state = WORK_QUEUED;
    pthread_mutex_lock(&p->mu);
    bool full = p->unfinished >= p->max_unfinished;
    if (!full) {
        w->prev = p->tail;
        if (p->tail)
            p->tail->next = w;
        else
            p->head = w;
        p->tail = w;
        p->unfinished++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (full) {
        log_warn("msg=\"work queue full\" work=%s accepted=%d", type->name, p->max_unfinished);
        free(w);
        return NULL;
    }
    return w;
}

void workpool_cancel(struct workpool *p, struct work *w)
{
    pthread_mutex_lock(&p->mu);
    bool queued = w->state == WORK_QUEUED;
    if (queued) {
        if (w->prev)
            w->prev->next = w->next;
        else
            p->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        else
            p->tail = w->prev;
        p->unfinished--;
    } else {
        w->cancelled = true; /* wake_cb drops it once its run has returned */
    }
    pthread_mutex_unlock(&p->mu);
    if (queued) {
        w->type->drop(w->arg);
        free(w);
    }
}
