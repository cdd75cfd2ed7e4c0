/* stream — the shared event reader and its subscribers (see stream.h).
 *
 * Positions. The log's order is (xid, id) and readers take only rows below their snapshot's
 * xmin (sql/012_event_stream.sql), so "every event after position P" is a prefix that never
 * gains a late row. The reader keeps the position of the last event it read (hw); each
 * subscriber keeps the position of the last event it was given (pos). A live subscriber is
 * given an event only when it lies after its pos, so one that joined from a backlog never
 * sees an event twice.
 *
 * Joining. A subscriber without Last-Event-ID starts at hw once the reader knows it (the
 * first subscriber makes the reader read the log's end). One that resumes reads pages of its
 * own from its pos; a page shorter than the page size ended at its snapshot's xmin, so it
 * has every event below that xmin; if hw also lies below it, every event up to hw has been
 * given, and everything after hw is still to come through the reader: it goes live.
 * Otherwise (the reader moved on meanwhile) it reads another page.
 *
 * Lifetimes. A subscriber is freed when its stream ends (the client left, overflow, drain),
 * unless a query of its own is in flight: then it is marked gone and freed when the query
 * returns. evhttp does not read a connection while it writes a reply (libevent 2.1), so a
 * client that left is noticed when a write to it fails, within a heartbeat or two;
 * evhttp then detaches the request from the connection, and our close hook ends the reply,
 * which frees the request. A client that stops reading is dropped by overflow, or by the
 * connection's write timeout (FLOWSTATE_HTTP_TIMEOUT) when its output cannot move. */
#include "gateway/events/stream.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/db/channels.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/events/evfilter.h"
#include "gateway/http/conns.h"
#include "gateway/http/request.h"

#define READ_PAGE 1000   /* events one shared read takes */
#define CATCHUP_PAGE 200 /* events one subscriber's backlog page takes */
#define HELD_FIRST_MS 10 /* first re-read while a transaction holds committed events back */
#define PACE_MS 50       /* a backlog page waits this long while the client has much unsent */
#define HEARTBEAT ": keep-alive\n\n"

struct pos {
    uint64_t xid;
    long long id;
};

enum sub_state {
    SUB_OPENING, /* its Last-Event-ID is being looked up; nothing sent yet */
    SUB_WAITING, /* streaming; starts at hw once the reader knows it */
    SUB_CATCHUP, /* reading its backlog */
    SUB_LIVE,    /* fed by the shared reader */
};

struct sub {
    struct stream *s;
    struct sub *prev, *next;
    struct request *r;
    struct evhttp_connection *evcon; /* while the reply streams */
    struct evfilter f;
    uint64_t caller;
    enum sub_state state;
    struct pos pos;
    long long last_sent; /* id of the last event written to the client (0: none) */
    long long resume_id; /* the Last-Event-ID asked for */
    bool reset;          /* its Last-Event-ID could not resume: send reset on going live */
    bool querying;       /* a query of its own holds a pointer to it */
    bool gone;           /* ended while querying: freed when the query returns */
    struct event *timer; /* backlog paging and retries */
};

struct stream {
    struct event_base *base;
    struct pgpool *pool;
    struct channels *channels;
    struct conns *conns;
    struct stream_opts o;
    struct sub *subs;
    int count;
    bool have_hw;  /* hw is known (it is forgotten while nobody listens) */
    struct pos hw; /* the last event the reader read */
    bool reading, read_tail, again, draining;
    int held_ms; /* the next re-read's delay while events are held back; 0: none pending */
    struct event *poll_timer, *held_timer, *heartbeat_timer;
};

/* One event of a result, with its frame ready to write. */
struct row {
    struct pos pos;
    struct evfilter_event ev;
    char *frame;
    size_t frame_len;
};

/* A read's result: its snapshot's xmin, whether events wait above it, whether more are
 * left for another read, and its rows. */
