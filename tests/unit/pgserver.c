/* pgserver — a scripted loopback "PostgreSQL server" for unit tests (see pgserver.h). */
#include "tests/unit/pgserver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_MOVES 16
#define MAX_KEPT 64

struct pgserver {
    int listen_fd;
    int stop_pipe[2];
    pthread_t thread;
    pthread_mutex_t lock;
    enum pgserver_move moves[MAX_MOVES];
    int nmoves;
    int accepted;
    int kept[MAX_KEPT]; /* connections left open */
    int nkept;
    char conninfo[128];
};

static int read_full(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Reads the startup packet (length, then the rest) and answers the way a server that
 * trusts everyone does: AuthenticationOk, then ReadyForQuery (idle). */
static void handshake(int fd)
{
    unsigned char len_be[4], buf[1024];
    if (read_full(fd, len_be, 4) < 0)
        return;
    uint32_t len = ((uint32_t)len_be[0] << 24) | ((uint32_t)len_be[1] << 16) |
                   ((uint32_t)len_be[2] << 8) | len_be[3];
    if (len < 8 || len - 4 > sizeof(buf) || read_full(fd, buf, len - 4) < 0)
        return;
    static const unsigned char answer[] = {'R', 0, 0, 0, 8, 0,  0, 0, 0, /* AuthenticationOk */
                                           'Z', 0, 0, 0, 5, 'I'};        /* ReadyForQuery */
    if (write(fd, answer, sizeof(answer)) != (ssize_t)sizeof(answer))
        return;
}

static void *serve(void *arg)
{
    struct pgserver *s = arg;
    for (;;) {
        struct pollfd p[2] = {{s->listen_fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 || p[1].revents)
            return NULL;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->lock);
        int n = s->accepted++;
        enum pgserver_move move = s->moves[n < s->nmoves ? n : s->nmoves - 1];
        pthread_mutex_unlock(&s->lock);
        if (move == PGSERVER_HANDSHAKE)
            handshake(fd);
        if (move == PGSERVER_CLOSE || s->nkept == MAX_KEPT)
            close(fd);
        else
            s->kept[s->nkept++] = fd;
    }
}

struct pgserver *pgserver_start(const enum pgserver_move *moves, int nmoves)
{
    if (nmoves < 1 || nmoves > MAX_MOVES)
        return NULL;
    struct pgserver *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    memcpy(s->moves, moves, (size_t)nmoves * sizeof(*moves));
    s->nmoves = nmoves;
    pthread_mutex_init(&s->lock, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(s->listen_fd, 16) < 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&a, &alen) < 0 || pipe(s->stop_pipe) < 0 ||
        pthread_create(&s->thread, NULL, serve, s) != 0) {
        if (s->listen_fd >= 0)
            close(s->listen_fd);
        for (int i = 0; i < 2; i++)
            if (s->stop_pipe[i] >= 0)
                close(s->stop_pipe[i]);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    snprintf(s->conninfo, sizeof(s->conninfo),
             "hostaddr=127.0.0.1 port=%d user=test dbname=test sslmode=disable gssencmode=disable",
             ntohs(a.sin_port));
    return s;
}

void pgserver_stop(struct pgserver *s)
{
    if (!s)
        return;
    if (write(s->stop_pipe[1], "x", 1) == 1)
        pthread_join(s->thread, NULL);
    close(s->listen_fd);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    for (int i = 0; i < s->nkept; i++)
        close(s->kept[i]);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *pgserver_conninfo(const struct pgserver *s) { return s->conninfo; }

int pgserver_accepted(struct pgserver *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->accepted;
    pthread_mutex_unlock(&s->lock);
    return n;
}

const char *pgserver_closed_conninfo(void)
{
    static char conninfo[128];
    /* A port the kernel just gave us and we released: nothing listens there now. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int port = 1; /* a privileged port nothing here serves, should the above fail */
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    snprintf(conninfo, sizeof(conninfo),
             "hostaddr=127.0.0.1 port=%d user=test dbname=test sslmode=disable gssencmode=disable",
             port);
    return conninfo;
}
