/* Unit test for gateway_listener_nodelay: a connection accepted on the gateway's listening
 * socket has TCP_NODELAY, so multi-segment answers never wait for the client's delayed ACK
 * (up to 40 ms on Linux; docs/measurements.md). The same accept without it has Nagle on. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/gateway.h"
#include "tests/unit/harness.h"

/* TCP_NODELAY of a connection accepted on a fresh loopback listener; -1 on error. */
static int accepted_nodelay(bool tune)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd = socket(AF_INET, SOCK_STREAM, 0), afd = -1,
        v = -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (lfd >= 0 && cfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        listen(lfd, 1) == 0 && (!tune || gateway_listener_nodelay(lfd) == 0) &&
        getsockname(lfd, (struct sockaddr *)&a, &len) == 0 &&
        connect(cfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        (afd = accept(lfd, NULL, NULL)) >= 0) {
        len = sizeof(v);
        if (getsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &v, &len) != 0)
            v = -1;
    }
    for (int fd, i = 0; i < 3; i++)
        if ((fd = i == 0 ? lfd : i == 1 ? cfd : afd) >= 0)
            close(fd);
    return v;
}

static void nodelay_case(const void *arg)
{
    (void)arg;
    CHECK_LONG(accepted_nodelay(false), 0);
    CHECK(accepted_nodelay(true) > 0);
}

void register_listener_tests(void)
{
    test_add("gateway listener accepts with TCP_NODELAY", nodelay_case, NULL);
}