struct batch {
    uint64_t xmin;
    bool held, more;
    int n;
    struct row *rows;
};

static bool after(struct pos a, struct pos b)
{
    return a.xid > b.xid || (a.xid == b.xid && a.id > b.id);
}

static int parse_pos(const char *xid, const char *id, struct pos *p)
{
    char *end;
    p->xid = strtoull(xid, &end, 10);
    if (*end)
        return -1;
    p->id = strtoll(id, &end, 10);
    return *end ? -1 : 0;
}

static void batch_free(struct batch *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->rows[i].frame);
    free(b->rows);
    b->rows = NULL;
    b->n = 0;
}

/* Reads a Q_EVENTS_READ result into b (pointing into res). Returns 0, or -1 when it is not
 * one (logged) or out of memory. */
static int batch_parse(PGresult *res, struct batch *b)
{
    memset(b, 0, sizeof(*b));
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 11 || PQntuples(res) < 1) {
        char msg[512];
        log_warn("msg=\"cannot read events\" error=%s",
                 log_quote(PQresultErrorMessage(res), msg, sizeof(msg)));
        return -1;
    }
    int n = PQntuples(res);
    b->xmin = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    b->held = PQgetvalue(res, 0, 1)[0] == 't';
    b->more = PQgetvalue(res, 0, 2)[0] == 't';
    if (PQgetisnull(res, 0, 3))
        return 0;
    if (!(b->rows = calloc((size_t)n, sizeof(*b->rows))))
        return -1;
    for (int i = 0; i < n; i++) {
        struct row *w = &b->rows[i];
        if (parse_pos(PQgetvalue(res, i, 4), PQgetvalue(res, i, 3), &w->pos) < 0)
            goto fail;
        w->ev.type = PQgetvalue(res, i, 5);
        w->ev.agent = PQgetisnull(res, i, 6) ? NULL : PQgetvalue(res, i, 6);
        w->ev.job_id = PQgetisnull(res, i, 7) ? 0 : strtoll(PQgetvalue(res, i, 7), NULL, 10);
        w->ev.run_id = PQgetisnull(res, i, 8) ? NULL : PQgetvalue(res, i, 8);
        w->ev.conversation_id = PQgetisnull(res, i, 9) ? NULL : PQgetvalue(res, i, 9);
        const char *json = PQgetvalue(res, i, 10);
        size_t cap = strlen(json) + strlen(w->ev.type) + 64;
        if (!(w->frame = malloc(cap)))
            goto fail;
        int len = snprintf(w->frame, cap, "id: %lld\nevent: %s\ndata: %s\n\n", w->pos.id,
                           w->ev.type, json);
        w->frame_len = (size_t)len;
        b->n = i + 1;
    }
    return 0;
fail:
    batch_free(b);
    return -1;
}

static size_t unsent(struct sub *u)
{
    return evbuffer_get_length(bufferevent_get_output(evhttp_connection_get_bufferevent(u->evcon)));
}

static void stream_idle(struct stream *s);

static void sub_unlink(struct sub *u)
{
    struct stream *s = u->s;
    if (u->prev)
        u->prev->next = u->next;
    else
        s->subs = u->next;
    if (u->next)
        u->next->prev = u->prev;
    if (--s->count == 0)
        stream_idle(s);
}

static void sub_release(struct sub *u)
{
    if (u->timer)
        event_free(u->timer);
    u->timer = NULL;
    if (u->querying)
        u->gone = true;
    else
        free(u);
}

/* A query of u's own returned: false when u ended meanwhile (it is freed now). */
static bool sub_back(struct sub *u)
{
    u->querying = false;
    if (!u->gone)
        return true;
    free(u);
    return false;
}

/* Drops u before its reply started and hands back its request, for the caller to answer. */
static struct request *sub_refuse(struct sub *u)
{
    struct request *r = u->r;
    u->r = NULL;
    sub_unlink(u);
    sub_release(u);
    return r;
}

