/* conns — connection cap, accept pauses and per-connection request clocks (conns.h).
 *
 * libevent 2.1 tells a server nothing when a connection opens (only evhttp_set_bevcb, which
 * sees a bufferevent but not its connection) and has no hook for a new request. So a
 * connection is counted when evhttp asks us for its bufferevent, and adopted at the end of
 * that loop iteration, once evhttp has attached the bufferevent to its connection (the
 * bufferevent's callback argument): from then on evhttp_connection_set_closecb tells us when
 * it goes. A reference held on the bufferevent in between keeps it valid even if evhttp drops
 * the connection first (it then has no callbacks left). */
#include "gateway/http/conns.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/clock.h"
#include "common/log.h"
#include "gateway/http/chunkext.h"
#include "gateway/http/deadline.h"
#include "gateway/http/strict.h"

/* How long accepting pauses after accept() fails (typically EMFILE: the connection stays in
 * the listen queue, so retrying at once would fail again at once, for ever). */
#define ACCEPT_PAUSE_MS 100
/* Seconds between log lines about refused accepts or slow requests (each line counts them). */
#define LOG_INTERVAL 10.0
/* Most descriptors the fd -> connection index covers (connections on higher ones are counted
 * but cannot take a close hook from conns_on_close). */
#define FD_INDEX_MAX (1L << 20)

struct conn {
    struct conns *cs;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* once adopted */
    struct evbuffer_cb_entry *feed;  /* the clock's input callback */
    struct event *timer;
    struct deadline clock;
    struct chunkext chunks; /* the raw input's chunk-extension tracker */
    int fd;
    struct conn *next_fresh; /* in cs->fresh until adopted */
    void (*on_close)(struct evhttp_connection *, void *);
    void *on_close_arg;
};

struct conns {
    struct event_base *base;
    struct evconnlistener *lev;
    struct deadline_limits lim;
    long max, open;
    bool full;    /* accepting paused at the cap */
    bool backoff; /* accepting paused after accept() failed */
    struct event *resume_ev, *adopt_ev;
    struct conn *fresh; /* counted, not adopted yet */
    struct conn **byfd; /* adopted connections by descriptor */
    long nbyfd;
    unsigned long refused, slow; /* since the last log line about them */
    double refused_logged, slow_logged, full_logged;
    int last_error;
    struct conns *next; /* in listening */
};

/* Every conns with a listener: a listener's error callback gets the argument evhttp gave the
 * listener, not ours, so it finds its conns here (one per gateway, so a short list). */
static struct conns *listening;

long conns_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = rl.rlim_max;
        else
            log_warn("msg=\"cannot raise the open-files limit\" soft=%llu hard=%llu error=\"%s\"",
                     (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
                     strerror(errno));
    }
    return rl.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX : (long)rl.rlim_cur;
}

static void set_accepting(struct conns *cs)
{
    if (!cs->lev)
        return;
    if (cs->full || cs->backoff)
        evconnlistener_disable(cs->lev);
    else
        evconnlistener_enable(cs->lev);
}

static bool log_due(double *last, double now)
{
    if (*last != 0 && now - *last < LOG_INTERVAL)
        return false;
    *last = now;
    return true;
}

static void arm(struct conn *c)
{
    double due = deadline_due(&c->clock);
    if (due == 0) {
        event_del(c->timer);
        return;
    }
    double wait = due - clock_now();
    if (wait < 0.001)
        wait = 0.001;
    struct timeval tv = {(time_t)wait, (suseconds_t)((wait - (double)(time_t)wait) * 1e6)};
    evtimer_add(c->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct conns *cs = c->cs;
    double now = clock_now();
    if (!deadline_expired(&c->clock, now)) {
        arm(c); /* bytes came in since: the body's average is still fast enough */
        return;
    }
    cs->slow++;
    if (log_due(&cs->slow_logged, now)) {
        log_info("msg=\"closed connections whose request arrived too slowly\" count=%lu "
                 "last=%s",
                 cs->slow, c->clock.phase == DEADLINE_HEAD ? "head" : "body");
        cs->slow = 0;
    }
    evhttp_connection_free(c->evcon); /* closed_cb frees c */
}

static void feed_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    if (info->n_added == 0)
        return;
    size_t from = evbuffer_get_length(buf) - info->n_added;
    if (deadline_feed(&c->clock, buf, from, info->n_added, clock_now()))
        arm(c);
}

