/* gateway — the process-wide state every handler reaches through its request: the event
 * loop, the HTTP server, the database pools, the group-commit batchers, the long-poll
 * waiters, the event streams, the sweeper, the key cache and the work threads. */
#ifndef FLOWSTATE_GATEWAY_H
#define FLOWSTATE_GATEWAY_H

#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>
#include <time.h>

struct config;
struct pgpool;
struct channels;
struct batcher;
struct authcache;
struct jobwait;
struct stream;
struct sweeper;
struct vectors;
struct workpool;
struct request;
struct conns;

/* The most freed requests kept for the next ones (request.c). */
#define GATEWAY_SPARE_REQUESTS 64

struct gateway {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *listener;
    struct conns *conns; /* the connection cap, accept pauses and request deadlines */
    const struct config *cfg;
    struct pgpool *pool;       /* every query */
    struct channels *channels; /* the LISTEN connection (fs_jobs, fs_documents) */
    struct batcher *inserts;   /* POST /api/jobs */
    struct batcher *completes; /* POST /api/jobs/:id/complete */
    struct batcher *fails;     /* POST /api/jobs/:id/fail */
    struct jobwait *waits;     /* GET /api/jobs/:id?wait=N */
    struct stream *streams;    /* GET /api/events/stream */
    struct embedder *embedder; /* the embedding provider (threads for a remote one) */
    struct vectors *vectors;   /* embedding cache for semantic search */
    struct pgvector *pgvector; /* the pgvector search path, when the column exists */
    struct workpool *work;     /* threads for CPU-heavy requests (clustering, large scans) */
    struct sweeper *sweeper;
    struct authcache *auth;
    bool auth_on;
    long body_limit;
    char response_budget[24]; /* CFG_RESPONSE_BUDGET as text: a parameter of every list query */
    time_t started;
    int inflight;  /* requests received and not yet answered */
    int closing;   /* connections still sending a reply given while draining */
    bool draining; /* first SIGTERM/SIGINT seen */
    bool stopped;  /* drain finished: the loop exits after this iteration */
    struct event *sigterm_ev, *sigint_ev, *drain_timer;
    char id_prefix[9];
    unsigned long next_id;
    /* Freed requests kept for reuse (request.c): spare_count of them. */
    struct request *spare_requests[GATEWAY_SPARE_REQUESTS];
    int spare_count;
    /* The /health body (health.c): it changes at most once a second (uptime) or when the
     * database goes up or down, so it is formatted then and reused in between. */
    struct {
        long uptime;
        bool db_up;
        int len; /* 0: not made yet */
        char text[160];
    } health;
};

/* Builds the gateway (listening socket, pool, signal handlers). Returns 0, or -1 having
 * logged why. gateway_run drives the loop until a graceful shutdown completes and returns
 * the exit code. gateway_close frees what gateway_open made. */
int gateway_open(struct gateway *gw, const struct config *cfg) __attribute__((warn_unused_result));
int gateway_run(struct gateway *gw);
void gateway_close(struct gateway *gw);
/* Sets TCP_NODELAY on a listening socket, so every connection it accepts has it (Linux
 * copies it to accepted sockets). Without it an answer that leaves in more than one segment
 * waits for the client's delayed ACK: 40 ms on each 1,000-job batch answer. -1 on error. */
int gateway_listener_nodelay(int fd);

/* Called whenever a request finishes; completes a pending graceful shutdown. */
void gateway_request_done(struct gateway *gw);

#endif