/* Ends u's stream, writing final (NULL: nothing) first when the client is still there, and
 * frees it (see Lifetimes). */
static void sub_end(struct sub *u, const char *final, const char *why)
{
    struct stream *s = u->s;
    struct evhttp_request *req = u->r->req;
    if (u->evcon) {
        conns_on_close(s->conns, u->evcon, NULL, NULL);
        if (final) {
            struct evbuffer *buf = evbuffer_new();
            if (buf) {
                evbuffer_add(buf, final, strlen(final));
                evhttp_send_reply_chunk(req, buf);
                evbuffer_free(buf);
            }
        }
    }
    if (u->state != SUB_OPENING)
        evhttp_send_reply_end(req); /* frees req when the connection has gone */
    log_info("msg=\"event stream ended\" req_id=%s reason=%s last_event_id=%lld", u->r->id, why,
             u->last_sent);
    u->evcon = NULL;
    sub_unlink(u);
    request_free(u->r);
    u->r = NULL;
    sub_release(u);
}

static void sub_overflow(struct sub *u)
{
    char final[256];
    snprintf(final, sizeof(final),
             "event: overflow\ndata: {\"reason\":\"the client read too slowly: more than %ld "
             "bytes were waiting to be sent\",\"lastEventId\":\"%lld\"}\n\n",
             u->s->o.buffer_max, u->last_sent);
    sub_end(u, final, "overflow");
}

/* Writes text to u unless that takes its unsent output past the limit (then it overflows
 * and is freed). Returns 0, or -1 when u has ended. */
static int sub_write(struct sub *u, struct evbuffer *buf)
{
    if (unsent(u) + evbuffer_get_length(buf) > (size_t)u->s->o.buffer_max) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        sub_overflow(u);
        return -1;
    }
    evhttp_send_reply_chunk(u->r->req, buf);
    return 0;
}

/* Gives u the events of b after its pos that pass its filter, in one chunk. Returns 0, or
 * -1 when u has ended (overflow or no memory). */
static int sub_deliver(struct sub *u, const struct batch *b)
{
    struct evbuffer *buf = evbuffer_new();
    if (!buf) {
        sub_end(u, NULL, "out_of_memory");
        return -1;
    }
    long long last = u->last_sent;
    for (int i = 0; i < b->n; i++) {
        const struct row *w = &b->rows[i];
        if (!after(w->pos, u->pos))
            continue;
        u->pos = w->pos;
        if (evfilter_match(&u->f, &w->ev)) {
            evbuffer_add(buf, w->frame, w->frame_len);
            last = w->pos.id;
        }
    }
    int rc = 0;
    if (evbuffer_get_length(buf) > 0) {
        rc = sub_write(u, buf);
        if (rc == 0)
            u->last_sent = last;
    }
    evbuffer_free(buf);
    return rc;
}

static int sub_write_text(struct sub *u, const char *text)
{
    struct evbuffer *buf = evbuffer_new();
    if (!buf)
        return 0;
    evbuffer_add(buf, text, strlen(text));
    int rc = sub_write(u, buf);
    evbuffer_free(buf);
    return rc;
}

/* u starts at the reader's position, after a reset event when its Last-Event-ID could not
 * resume. The reset carries no id: the position it starts from may itself be past the
 * retention, and the client's next reconnection should name an event it was given. */
static void sub_go_live(struct sub *u)
{
    struct stream *s = u->s;
    if (u->state == SUB_WAITING)
        u->pos = s->hw;
    u->state = SUB_LIVE;
    if (u->reset) {
        char text[256];
        snprintf(text, sizeof(text),
                 "event: reset\ndata: {\"reason\":\"Last-Event-ID %lld is older than the "
                 "retention or unknown: re-read the state you need, then follow this "
                 "stream\",\"lastEventId\":\"%lld\"}\n\n",
                 u->resume_id, u->resume_id);
        u->reset = false;
        sub_write_text(u, text);
    }
}

