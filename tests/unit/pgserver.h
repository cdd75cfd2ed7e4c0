/* pgserver — a loopback listener for the libpq unit tests that plays the first moves of a
 * PostgreSQL server and no more, so that connection handling (failures, deadlines,
 * reconnect delays) is tested against real sockets and the real libpq, without a database.
 * It runs on its own thread; each accepted connection gets the next behaviour of a script. */
#ifndef FLOWSTATE_TEST_PGSERVER_H
#define FLOWSTATE_TEST_PGSERVER_H

enum pgserver_move {
    PGSERVER_CLOSE,     /* close at once */
    PGSERVER_SILENT,    /* accept and never answer */
    PGSERVER_HANDSHAKE, /* read the startup packet, answer AuthenticationOk and ReadyForQuery,
                           then read and never answer */
};

struct pgserver;

/* Listens on 127.0.0.1 (any free port); the n-th accepted connection gets moves[n], the
 * ones past the script the last move. NULL on failure. */
struct pgserver *pgserver_start(const enum pgserver_move *moves, int nmoves);
/* Stops the thread and closes every socket. Accepts NULL. */
void pgserver_stop(struct pgserver *s);
/* A libpq conninfo for it (no TLS, no GSSAPI: the script speaks neither). */
const char *pgserver_conninfo(const struct pgserver *s);
/* Connections accepted so far. */
int pgserver_accepted(struct pgserver *s);

/* A conninfo for a loopback port nothing listens on. */
const char *pgserver_closed_conninfo(void);

#endif
