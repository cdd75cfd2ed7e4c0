/* claimloop.c — the drain ceiling for `make bench`: what PostgreSQL allows for claiming and
 * completing jobs with no gateway and no HTTP. Claims up to 100 pending jobs of one agent
 * with SELECT … FOR UPDATE SKIP LOCKED (the order of Flowstate's claim index), marks them
 * running, then marks them completed in a second transaction, and repeats until a claim finds
 * nothing. Run several at once (the benchmark runs 2). Both statements are prepared once, as
 * Flowstate's own are: sent with PQexecParams they would be parsed and planned on every call,
 * and the ceiling would sit well below what PostgreSQL allows (docs/measurements.md).
 * Usage: claimloop DATABASE_URL [AGENT] [BATCH]; prints the number of jobs it completed. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgloop.h"

static const char CLAIM[] =
    "WITH c AS MATERIALIZED ("
    "  SELECT id FROM job_queue WHERE target_agent = $1 AND status = 'pending' AND run_at <= now()"
    "  ORDER BY priority DESC, run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)"
    " UPDATE job_queue j SET status = 'running', attempts = j.attempts + 1, started_at = now(),"
    "  locked_by = $3, locked_until = now() + interval '5 minutes'"
    " FROM c WHERE j.id = c.id RETURNING j.id";

static const char COMPLETE[] =
    "UPDATE job_queue SET status = 'completed', processed_at = now(), locked_by = NULL,"
    " locked_until = NULL, result = '{\"pong\":true}' WHERE id = ANY($1::bigint[]) AND status = 'running'";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATABASE_URL [AGENT] [BATCH]\n", argv[0]);
        return 2;
    }
    const char *agent = argc > 2 ? argv[2] : "code_analyzer";
    const char *batch = argc > 3 ? argv[3] : "100";
    PGconn *db = PQconnectdb(argv[1]);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "claimloop: %s", PQerrorMessage(db));
        return 1;
    }
    char me[64];
    snprintf(me, sizeof me, "claimloop:%ld", (long)getpid());
    size_t cap = 1 << 16;
    char *ids = malloc(cap);
    long total = 0;
    if (!pgloop_prepare("claimloop", db, "claim", CLAIM, 3) ||
        !pgloop_prepare("claimloop", db, "complete", COMPLETE, 1))
        return 1;
    for (;;) {
        const char *cp[3] = {agent, batch, me};
        PGresult *r = PQexecPrepared(db, "claim", 3, cp, NULL, NULL, 0);
        if (!pgloop_ok("claimloop", db, r, PGRES_TUPLES_OK))
            return 1;
        int n = PQntuples(r);
        if (n == 0) {
            PQclear(r);
            break;
        }
        size_t len = 0;
        ids[len++] = '{';
        for (int i = 0; i < n; i++) {
            const char *v = PQgetvalue(r, i, 0);
            size_t vl = strlen(v);
            if (len + vl + 3 > cap) {
                cap *= 2;
                ids = realloc(ids, cap);
            }
            if (i)
                ids[len++] = ',';
            memcpy(ids + len, v, vl);
            len += vl;
        }
        ids[len++] = '}';
        ids[len] = 0;
        PQclear(r);
        const char *up[1] = {ids};
        r = PQexecPrepared(db, "complete", 1, up, NULL, NULL, 0);
        if (!pgloop_ok("claimloop", db, r, PGRES_COMMAND_OK))
            return 1;
        PQclear(r);
        total += n;
    }
    printf("%ld\n", total);
    free(ids);
    PQfinish(db);
    return 0;
}