static void closed_cb(struct evhttp_connection *evcon, void *arg)
{
    struct sub *u = arg;
    u->evcon = NULL;
    sub_end(u, NULL, "client_closed");
}

/* Starts u's 200 text/event-stream reply. Returns 0, or -1 when u has ended. */
static int sub_start(struct sub *u, enum sub_state state)
{
    struct stream *s = u->s;
    struct evhttp_request *req = u->r->req;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "X-Accel-Buffering", "no"); /* nginx: pass events through at once */
    evhttp_add_header(h, "X-Request-Id", u->r->id);
    evhttp_send_reply_start(req, 200, "OK");
    u->state = state;
    u->evcon = evhttp_request_get_connection(req);
    if (!u->evcon) {
        sub_end(u, NULL, "client_closed");
        return -1;
    }
    conns_on_close(s->conns, u->evcon, closed_cb, u);
    log_info("msg=\"event stream opened\" req_id=%s resume=%lld subscribers=%d", u->r->id,
             u->resume_id, s->count);
    return sub_write_text(u, ": stream open\n\n");
}

/* ---- the shared reader ---- */

/* Sends Q_EVENTS_READ past p: at most rows events, and at most a quarter of the buffer limit
 * of JSON, so that one read cannot overflow a client that keeps up (it drains between
 * reads). Returns pgpool_query's result. */
static int query_read(struct stream *s, struct pos p, int rows, pgpool_cb cb, void *arg)
{
    char xid[24], id[24], limit[16], budget[24];
    snprintf(xid, sizeof(xid), "%" PRIu64, p.xid);
    snprintf(id, sizeof(id), "%lld", p.id);
    snprintf(limit, sizeof(limit), "%d", rows);
    snprintf(budget, sizeof(budget), "%ld", s->o.buffer_max / 4);
    const char *params[4] = {xid, id, limit, budget};
    return pgpool_query(s->pool, Q_EVENTS_READ, 4, params, cb, arg);
}

static void start_read(struct stream *s);

static void request_read(struct stream *s)
{
    if (s->count == 0)
        return;
    if (s->reading) {
        s->again = true;
        return;
    }
    start_read(s);
}

static void read_done(PGresult *res, void *arg)
{
    struct stream *s = arg;
    bool tail = s->read_tail;
    s->reading = false;
    if (!res || s->count == 0) {
        if (!res)
            log_debug("msg=\"event read skipped: database unavailable\"");
        return; /* the poll timer reads again */
    }
    if (tail) {
        struct pos p;
        char xid[32] = "", id[32] = "";
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
            sscanf(PQgetvalue(res, 0, 0), "%31s %31s", xid, id) != 2 ||
            parse_pos(xid, id, &p) < 0) {
            char msg[512];
            log_warn("msg=\"cannot read the event log's end\" error=%s",
                     log_quote(PQresultErrorMessage(res), msg, sizeof(msg)));
            return;
        }
        s->hw = p;
        s->have_hw = true;
        for (struct sub *u = s->subs, *next; u; u = next) {
            next = u->next;
            if (u->state == SUB_WAITING)
                sub_go_live(u);
        }
        start_read(s); /* what committed since */
        return;
    }
    if (!s->have_hw) { /* forgotten while the read was in flight: find the end afresh */
        start_read(s);
        return;
    }
    struct batch b;
    if (batch_parse(res, &b) < 0)
        return;
    for (struct sub *u = s->subs, *next; u; u = next) {
        next = u->next;
        if (u->state == SUB_LIVE)
            sub_deliver(u, &b);
    }
    if (b.n > 0)
        s->hw = b.rows[b.n - 1].pos;
    bool full = b.more;
    if (b.held && !full) {
        if (!s->held_ms) {
            s->held_ms = HELD_FIRST_MS;
        } else if ((s->held_ms *= 2) > s->o.poll_ms) {
            s->held_ms = s->o.poll_ms;
        }
        struct timeval tv = {s->held_ms / 1000, (s->held_ms % 1000) * 1000};
        evtimer_add(s->held_timer, &tv);
    } else {
        s->held_ms = 0;
    }
    batch_free(&b);
    if (full || s->again)
        start_read(s);
}