static void conn_gone(struct conns *cs, struct conn *c)
{
    if (c->timer)
        event_free(c->timer);
    free(c);
    cs->open--;
    if (cs->full && cs->open < cs->max) {
        cs->full = false;
        set_accepting(cs);
    }
}

static void closed_cb(struct evhttp_connection *evcon, void *arg)
{
    struct conn *c = arg;
    struct conns *cs = c->cs;
    if (c->on_close)
        c->on_close(evcon, c->on_close_arg);
    if (c->feed)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->feed);
    http_strict_forget(c->bev, &c->chunks);
    if (c->fd >= 0 && c->fd < cs->nbyfd && cs->byfd[c->fd] == c)
        cs->byfd[c->fd] = NULL;
    conn_gone(cs, c);
}

static void adopt_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conns *cs = arg;
    while (cs->fresh) {
        struct conn *c = cs->fresh;
        cs->fresh = c->next_fresh;
        struct bufferevent *bev = c->bev;
        bufferevent_event_cb eventcb = NULL;
        void *evcon = NULL;
        bufferevent_getcb(bev, NULL, NULL, &eventcb, &evcon);
        int sock = bufferevent_getfd(bev);
        if (!eventcb || !evcon || sock < 0) {
            http_strict_forget(bev, &c->chunks);
            conn_gone(cs, c); /* evhttp dropped it already */
        } else {
            c->evcon = evcon;
            c->fd = sock;
            if (sock < cs->nbyfd)
                cs->byfd[sock] = c;
            evhttp_connection_set_closecb(c->evcon, closed_cb, c);
            c->feed = evbuffer_add_cb(bufferevent_get_input(bev), feed_cb, c);
        }
        bufferevent_decref(bev);
    }
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
    struct conns *cs = arg;
    struct conn *c = calloc(1, sizeof(*c));
    if (!c || !(c->timer = evtimer_new(base, timer_cb, c))) {
        free(c);
        return http_strict_bevcb(base, NULL); /* served, but neither counted nor clocked */
    }
    struct bufferevent *bev = http_strict_bevcb(base, &c->chunks);
    if (!bev) {
        event_free(c->timer);
        free(c);
        return NULL;
    }
    c->cs = cs;
    c->bev = bev;
    c->fd = -1;
    deadline_init(&c->clock, &cs->lim);
    bufferevent_incref(bev);
    c->next_fresh = cs->fresh;
    cs->fresh = c;
    event_active(cs->adopt_ev, EV_TIMEOUT, 0);
    if (++cs->open >= cs->max && !cs->full) {
        cs->full = true;
        set_accepting(cs);
        if (log_due(&cs->full_logged, clock_now()))
            log_warn("msg=\"connection cap reached; new connections wait until one closes\" "
                     "max_connections=%ld",
                     cs->max);
    }
    return bev;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conns *cs = arg;
    cs->backoff = false;
    set_accepting(cs);
}

/* accept() failed (libevent retries EAGAIN and EINTR itself): most likely no descriptor is
 * left (EMFILE, ENFILE), and the connection that could not be taken is still queued, so
 * accepting pauses for a moment instead of failing again at once. */
static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    (void)arg;
    struct conns *cs = listening;
    while (cs && cs->lev != lev)
        cs = cs->next;
    if (!cs)
        return;
    cs->last_error = EVUTIL_SOCKET_ERROR();
    cs->refused++;
    cs->backoff = true;
    evconnlistener_disable(lev);
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    evtimer_add(cs->resume_ev, &tv);
    if (log_due(&cs->refused_logged, clock_now())) {
        log_warn("msg=\"accept failed; pausing new connections\" error=\"%s\" failed=%lu "
                 "open=%ld pause_ms=%d",
                 strerror(cs->last_error), cs->refused, cs->open, ACCEPT_PAUSE_MS);
        cs->refused = 0;
    }
}

