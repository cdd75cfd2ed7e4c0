/* hello.c — the gateway ceiling for `make bench`: the smallest libevent evhttp server, one
 * event loop on one thread like flowstate-gateway. GET /health answers 200 with a small JSON
 * body; anything else 404. Usage: hello PORT (listens on 127.0.0.1). */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char BODY[] = "{\"status\":\"ok\",\"version\":\"0.1.0\",\"uptimeSeconds\":1,\"database\":\"up\"}";

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || !uri || strcmp(uri, "/health") != 0) {
        evhttp_send_error(req, 404, NULL);
        return;
    }
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, BODY, sizeof BODY - 1);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* The same event-loop configuration as the gateway (gateway_event_base): epoll with
     * libevent's changelist, so this stays the ceiling for the gateway's own loop. */
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return 1;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    struct evhttp *http = evhttp_new(base);
    if (!base || !http)
        return 1;
    evhttp_set_gencb(http, on_request, NULL);
    if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)atoi(argv[1])) != 0) {
        fprintf(stderr, "hello: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    struct event *term = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *intr = evsignal_new(base, SIGINT, on_signal, base);
    event_add(term, NULL);
    event_add(intr, NULL);
    event_base_dispatch(base);
    event_free(term);
    event_free(intr);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