static void start_read(struct stream *s)
{
    if (s->count == 0)
        return;
    s->again = false;
    s->read_tail = !s->have_hw;
    int rc;
    if (s->read_tail) {
        rc = pgpool_query(s->pool, Q_EVENTS_TAIL, 0, NULL, read_done, s);
    } else {
        rc = query_read(s, s->hw, READ_PAGE, read_done, s);
    }
    if (rc < 0)
        log_debug("msg=\"event read skipped: database unavailable or busy\"");
    else
        s->reading = true;
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    request_read(arg);
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct stream *s = arg;
    for (struct sub *u = s->subs, *next; u; u = next) {
        next = u->next;
        if (u->evcon)
            sub_write_text(u, HEARTBEAT);
    }
}

void stream_notify(const char *payload, void *arg)
{
    (void)payload;
    request_read(arg);
}

void stream_listening(bool again, void *arg)
{
    (void)again; /* either way, what committed before the LISTEN was not notified to us */
    request_read(arg);
}

/* Nobody listens: stop reading and forget hw (the next first subscriber reads the log's end
 * afresh rather than everything since). */
static void stream_idle(struct stream *s)
{
    channels_want(s->channels, CHANNEL_EVENTS, false);
    event_del(s->poll_timer);
    event_del(s->held_timer);
    event_del(s->heartbeat_timer);
    s->have_hw = false;
    s->held_ms = 0;
}

static void stream_busy(struct stream *s)
{
    channels_want(s->channels, CHANNEL_EVENTS, true);
    struct timeval poll = {s->o.poll_ms / 1000, (s->o.poll_ms % 1000) * 1000};
    struct timeval beat = {s->o.heartbeat_s, 0};
    event_add(s->poll_timer, &poll);
    event_add(s->heartbeat_timer, &beat);
    request_read(s);
}

/* ---- one subscriber's backlog ---- */

static void catchup_page(struct sub *u);

static void sub_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    catchup_page(arg);
}

static void sub_retry(struct sub *u, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(u->timer, &tv);
}

static void catchup_done(PGresult *res, void *arg)
{
    struct sub *u = arg;
    if (!sub_back(u))
        return;
    struct stream *s = u->s;
    struct batch b;
    if (!res || batch_parse(res, &b) < 0) {
        sub_retry(u, s->o.poll_ms);
        return;
    }
    bool complete = !b.more;
    int rc = sub_deliver(u, &b);
    uint64_t xmin = b.xmin;
    batch_free(&b);
    if (rc < 0)
        return;
    if (complete && s->have_hw && s->hw.xid < xmin)
        sub_go_live(u);
    else if (complete && !s->have_hw)
        sub_retry(u, PACE_MS); /* the reader is finding the log's end */
    else if (unsent(u) > (size_t)s->o.buffer_max / 2)
        sub_retry(u, PACE_MS);
    else
        catchup_page(u);
}

static void catchup_page(struct sub *u)
{
    if (query_read(u->s, u->pos, CATCHUP_PAGE, catchup_done, u) < 0)
        sub_retry(u, u->s->o.poll_ms);
    else
        u->querying = true;
}

static void position_done(PGresult *res, void *arg)
{
    struct sub *u = arg;
    if (!sub_back(u))
        return;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        struct request *r = sub_refuse(u);
        if (res)
            request_db_error(r, res);
        else
            request_unavailable(r);
        return;
    }
    bool resumable = PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] == 't';
    if (resumable) {
        u->pos.id = u->resume_id;
        u->pos.xid = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        u->last_sent = u->resume_id;
        if (sub_start(u, SUB_CATCHUP) == 0)
            catchup_page(u);
        return;
    }
    u->reset = true;
    if (sub_start(u, SUB_WAITING) == 0 && u->s->have_hw)
        sub_go_live(u);
}