struct conns *conns_new(struct event_base *base, struct evhttp *http,
                        struct evhttp_bound_socket *listener, const struct conns_opts *opts)
{
    struct conns *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return NULL;
    long limit = conns_raise_nofile();
    cs->base = base;
    cs->lim = (struct deadline_limits){.head_s = opts->head_s, .min_rate = opts->min_rate};
    cs->max = opts->max;
    if (cs->max <= 0) {
        cs->max = limit - opts->reserve;
        if (cs->max < limit / 2)
            cs->max = limit / 2 > 0 ? limit / 2 : 1;
    }
    cs->nbyfd = limit < FD_INDEX_MAX ? limit : FD_INDEX_MAX;
    cs->byfd = calloc((size_t)cs->nbyfd, sizeof(*cs->byfd));
    cs->resume_ev = evtimer_new(base, resume_cb, cs);
    cs->adopt_ev = event_new(base, -1, 0, adopt_cb, cs);
    if (!cs->byfd || !cs->resume_ev || !cs->adopt_ev) {
        conns_free(cs);
        return NULL;
    }
    cs->lev = evhttp_bound_socket_get_listener(listener);
    evconnlistener_set_error_cb(cs->lev, accept_error_cb);
    cs->next = listening;
    listening = cs;
    evhttp_set_bevcb(http, bevcb, cs);
    log_info("msg=\"connection limits\" open_files=%ld max_connections=%ld head_timeout_s=%g "
             "body_min_rate=%g",
             limit, cs->max, opts->head_s, opts->min_rate);
    return cs;
}

static void unlist(struct conns *cs)
{
    for (struct conns **p = &listening; *p; p = &(*p)->next) {
        if (*p == cs) {
            *p = cs->next;
            break;
        }
    }
}

void conns_stop_accepting(struct conns *cs)
{
    if (!cs)
        return;
    unlist(cs);
    cs->lev = NULL;
    event_del(cs->resume_ev);
}

void conns_free(struct conns *cs)
{
    if (!cs)
        return;
    unlist(cs);
    while (cs->fresh) { /* the loop stopped before adopting them */
        struct conn *c = cs->fresh;
        cs->fresh = c->next_fresh;
        bufferevent_decref(c->bev);
        event_free(c->timer);
        free(c);
    }
    for (long i = 0; cs->byfd && i < cs->nbyfd; i++) { /* closed without a close callback */
        struct conn *c = cs->byfd[i];
        if (c) {
            event_free(c->timer);
            free(c);
        }
    }
    if (cs->resume_ev)
        event_free(cs->resume_ev);
    if (cs->adopt_ev)
        event_free(cs->adopt_ev);
    free(cs->byfd);
    free(cs);
}

long conns_max(const struct conns *cs) { return cs->max; }
long conns_open(const struct conns *cs) { return cs->open; }

static struct conn *find(struct conns *cs, struct evhttp_connection *evcon)
{
    if (!evcon)
        return NULL;
    int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    struct conn *c = fd >= 0 && fd < cs->nbyfd ? cs->byfd[fd] : NULL;
    return c && c->evcon == evcon ? c : NULL;
}

static void completed_cb(struct evhttp_request *req, void *arg)
{
    struct conn *c = find(arg, evhttp_request_get_connection(req));
    if (c && deadline_next(&c->clock, bufferevent_get_input(c->bev), clock_now()))
        arm(c);
}

void conns_request_started(struct conns *cs, struct evhttp_request *req)
{
    struct conn *c = find(cs, evhttp_request_get_connection(req));
    if (!c)
        return;
    deadline_handled(&c->clock);
    event_del(c->timer);
    evhttp_request_set_on_complete_cb(req, completed_cb, cs);
}

void conns_on_close(struct conns *cs, struct evhttp_connection *evcon,
                    void (*cb)(struct evhttp_connection *, void *), void *arg)
{
    struct conn *c = find(cs, evcon);
    if (c) {
        c->on_close = cb;
        c->on_close_arg = arg;
    } else {
        evhttp_connection_set_closecb(evcon, cb, arg);
    }
}
