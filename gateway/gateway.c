/* gateway — the HTTP server around one libevent loop: listening, the request pipeline
 * (head checks -> route -> auth -> content checks -> handler), signals and graceful shutdown.
 *
 * Shutdown: the first SIGTERM/SIGINT closes the listening socket, stops the sweeper,
 * answers every long-poll waiter at once with its job's current state, and lets in-flight
 * requests and group-commit batches finish (replies then carry Connection: close); the
 * loop exits when none are left or FLOWSTATE_SHUTDOWN_TIMEOUT passes. A second signal
 * exits at once. */
#include "gateway/gateway.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "gateway/db/channels.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/events/stream.h"
#include "gateway/handlers.h"
#include "gateway/http/auth.h"
#include "gateway/http/conns.h"
#include "gateway/http/evbase.h"
#include "gateway/http/request.h"
#include "gateway/http/strict.h"
#include "gateway/jobs/batcher.h"
#include "gateway/jobs/jobwait.h"
#include "gateway/jobs/sweeper.h"
#include "gateway/memory/embedder.h"
#include "gateway/memory/pgvector.h"
#include "gateway/memory/vectors.h"
#include "gateway/routes.h"
#include "gateway/work/workpool.h"

static enum route_method method_of(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
    case EVHTTP_REQ_HEAD: return METHOD_GET;
    case EVHTTP_REQ_POST: return METHOD_POST;
    case EVHTTP_REQ_PUT: return METHOD_PUT;
    case EVHTTP_REQ_DELETE: return METHOD_DELETE;
    case EVHTTP_REQ_PATCH: return METHOD_PATCH;
    default: return METHOD_OTHER;
    }
}

static bool is_json_content_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct || strncasecmp(ct, want, sizeof(want) - 1) != 0)
        return false;
    char next = ct[sizeof(want) - 1];
    return next == '\0' || next == ';' || next == ' ';
}

/* Runs once the caller is authenticated: body checks, then the route's handler. */
static void after_auth(struct request *r)
{
    int body = r->match.route->has_body;
    if (body == BODY_OPTIONAL && evbuffer_get_length(evhttp_request_get_input_buffer(r->req)) == 0)
        body = BODY_NONE; /* r->body stays NULL */
    if (body != BODY_NONE) {
        struct evhttp_request *req = r->req;
        const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        if (!is_json_content_type(ct)) {
            request_error(r, 415, "unsupported_media_type", NULL,
                          "send the body as JSON with Content-Type: application/json");
            return;
        }
        if (!http_strict_charset_ok(ct)) {
            request_error(r, 415, "unsupported_media_type", NULL,
                          "the body must be JSON in UTF-8; drop the charset or send charset=utf-8");
            return;
        }
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        if ((long)len > r->gw->body_limit) {
            request_error(r, 413, "payload_too_large", NULL,
                          "the body is %zu bytes; the limit is %ld", len, r->gw->body_limit);
            return;
        }
        if (body != BODY_JSON_TEXT && !request_parse_body(r))
            return;
    }
    r->match.route->handler(r);
}

static void handle_request(struct evhttp_request *req, void *arg)
{
    struct gateway *gw = arg;
    conns_request_started(gw->conns, req);
    if (gw->stopped) {
        /* The loop exits after this iteration: a request read now from a kept-alive
         * connection could not be finished, so it is refused before anything starts. */
        static const char body[] =
            "{\"error\":{\"code\":\"unavailable\",\"message\":\"the gateway is shutting down\"}}\n";
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Connection", "close");
        evhttp_add_header(h, "Content-Type", "application/json");
        evhttp_add_header(h, "Retry-After", "1");
        struct evbuffer *out = evhttp_request_get_output_buffer(req);
        evbuffer_add(out, body, sizeof(body) - 1);
        evhttp_send_reply(req, 503, "Service Unavailable", NULL);
        return;
    }
    struct request *r = request_new(gw, req);
    if (!r) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (!http_strict_check_head(r))
        return;
    r->method = method_of(evhttp_request_get_command(req));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    switch (router_match(routes, routes_count, r->method, path, &r->match)) {
    case 0:
        for (int i = 0; i < r->match.nparams; i++) {
            const char *v = r->match.params[i].value;
            if (!json_is_utf8(v, strlen(v))) {
                request_error(r, 404, "not_found", NULL, "no such route");
                return;
            }
        }
        for (struct evkeyval *kv = r->query.tqh_first; kv; kv = kv->next.tqe_next) {
            if (!json_is_utf8(kv->key, strlen(kv->key)) ||
                !json_is_utf8(kv->value, strlen(kv->value))) {
                request_error(r, 400, "invalid_field",
                              json_is_utf8(kv->key, strlen(kv->key)) ? kv->key : NULL,
                              "query parameters must be valid UTF-8");
                return;
            }
        }
        auth_request(r, after_auth);
        return;
    case -2: {
        char allow[64];
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          router_allow_header(r->match.allowed, allow, sizeof(allow)));
        request_error(r, 405, "method_not_allowed", NULL, "this path allows %s", allow);
        return;
    }
    default: request_error(r, 404, "not_found", NULL, "no such route"); return;
    }
}