void stream_open(struct stream *s, struct request *r, const struct evfilter *f, long long last_id)
{
    if (s->draining) {
        request_error(r, 503, "unavailable", NULL, "the gateway is shutting down");
        return;
    }
    if (s->count >= s->o.max_total) {
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "1");
        request_error(r, 503, "unavailable", NULL,
                      "this gateway already streams events to %d subscribers, the most it "
                      "serves; retry later or on another gateway",
                      s->o.max_total);
        return;
    }
    uint64_t caller = request_caller_key(r);
    int mine = 0;
    for (struct sub *u = s->subs; u; u = u->next)
        mine += u->caller == caller;
    if (mine >= s->o.max_per_key) {
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "1");
        request_error(r, 429, "too_many_requests", NULL,
                      "this key already holds %d event streams, the most one key may; close "
                      "one first",
                      s->o.max_per_key);
        return;
    }
    struct sub *u = calloc(1, sizeof(*u));
    if (!u || !(u->timer = evtimer_new(s->base, sub_timer_cb, u))) {
        free(u);
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    u->s = s;
    u->r = r;
    u->f = *f;
    u->caller = caller;
    u->resume_id = last_id;
    u->next = s->subs;
    if (s->subs)
        s->subs->prev = u;
    s->subs = u;
    if (++s->count == 1)
        stream_busy(s);
    if (last_id > 0) {
        char id[24], retention[24];
        snprintf(id, sizeof(id), "%lld", last_id);
        snprintf(retention, sizeof(retention), "%d", s->o.retention_s);
        const char *params[2] = {id, retention};
        if (pgpool_query(s->pool, Q_EVENT_POSITION, 2, params, position_done, u) < 0) {
            request_unavailable(sub_refuse(u));
            return;
        }
        u->querying = true;
        return;
    }
    if (sub_start(u, SUB_WAITING) == 0 && s->have_hw)
        sub_go_live(u);
}

struct stream *stream_new(struct event_base *base, struct pgpool *pool, struct channels *channels,
                          struct conns *conns, const struct stream_opts *opts)
{
    struct stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->base = base;
    s->pool = pool;
    s->channels = channels;
    s->conns = conns;
    s->o = *opts;
    s->poll_timer = event_new(base, -1, EV_PERSIST, poll_cb, s);
    s->held_timer = evtimer_new(base, poll_cb, s);
    s->heartbeat_timer = event_new(base, -1, EV_PERSIST, heartbeat_cb, s);
    if (!s->poll_timer || !s->held_timer || !s->heartbeat_timer) {
        stream_free(s);
        return NULL;
    }
    return s;
}

void stream_free(struct stream *s)
{
    if (!s)
        return;
    while (s->subs) {
        struct sub *u = s->subs;
        s->subs = u->next;
        request_free(u->r);
        if (u->timer)
            event_free(u->timer);
        free(u);
    }
    if (s->poll_timer)
        event_free(s->poll_timer);
    if (s->held_timer)
        event_free(s->held_timer);
    if (s->heartbeat_timer)
        event_free(s->heartbeat_timer);
    free(s);
}

void stream_drain(struct stream *s)
{
    s->draining = true;
    while (s->subs) {
        struct sub *u = s->subs;
        if (u->state == SUB_OPENING) {
            request_error(sub_refuse(u), 503, "unavailable", NULL, "the gateway is shutting down");
        } else {
            sub_end(u, ": the gateway is shutting down; reconnect with Last-Event-ID\n\n",
                    "shutdown");
        }
    }
}

int stream_count(const struct stream *s) { return s->count; }
