/* pgloop.h — what the benchmark's C ceilings (claimloop.c, insertloop.c) share: checking a
 * libpq result and preparing a statement once, as Flowstate prepares its own. */
#ifndef FLOWSTATE_BENCH_PGLOOP_H
#define FLOWSTATE_BENCH_PGLOOP_H

#include <libpq-fe.h>
#include <stdio.h>

/* 1 when r has the status wanted; else prints the connection's error under prog's name. */
static int pgloop_ok(const char *prog, PGconn *db, PGresult *r, ExecStatusType want)
{
    if (PQresultStatus(r) != want) {
        fprintf(stderr, "%s: %s", prog, PQerrorMessage(db));
        return 0;
    }
    return 1;
}

static int pgloop_prepare(const char *prog, PGconn *db, const char *name, const char *sql,
                          int nparams)
{
    PGresult *r = PQprepare(db, name, sql, nparams, NULL);
    int good = pgloop_ok(prog, db, r, PGRES_COMMAND_OK);
    PQclear(r);
    return good;
}

#endif