static void finish_shutdown(struct gateway *gw, const char *why)
{
    if (gw->stopped)
        return;
    gw->stopped = true;
    log_info("msg=\"shutdown complete\" reason=%s", why);
    event_base_loopexit(gw->base, NULL);
}

void gateway_request_done(struct gateway *gw)
{
    if (gw->draining && gw->inflight == 0 && gw->closing == 0 && batcher_idle(gw->inserts) &&
        batcher_idle(gw->completes) && batcher_idle(gw->fails))
        finish_shutdown(gw, "drained");
}

static void drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct gateway *gw = arg;
    log_warn("msg=\"shutdown timeout; exiting with requests in flight\" inflight=%d", gw->inflight);
    finish_shutdown(gw, "timeout");
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct gateway *gw = arg;
    if (gw->draining) {
        log_warn("msg=\"second signal; exiting now\" signal=%d", (int)sig);
        _exit(1);
    }
    gw->draining = true;
    log_info("msg=\"shutting down: finishing in-flight requests\" signal=%d inflight=%d", (int)sig,
             gw->inflight);
    if (gw->listener) {
        conns_stop_accepting(gw->conns);
        evhttp_del_accept_socket(gw->http, gw->listener);
        gw->listener = NULL;
    }
    struct timeval tv = {config_int(gw->cfg, CFG_SHUTDOWN_TIMEOUT), 0};
    evtimer_add(gw->drain_timer, &tv);
    sweeper_stop(gw->sweeper);
    jobwait_drain(gw->waits);
    stream_drain(gw->streams);
    gateway_request_done(gw);
}

/* The LISTEN connection's (re)connect: the pgvector column may have appeared or gone. */
static void listen_connected(void *arg)
{
    struct gateway *gw = arg;
    pgvector_probe(gw->pgvector);
}

/* The batchers' submit function: the main pool. */
static int pool_submit(void *pool, int stmt, int nparams, const char *const *values, pgpool_cb cb,
                       void *arg)
{
    return pgpool_query(pool, stmt, nparams, values, cb, arg);
}

