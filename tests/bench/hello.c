/* hello.c — the gateway ceiling for `make bench`: the smallest libevent evhttp server, one
 * event loop on one thread like flowstate-gateway. GET /health answers 200 with a small JSON
 * body; anything else 404. Usage: hello PORT (listens on 127.0.0.1). */
#include "evserver.h"

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (evserver_is(req, EVHTTP_REQ_GET, "/health"))
        evserver_health(req);
    else
        evhttp_send_error(req, 404, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    struct event_base *base = evserver_base();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http)
        return 1;
    evhttp_set_gencb(http, on_request, NULL);
    int rc = evserver_serve("hello", base, http, argv[1]);
    event_base_free(base);
    return rc;
}
