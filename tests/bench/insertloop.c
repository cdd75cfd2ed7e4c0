/* insertloop.c — the single-job enqueue ceiling for `make bench`: what PostgreSQL allows for
 * durable inserts of ping jobs in groups, with no gateway and no HTTP. Each statement is one
 * multi-row INSERT into job_queue (its indexes and its announce trigger included, as in
 * Flowstate) that returns the new ids, committed on its own (synchronous_commit as the
 * cluster has it). It is what a group commit would cost if the gateway's own work took no
 * time. 32 closed-loop HTTP clients form groups of at most 32 with one group-commit statement
 * in flight (the gateway's default), 16 with two, 8 with four: the benchmark runs each shape
 * (that many of these processes, with that GROUP) and takes the best.
 * Usage: insertloop DATABASE_URL AGENT GROUP SECONDS; prints "ROWS SECONDS": the jobs it
 * inserted and the wall time it took. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pgloop.h"

static const char INSERT[] = "INSERT INTO job_queue (target_agent, payload)"
                             " SELECT $1, $2::jsonb FROM generate_series(1, $3::int) RETURNING id";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 5 || atoi(argv[3]) < 1 || atof(argv[4]) <= 0) {
        fprintf(stderr, "usage: %s DATABASE_URL AGENT GROUP SECONDS\n", argv[0]);
        return 2;
    }
    PGconn *db = PQconnectdb(argv[1]);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "insertloop: %s", PQerrorMessage(db));
        return 1;
    }
    if (!pgloop_prepare("insertloop", db, "insert", INSERT, 3))
        return 1;
    const char *params[3] = {argv[2], "{\"taskType\": \"ping\"}", argv[3]};
    int group = atoi(argv[3]);
    double start = now_s(), until = start + atof(argv[4]), end;
    long rows = 0;
    do {
        PGresult *r = PQexecPrepared(db, "insert", 3, params, NULL, NULL, 0);
        if (!pgloop_ok("insertloop", db, r, PGRES_TUPLES_OK) || PQntuples(r) != group)
            return 1;
        PQclear(r);
        rows += group;
        end = now_s();
    } while (end < until);
    printf("%ld %.6f\n", rows, end - start);
    PQfinish(db);
    return 0;
}