int gateway_listener_nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int gateway_open(struct gateway *gw, const struct config *cfg)
{
    memset(gw, 0, sizeof(*gw));
    gw->cfg = cfg;
    gw->started = time(NULL);
    gw->auth_on = config_bool(cfg, CFG_AUTH);
    gw->body_limit = config_int(cfg, CFG_BODY_LIMIT);
    snprintf(gw->response_budget, sizeof(gw->response_budget), "%ld",
             config_int(cfg, CFG_RESPONSE_BUDGET));
    long retention = config_int(cfg, CFG_RETENTION);
    if (retention > 0 && retention < config_int(cfg, CFG_EVENT_RETENTION)) {
        /* The sweeper deletes events older than retention: a stream could not resume them. */
        log_error("msg=\"event-retention must not exceed retention (unless retention is 0)\" "
                  "retention=%ld event_retention=%ld",
                  retention, config_int(cfg, CFG_EVENT_RETENTION));
        return -1;
    }
    srandom((unsigned)time(NULL) ^ ((unsigned)getpid() << 16));
    snprintf(gw->id_prefix, sizeof(gw->id_prefix), "%08lx", (unsigned long)random() & 0xffffffffUL);
    signal(SIGPIPE, SIG_IGN);

    char url[512];
    const char *host = config_str(cfg, CFG_HOST);
    int port = (int)config_int(cfg, CFG_PORT);
    gateway_event_log();
    if (!(gw->base = gateway_event_base()) || !(gw->http = evhttp_new(gw->base))) {
        log_error("msg=\"cannot create the event loop\"");
        return -1;
    }
    /* Bodies between the limit and this hard cap get our JSON 413; larger ones are cut off by
     * libevent itself (still a 413) so a client cannot make us buffer without bound. */
    evhttp_set_max_body_size(gw->http, (ev_ssize_t)(2 * gw->body_limit + 65536));
    evhttp_set_max_headers_size(gw->http, 64 * 1024);
    evhttp_set_timeout(gw->http, (int)config_int(cfg, CFG_HTTP_TIMEOUT));
    evhttp_set_allowed_methods(gw->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                             EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
                                             EVHTTP_REQ_CONNECT); /* to refuse it ourselves */
    evhttp_set_gencb(gw->http, handle_request, gw);
    gw->listener = evhttp_bind_socket_with_handle(gw->http, host, (ev_uint16_t)port);
    if (!gw->listener) {
        log_error(
            "msg=\"cannot listen\" host=%s port=%d hint=\"is another process using the port?\"",
            host, port);
        return -1;
    }
    if (gateway_listener_nodelay(evhttp_bound_socket_get_fd(gw->listener)) < 0)
        log_warn("msg=\"cannot set TCP_NODELAY; answers may wait for delayed ACKs\"");
    gw->conns =
        conns_new(gw->base, gw->http, gw->listener,
                  &(struct conns_opts){.max = config_int(cfg, CFG_MAX_CONNECTIONS),
                                       .reserve = CONNS_RESERVE + config_int(cfg, CFG_DB_POOL_SIZE),
                                       .head_s = (double)config_int(cfg, CFG_HEAD_TIMEOUT),
                                       .min_rate = (double)config_int(cfg, CFG_BODY_MIN_RATE)});
    if (!gw->conns) {
        log_error("msg=\"out of memory while starting\"");
        return -1;
    }

    char session_sql[512];
    snprintf(session_sql, sizeof(session_sql), "%s; SET statement_timeout = %ld",
             QUERIES_SESSION_SQL, config_int(cfg, CFG_STATEMENT_TIMEOUT));
    const char *url_text = config_str(cfg, CFG_DATABASE_URL);
    int batch_max = (int)config_int(cfg, CFG_BATCH_MAX);
    int batch_inflight = (int)config_int(cfg, CFG_BATCH_INFLIGHT);
    char base_ms[24], cap_ms[24];
    snprintf(base_ms, sizeof(base_ms), "%ld", config_int(cfg, CFG_RETRY_BASE_MS));
    snprintf(cap_ms, sizeof(cap_ms), "%ld", config_int(cfg, CFG_RETRY_MAX_MS));
    const char *complete_params[1] = {"true"};
    const char *fail_params[3] = {"true", base_ms, cap_ms};
    gw->pool = pgpool_new(gw->base, url_text,
                          &(struct pgpool_opts){.name = "main",
                                                .size = (int)config_int(cfg, CFG_DB_POOL_SIZE),
                                                .queue_max = (int)config_int(cfg, CFG_DB_QUEUE_MAX),
                                                .session_sql = session_sql,
                                                .stmts = queries,
                                                .nstmts = Q__COUNT});
    gw->channels = channels_new(gw->base, url_text);
    gw->inserts = batcher_new(gw->base, pool_submit, gw->pool, &jobs_insert_kind, 0, NULL,
                              batch_max, batch_inflight);
    gw->completes = batcher_new(gw->base, pool_submit, gw->pool, &outcomes_complete_kind, 1,
                                complete_params, batch_max, batch_inflight);
    gw->fails = batcher_new(gw->base, pool_submit, gw->pool, &outcomes_fail_kind, 3, fail_params,
                            batch_max, batch_inflight);
    gw->waits = jobwait_new(gw->base, gw->pool, gw->channels, (int)config_int(cfg, CFG_WAITERS_MAX),
                            (int)config_int(cfg, CFG_WAITERS_PER_KEY));
    gw->streams = stream_new(
        gw->base, gw->pool, gw->channels, gw->conns,
        &(struct stream_opts){.max_total = (int)config_int(cfg, CFG_EVENT_SUBSCRIBERS_MAX),
                              .max_per_key = (int)config_int(cfg, CFG_EVENT_SUBSCRIBERS_PER_KEY),
                              .buffer_max = config_int(cfg, CFG_EVENT_BUFFER_MAX),
                              .heartbeat_s = (int)config_int(cfg, CFG_EVENT_HEARTBEAT),
                              .poll_ms = (int)config_int(cfg, CFG_EVENT_POLL_MS),
                              .retention_s = (int)config_int(cfg, CFG_EVENT_RETENTION)});
    gw->work = workpool_new(gw->base, (int)config_int(cfg, CFG_WORK_THREADS),
                            (int)config_int(cfg, CFG_WORK_QUEUE_MAX));
    char embed_err[256];
    if (!gw->work) {
        log_error("msg=\"out of memory while starting\"");
        return -1;
    }
    if (!(gw->embedder =
              embedder_new(gw->base, gw->pool, gw->work, cfg, embed_err, sizeof(embed_err)))) {
        log_error("msg=\"cannot start the embedding provider\" error=\"%s\"", embed_err);
        return -1;
    }
    const struct embed_provider *provider = embedder_provider(gw->embedder);
    gw->vectors =
        vectors_new(gw->base, gw->pool, gw->channels, provider, config_bool(cfg, CFG_VECTOR_CACHE),
                    config_int(cfg, CFG_VECTOR_CACHE_MAX));
    gw->pgvector = pgvector_new(gw->pool, provider);
    gw->sweeper = sweeper_new(gw->base, gw->pool, config_int(cfg, CFG_SWEEP_INTERVAL_MS),
                              config_int(cfg, CFG_RETENTION));
    gw->auth = authcache_new(
        (int)config_int(cfg, CFG_KEY_CACHE_TTL), (int)config_int(cfg, CFG_KEY_CACHE_MAX),
        (int)config_int(cfg, CFG_KEY_CACHE_UNKNOWN_MAX), gw->auth_on ? gw->base : NULL, gw->pool);
    gw->sigterm_ev = evsignal_new(gw->base, SIGTERM, signal_cb, gw);
    gw->sigint_ev = evsignal_new(gw->base, SIGINT, signal_cb, gw);
    gw->drain_timer = evtimer_new(gw->base, drain_timeout_cb, gw);
    if (!gw->pool || !gw->channels || !gw->inserts || !gw->completes || !gw->fails || !gw->waits ||
        !gw->streams || !gw->vectors || !gw->pgvector || !gw->sweeper || !gw->auth || !gw->work ||
        !gw->sigterm_ev || !gw->sigint_ev || !gw->drain_timer ||
        evsignal_add(gw->sigterm_ev, NULL) < 0 || evsignal_add(gw->sigint_ev, NULL) < 0) {
        log_error("msg=\"out of memory while starting\"");
        return -1;
    }
    channels_set_hooks(gw->channels, CHANNEL_JOBS, jobwait_notify, jobwait_resync, gw->waits);
    channels_set_hooks(gw->channels, CHANNEL_EVENTS, stream_notify, stream_listening, gw->streams);
    channels_set_hooks(gw->channels, CHANNEL_DOCUMENTS, vectors_notify, vectors_listening,
                       gw->vectors);
    channels_on_connect(gw->channels, listen_connected, gw);
    log_info("msg=listening url=http://%s:%d database=%s auth=%s", host, port,
             log_redact_url(config_str(cfg, CFG_DATABASE_URL), url, sizeof(url)),
             gw->auth_on ? "on" : "off");
    return 0;
}

