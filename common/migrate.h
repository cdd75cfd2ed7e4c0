/* migrate — applies the numbered migrations compiled in from sql/ (see sql/embed.sh): in
 * order, each in its own transaction, recorded in schema_migrations with the SHA-256 of its
 * text, under an advisory lock so two processes starting together do not race. Before
 * applying anything it checks what the database already holds, and refuses (changing
 * nothing) when an applied migration's text has changed since, when the database records a
 * migration this build does not have, or when it was created by the numbering that preceded
 * the current baseline. Blocking libpq: call it before any event loop runs, never from one. */
#ifndef FLOWSTATE_MIGRATE_H
#define FLOWSTATE_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

struct migration {
    int version;
    const char *name; /* the file's name without .sql, e.g. "002_jobs" */
    const char *sql;  /* the file's text */
};

extern const struct migration migrations[];
extern const int migrations_count;

/* Length of a checksum: lowercase hex SHA-256 and its NUL. */
#define MIGRATE_CHECKSUM_LEN 65

/* Writes the checksum recorded for a migration's text (the SHA-256 of the file). */
void migrate_checksum(const char *sql, char out[MIGRATE_CHECKSUM_LEN]);

/* Applies every migration not yet recorded. Returns the number applied (>= 0), or -1 with a
 * message in err (a failing migration was rolled back; a refusal changed nothing). */
int migrate_apply(PGconn *conn, char *err, size_t errlen);

/* Connects with a blocking libpq call, retrying once a second for up to wait_seconds while
 * the server is not reachable. Returns a connection, or NULL with the last error in err. */
PGconn *migrate_connect(const char *conninfo, int wait_seconds, char *err, size_t errlen);

#endif
