/* evserver.h — what the benchmark's evhttp servers (hello.c, storeserver.c) share: the
 * gateway's own event loop (gateway/http/evbase.c, linked in: epoll with libevent's changelist, so
 * they stay ceilings for the gateway's loop), the hello-world answer to GET /health, and
 * listening on 127.0.0.1 until SIGTERM or SIGINT. */
#ifndef FLOWSTATE_BENCH_EVSERVER_H
#define FLOWSTATE_BENCH_EVSERVER_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/version.h"
#include "gateway/http/evbase.h"

static const char EVSERVER_HEALTH[] = "{\"status\":\"ok\",\"version\":\"" FLOWSTATE_VERSION
                                      "\",\"uptimeSeconds\":1,\"database\":\"up\"}";

static struct event_base *evserver_base(void)
{
    signal(SIGPIPE, SIG_IGN);
    return gateway_event_base();
}

/* 1 when req is a cmd request for exactly path. */
static int evserver_is(struct evhttp_request *req, enum evhttp_cmd_type cmd, const char *path)
{
    const char *uri = evhttp_request_get_uri(req);
    return evhttp_request_get_command(req) == cmd && uri && strcmp(uri, path) == 0;
}

static void evserver_reply(struct evhttp_request *req, int code, const char *reason,
                           const char *body, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, body, len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

static void evserver_health(struct evhttp_request *req)
{
    evserver_reply(req, 200, "OK", EVSERVER_HEALTH, sizeof EVSERVER_HEALTH - 1);
}

static void evserver_on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Serves on 127.0.0.1:port until SIGTERM or SIGINT, then frees http. 0 when it served. */
static int evserver_serve(const char *prog, struct event_base *base, struct evhttp *http,
                          const char *port)
{
    if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)atoi(port)) != 0) {
        fprintf(stderr, "%s: cannot listen on 127.0.0.1:%s\n", prog, port);
        return 1;
    }
    struct event *term = evsignal_new(base, SIGTERM, evserver_on_signal, base);
    struct event *intr = evsignal_new(base, SIGINT, evserver_on_signal, base);
    event_add(term, NULL);
    event_add(intr, NULL);
    event_base_dispatch(base);
    event_free(term);
    event_free(intr);
    evhttp_free(http);
    return 0;
}

#endif