int gateway_run(struct gateway *gw)
{
    event_base_dispatch(gw->base);
    return 0;
}

void gateway_close(struct gateway *gw)
{
    /* The loop has stopped, so no callback runs any more: the pools drop what is in flight
     * without calling back, and the waiters and batchers free what they still hold. */
    conns_stop_accepting(gw->conns); /* evhttp_free frees the listener first */
    if (gw->http)
        evhttp_free(gw->http);
    conns_free(gw->conns);       /* after evhttp_free, which reports each connection's close */
    embedder_free(gw->embedder); /* joins its threads; drops queued texts */
    workpool_free(gw->work);     /* waits for the works running; drops the others */
    channels_free(gw->channels);
    pgpool_free(gw->pool);
    sweeper_free(gw->sweeper);
    jobwait_free(gw->waits);
    stream_free(gw->streams);
    vectors_free(gw->vectors);
    pgvector_free(gw->pgvector);
    batcher_free(gw->inserts);
    batcher_free(gw->completes);
    batcher_free(gw->fails);
    authcache_free(gw->auth);
    request_spares_free(gw);
    if (gw->sigterm_ev)
        event_free(gw->sigterm_ev);
    if (gw->sigint_ev)
        event_free(gw->sigint_ev);
    if (gw->drain_timer)
        event_free(gw->drain_timer);
    if (gw->base)
        event_base_free(gw->base);
    memset(gw, 0, sizeof(*gw));
}
