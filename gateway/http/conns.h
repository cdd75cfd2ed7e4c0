/* conns — the gateway's client connections from accept to close: how many may be open at
 * once (derived from the open-files limit, which start-up raises to its hard limit), accepting
 * paused at that cap or, briefly, when accept() finds no descriptor left (instead of retrying
 * it in a busy loop), and each connection's request clock (deadline.h). */
#ifndef FLOWSTATE_HTTP_CONNS_H
#define FLOWSTATE_HTTP_CONNS_H

#include <event2/event.h>
#include <event2/http.h>

struct conns;

/* Descriptors kept out of the default cap beyond the database pool's: the LISTEN connection,
 * the listeners, stdio and logs, a remote embedding provider's sockets. */
#define CONNS_RESERVE 64

struct conns_opts {
    long max;        /* most connections open at once; 0: the open-files limit less reserve */
    long reserve;    /* descriptors kept for everything else when max is 0 */
    double head_s;   /* deadline.h */
    double min_rate; /* deadline.h */
};

/* Raises the soft RLIMIT_NOFILE to the hard limit (logging when it cannot) and returns the
 * soft limit in force. */
long conns_raise_nofile(void);

/* Takes over http's connections (its bevcb) and listener's accepting. NULL on allocation
 * failure. conns_free only after evhttp_free. */
struct conns *conns_new(struct event_base *base, struct evhttp *http,
                        struct evhttp_bound_socket *listener, const struct conns_opts *opts);
void conns_free(struct conns *cs);

/* The listener is about to be closed (graceful shutdown): accepting is never resumed. */
void conns_stop_accepting(struct conns *cs);

/* The cap in force and the connections open now. */
long conns_max(const struct conns *cs);
long conns_open(const struct conns *cs);

/* A request reached the gateway's handler: its connection's clock stops until the answer is
 * written, then starts for the next request. */
void conns_request_started(struct conns *cs, struct evhttp_request *req);

/* Calls cb when evcon closes (evhttp_connection_set_closecb, which this module uses itself). */
void conns_on_close(struct conns *cs, struct evhttp_connection *evcon,
                    void (*cb)(struct evhttp_connection *, void *), void *arg);

#endif
