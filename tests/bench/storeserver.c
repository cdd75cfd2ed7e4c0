/* storeserver.c — the stored-enqueue ceiling for `make bench`: the smallest evhttp server that
 * stores each POST durably with group commit. It is hello.c's server plus what no job system
 * can skip: each `POST /api/jobs` body is written to job_queue, and the request is answered only
 * after its commit. Requests that arrive while a statement is in flight wait and go together in
 * the next one: one prepared multi-row `INSERT … SELECT FROM jsonb_array_elements($2)
 * RETURNING id` (job_queue's indexes and announce trigger included, as in Flowstate), each
 * request answered `201 {"id":N}`. No authentication, no validation, no job document: none of
 * the gateway's own work, so the gateway's POST rate over this server's is what the gateway
 * itself costs. INFLIGHT statements may be in flight at once, each on its own connection.
 * GET /health answers as hello.c's does (for start-up checks).
 * Usage: storeserver PORT DATABASE_URL AGENT INFLIGHT (listens on 127.0.0.1). */
#include <libpq-fe.h>

#include "evserver.h"
#include "pgloop.h"

#define MAX_INFLIGHT 8

static const char INSERT[] = "INSERT INTO job_queue (target_agent, payload)"
                             " SELECT $1, e FROM jsonb_array_elements($2::jsonb) e RETURNING id";

/* One connection and the group of requests whose statement is in flight on it. */
struct link {
    PGconn *db;
    struct event *readable;
    struct evhttp_request **group; /* NULL while idle */
    int n;
};

static struct {
    const char *agent;
    struct link links[MAX_INFLIGHT];
    int nlinks;
    struct evhttp_request **queue; /* requests waiting for a statement */
    int queued, cap;
    char *rows; /* the next statement's bodies, as one JSON array */
    size_t rows_cap;
} S;

static void fail_group(struct link *l, const char *why)
{
    fprintf(stderr, "storeserver: %s", why);
    for (int i = 0; i < l->n; i++)
        evhttp_send_error(l->group[i], 500, NULL);
}

static void answer_group(struct link *l, PGresult *r)
{
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != l->n) {
        fail_group(l, PQresultErrorMessage(r));
        return;
    }
    for (int i = 0; i < l->n; i++) {
        char body[48];
        int len = snprintf(body, sizeof body, "{\"id\":%s}", PQgetvalue(r, i, 0));
        evserver_reply(l->group[i], 201, "Created", body, (size_t)len);
    }
}

/* Writes the queued bodies into S.rows as "[b1,b2,…]". */
static void gather_rows(void)
{
    size_t len = 2;
    for (int i = 0; i < S.queued; i++)
        len += evbuffer_get_length(evhttp_request_get_input_buffer(S.queue[i])) + 1;
    if (len > S.rows_cap) {
        S.rows_cap = len * 2;
        S.rows = realloc(S.rows, S.rows_cap);
        if (!S.rows)
            abort();
    }
    char *p = S.rows;
    *p++ = '[';
    for (int i = 0; i < S.queued; i++) {
        struct evbuffer *body = evhttp_request_get_input_buffer(S.queue[i]);
        if (i)
            *p++ = ',';
        p += evbuffer_copyout(body, p, evbuffer_get_length(body));
    }
    *p++ = ']';
    *p = 0;
}

/* Sends everything queued as one statement on l, an idle link. */
static void send_group(struct link *l)
{
    gather_rows();
    l->group = S.queue;
    l->n = S.queued;
    S.queue = malloc(sizeof *S.queue * (size_t)S.cap);
    if (!S.queue)
        abort();
    S.queued = 0;
    const char *params[2] = {S.agent, S.rows};
    if (!PQsendQueryPrepared(l->db, "store", 2, params, NULL, NULL, 0)) {
        fail_group(l, PQerrorMessage(l->db));
        free(l->group);
        l->group = NULL;
        return;
    }
    event_add(l->readable, NULL);
}

static void send_queued(void)
{
    for (int i = 0; i < S.nlinks && S.queued; i++)
        if (!S.links[i].group)
            send_group(&S.links[i]);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct link *l = arg;
    if (!PQconsumeInput(l->db)) {
        fprintf(stderr, "storeserver: %s", PQerrorMessage(l->db));
        exit(1);
    }
    while (!PQisBusy(l->db)) {
        PGresult *r = PQgetResult(l->db);
        if (!r) {
            free(l->group);
            l->group = NULL;
            event_del(l->readable);
            send_queued();
            return;
        }
        answer_group(l, r);
        PQclear(r);
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (evserver_is(req, EVHTTP_REQ_GET, "/health")) {
        evserver_health(req);
        return;
    }
    if (!evserver_is(req, EVHTTP_REQ_POST, "/api/jobs")) {
        evhttp_send_error(req, 404, NULL);
        return;
    }
    if (S.queued == S.cap) {
        S.cap *= 2;
        S.queue = realloc(S.queue, sizeof *S.queue * (size_t)S.cap);
        if (!S.queue)
            abort();
    }
    S.queue[S.queued++] = req;
    send_queued();
}

int main(int argc, char **argv)
{
    if (argc != 5 || atoi(argv[4]) < 1 || atoi(argv[4]) > MAX_INFLIGHT) {
        fprintf(stderr, "usage: %s PORT DATABASE_URL AGENT INFLIGHT(1-%d)\n", argv[0],
                MAX_INFLIGHT);
        return 2;
    }
    S.agent = argv[3];
    S.cap = 1024;
    S.queue = malloc(sizeof *S.queue * (size_t)S.cap);
    struct event_base *base = evserver_base();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http || !S.queue)
        return 1;
    S.nlinks = atoi(argv[4]);
    for (int i = 0; i < S.nlinks; i++) {
        struct link *l = &S.links[i];
        l->db = PQconnectdb(argv[2]);
        if (PQstatus(l->db) != CONNECTION_OK) {
            fprintf(stderr, "storeserver: %s", PQerrorMessage(l->db));
            return 1;
        }
        if (!pgloop_prepare("storeserver", l->db, "store", INSERT, 2))
            return 1;
        l->readable = event_new(base, PQsocket(l->db), EV_READ | EV_PERSIST, on_readable, l);
    }
    evhttp_set_gencb(http, on_request, NULL);
    int rc = evserver_serve("storeserver", base, http, argv[1]);
    for (int i = 0; i < S.nlinks; i++) {
        event_free(S.links[i].readable);
        PQfinish(S.links[i].db);
    }
    event_base_free(base);
    free(S.queue);
    free(S.rows);
    return rc;
}
