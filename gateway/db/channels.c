/* channels — subscribing the LISTEN connection to a channel only while it is needed (see
 * channels.h). A small state machine over one pgpool connection: for each channel, whether
 * it is wanted and whether its LISTEN is in effect on the current session; sync_channels()
 * sends the one command that brings them closer, and runs again when its result comes. */
#include "gateway/db/channels.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"

#define RETRY_S 1.0

struct channel_state {
    bool wanted;
    bool active;        /* LISTEN in effect on the current session */
    bool again;         /* the next LISTEN follows a lost connection */
    double unwanted_at; /* monotonic seconds when it stopped being wanted */
    channel_notify_cb on_notify;
    channel_ready_cb on_ready;
    void *arg;
};

struct channels {
    struct pgpool *pool;
    struct event *timer; /* linger expiry, or a retry after a failed command */
    struct channel_state ch[CHANNEL__COUNT];
    int inflight; /* the channel whose command is in flight, or -1 */
    bool inflight_listen;
    channels_connect_cb on_connect;
    void *connect_arg;
};

/* Each channel's name and the two commands that (un)subscribe to it. */
static const struct {
    const char *name, *listen, *unlisten;
} channel_sql[CHANNEL__COUNT] = {
    [CHANNEL_JOBS] = {"fs_jobs", "LISTEN fs_jobs", "UNLISTEN fs_jobs"},
    [CHANNEL_DOCUMENTS] = {"fs_documents", "LISTEN fs_documents", "UNLISTEN fs_documents"},
    [CHANNEL_EVENTS] = {"fs_events", "LISTEN fs_events", "UNLISTEN fs_events"},
};

static void arm_timer(struct channels *c, double seconds)
{
    long us = (long)(seconds * 1e6) + 1000;
    struct timeval tv = {us / 1000000, us % 1000000};
    evtimer_add(c->timer, &tv);
}

/* The session is gone, and every LISTEN with it. */
static void forget_session(struct channels *c)
{
    for (int i = 0; i < CHANNEL__COUNT; i++) {
        if (i == c->inflight) /* queued before the connection was up: it runs on this session */
            continue;
        c->ch[i].again = c->ch[i].again || c->ch[i].active;
        c->ch[i].active = false;
    }
}

static void sync_channels(struct channels *c);

static void command_done(PGresult *res, void *arg)
{
    struct channels *c = arg;
    int ch = c->inflight;
    bool was_listen = c->inflight_listen;
    c->inflight = -1;
    if (!res) {
        forget_session(c);
        arm_timer(c, RETRY_S); /* or sooner: the reconnect syncs */
        return;
    }
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_warn("msg=\"cannot change the LISTEN connection's channels; retrying\" channel=%s "
                 "error=\"%s\"",
                 channel_sql[ch].name, PQresultErrorMessage(res));
        arm_timer(c, RETRY_S);
        return;
    }
    struct channel_state *s = &c->ch[ch];
    s->active = was_listen;
    log_debug("msg=\"%s\" channel=%s", was_listen ? "listening" : "no longer listening",
              channel_sql[ch].name);
    if (was_listen) {
        bool again = s->again;
        s->again = false;
        if (s->on_ready)
            s->on_ready(again, s->arg);
    }
    sync_channels(c);
}

static void send_command(struct channels *c, int ch, bool listen)
{
    const char *sql = listen ? channel_sql[ch].listen : channel_sql[ch].unlisten;
    if (pgpool_query_sql(c->pool, sql, 0, NULL, command_done, c) < 0) {
        arm_timer(c, RETRY_S); /* the database is down: the reconnect syncs, or this retry */
        return;
    }
    c->inflight = ch;
    c->inflight_listen = listen;
}

/* Sends the next LISTEN (a wanted channel not yet in effect) or UNLISTEN (a channel
 * unwanted for CHANNELS_LINGER_S), unless a command is in flight. */
static void sync_channels(struct channels *c)
{
    if (c->inflight >= 0)
        return;
    double now = clock_now(), next_expiry = 0;
    for (int i = 0; i < CHANNEL__COUNT; i++) {
        struct channel_state *s = &c->ch[i];
        if (s->wanted && !s->active) {
            send_command(c, i, true);
            return;
        }
        if (!s->wanted && s->active) {
            double left = s->unwanted_at + CHANNELS_LINGER_S - now;
            if (left <= 0) {
                send_command(c, i, false);
                return;
            }
            if (next_expiry == 0 || left < next_expiry)
                next_expiry = left;
        }
    }
    if (next_expiry > 0)
        arm_timer(c, next_expiry);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sync_channels(arg);
}

/* The pool's hooks: notifications go to their channel's owner; a (re)connect is a new
 * session, listening to nothing. */
static void pool_notify(const char *channel, const char *payload, void *arg)
{
    struct channels *c = arg;
    for (int i = 0; i < CHANNEL__COUNT; i++)
        if (strcmp(channel, channel_sql[i].name) == 0 && c->ch[i].on_notify)
            c->ch[i].on_notify(payload, c->ch[i].arg);
}

static void pool_ready(void *arg)
{
    struct channels *c = arg;
    forget_session(c);
    if (c->on_connect)
        c->on_connect(c->connect_arg);
    sync_channels(c);
}

struct channels *channels_new(struct event_base *base, const char *conninfo)
{
    struct channels *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->inflight = -1;
    struct pgpool_opts opts = {.name = "listen",
                               .size = 1,
                               .queue_max = 1,
                               .session_sql = QUERIES_LISTEN_SQL,
                               .on_notify = pool_notify,
                               .on_ready = pool_ready,
                               .hook_arg = c};
    c->timer = evtimer_new(base, timer_cb, c);
    c->pool = pgpool_new(base, conninfo, &opts);
    if (!c->pool || !c->timer) {
        channels_free(c);
        return NULL;
    }
    return c;
}

void channels_free(struct channels *c)
{
    if (!c)
        return;
    pgpool_free(c->pool);
    if (c->timer)
        event_free(c->timer);
    free(c);
}

void channels_set_hooks(struct channels *c, enum channel ch, channel_notify_cb on_notify,
                        channel_ready_cb on_ready, void *arg)
{
    c->ch[ch].on_notify = on_notify;
    c->ch[ch].on_ready = on_ready;
    c->ch[ch].arg = arg;
}

void channels_on_connect(struct channels *c, channels_connect_cb cb, void *arg)
{
    c->on_connect = cb;
    c->connect_arg = arg;
}

void channels_want(struct channels *c, enum channel ch, bool want)
{
    struct channel_state *s = &c->ch[ch];
    if (s->wanted == want)
        return;
    s->wanted = want;
    if (!want)
        s->unwanted_at = clock_now();
    sync_channels(c);
}
