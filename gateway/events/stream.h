/* stream — GET /api/events/stream: Server-Sent Events from the event log to every subscriber
 * of this gateway, through one shared reader. A NOTIFY on fs_events (LISTENed only while a
 * subscriber exists) or the poll timer makes one query read the events past the gateway's
 * high-water position, and each is written to the subscribers whose filter it passes. A
 * subscriber that resumes (Last-Event-ID) first reads its backlog a bounded page at a time,
 * then joins the shared feed without a gap or a duplicate; one whose unsent output passes the
 * buffer limit gets a final overflow event and is closed. docs/events.md has the protocol. */
#ifndef FLOWSTATE_STREAM_H
#define FLOWSTATE_STREAM_H

#include <event2/event.h>
#include <stdbool.h>

struct stream;
struct request;
struct pgpool;
struct channels;
struct conns;
struct evfilter;

struct stream_opts {
    int max_total, max_per_key; /* subscribers at once: on the gateway, for one caller */
    long buffer_max;            /* bytes of unsent output before overflow */
    int heartbeat_s;            /* between keep-alive comments */
    int poll_ms;                /* the reader's fallback poll */
    int retention_s;            /* how old a Last-Event-ID may be and still resume */
};

/* The subscribers' hub, reading through pool and subscribing to fs_events on channels while
 * anyone listens; conns reports closed connections. NULL on allocation failure. */
struct stream *stream_new(struct event_base *base, struct pgpool *pool, struct channels *channels,
                          struct conns *conns, const struct stream_opts *opts);
/* Frees every subscriber without a word: only after the loop has stopped and the pools are
 * freed. Accepts NULL. */
void stream_free(struct stream *s);

/* Takes r over: 503 while draining or with max_total subscribers, 429 when its caller holds
 * max_per_key, 503 when the database cannot look up last_id; otherwise streams the events
 * passing f (copied) after last_id (0: from now on) until the client leaves, overflows or
 * the gateway drains. */
void stream_open(struct stream *s, struct request *r, const struct evfilter *f, long long last_id);

/* The fs_events channel's hooks (channels.h; arg is the stream): both make the reader read. */
void stream_notify(const char *payload, void *arg);
void stream_listening(bool again, void *arg);

/* Graceful shutdown: every stream is ended now (clients resume on another gateway). */
void stream_drain(struct stream *s);

/* Subscribers open (for tests and logs). */
int stream_count(const struct stream *s);

#endif
