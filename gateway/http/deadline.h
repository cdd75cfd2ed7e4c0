/* deadline — the clock on one request's arrival: its whole head must arrive within a deadline
 * counted from its first byte, and its body must then keep an average rate, however the bytes
 * trickle in. evhttp's own timeout restarts with every byte read, so a client sending a byte
 * every few seconds could hold a connection for ever. Pure bookkeeping: the connection's
 * owner (conns.c) feeds it the bytes, runs the timer and closes the connection. */
#ifndef FLOWSTATE_HTTP_DEADLINE_H
#define FLOWSTATE_HTTP_DEADLINE_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>

struct deadline_limits {
    double head_s;   /* seconds from a request's first byte to the end of its head */
    double min_rate; /* bytes per second a body must average after head_s (0: none) */
};

enum deadline_phase {
    DEADLINE_IDLE,    /* between requests: only the idle timeout applies */
    DEADLINE_HEAD,    /* a request's head is arriving */
    DEADLINE_BODY,    /* its head is complete; its body (if any) is arriving */
    DEADLINE_HANDLED, /* the request reached the handler: no clock until it is answered */
};

struct deadline {
    const struct deadline_limits *lim;
    enum deadline_phase phase;
    double head_start, body_start;
    size_t body_bytes;
    unsigned line_len; /* bytes in the head's current line, CR not counted */
    bool seen_line;    /* a non-empty head line has arrived (blank lines before it are skipped) */
};

/* An idle clock under lim (kept by the caller). */
void deadline_init(struct deadline *d, const struct deadline_limits *lim);

/* The n bytes added at offset from of buf arrived at now. Returns true when the phase changed
 * (the caller re-arms its timer at deadline_due). */
bool deadline_feed(struct deadline *d, struct evbuffer *buf, size_t from, size_t n, double now);

/* The request reached its handler. */
void deadline_handled(struct deadline *d);

/* The request was answered; buf holds what the client already sent of the next one (a
 * pipelined request), whose clock starts now. Returns true when a clock is running. */
bool deadline_next(struct deadline *d, struct evbuffer *buf, double now);

/* When the clock must be looked at next (absolute, clock_now's scale), or 0 for never. */
double deadline_due(const struct deadline *d);

/* The head is late or the body is too slow at now. */
bool deadline_expired(const struct deadline *d, double now);

#endif
