/* migrate — applies the numbered migrations compiled in from sql/ (see sql/embed.sh): in
 * order, each in its own transaction, recorded in schema_migrations, under an advisory lock
 * so two processes starting together do not race. Blocking libpq: call it before any event
 * loop runs, never from one. */
#ifndef FLOWSTATE_MIGRATE_H
#define FLOWSTATE_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

struct migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct migration migrations[];
extern const int migrations_count;

/* Applies every migration not yet recorded. Returns the number applied (>= 0), or -1 with a
 * message in err (the failing migration was rolled back). */
int migrate_apply(PGconn *conn, char *err, size_t errlen);

/* Connects with a blocking libpq call, retrying once a second for up to wait_seconds while
 * the server is not reachable. Returns a connection, or NULL with the last error in err. */
PGconn *migrate_connect(const char *conninfo, int wait_seconds, char *err, size_t errlen);

#endif
