/* migrate — the schema migrator: advisory lock, schema_migrations, one transaction each. */
#include "common/migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* Any constant will do as long as every Flowstate process uses the same one. */
#define MIGRATE_LOCK_KEY "7423701"

static bool exec_ok(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%s", PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

int migrate_apply(PGconn *conn, char *err, size_t errlen)
{
    int applied = 0;
    char sql[256];
    if (!exec_ok(conn, "SET client_min_messages = warning", err, errlen) ||
        !exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen) ||
        !exec_ok(conn,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                 err, errlen))
        goto fail;

    for (int i = 0; i < migrations_count; i++) {
        const struct migration *m = &migrations[i];
        snprintf(sql, sizeof(sql), "SELECT 1 FROM schema_migrations WHERE version = %d",
                 m->version);
        PGresult *res = PQexec(conn, sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            snprintf(err, errlen, "%s", PQresultErrorMessage(res));
            PQclear(res);
            goto fail;
        }
        bool done = PQntuples(res) > 0;
        PQclear(res);
        if (done)
            continue;
        snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')",
                 m->version, m->name);
        if (!exec_ok(conn, "BEGIN", err, errlen))
            goto fail;
        if (!exec_ok(conn, m->sql, err, errlen) || !exec_ok(conn, sql, err, errlen)) {
            char detail[512];
            snprintf(detail, sizeof(detail), "%s", err);
            chomp(detail);
            snprintf(err, errlen, "migration %s failed: %s", m->name, detail);
            char ignored[64];
            exec_ok(conn, "ROLLBACK", ignored, sizeof(ignored));
            goto fail;
        }
        if (!exec_ok(conn, "COMMIT", err, errlen))
            goto fail;
        log_info("msg=\"migration applied\" version=%d name=%s", m->version, m->name);
        applied++;
    }
    char ignored[64];
    exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", ignored, sizeof(ignored));
    return applied;

fail:
    chomp(err);
    /* The lock is session-scoped; closing the connection releases it as well. */
    exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", sql, sizeof(sql));
    return -1;
}

PGconn *migrate_connect(const char *conninfo, int wait_seconds, char *err, size_t errlen)
{
    for (int attempt = 0;; attempt++) {
        PGconn *conn = PQconnectdb(conninfo);
        if (PQstatus(conn) == CONNECTION_OK)
            return conn;
        snprintf(err, errlen, "%s", PQerrorMessage(conn));
        chomp(err);
        PQfinish(conn);
        if (attempt >= wait_seconds)
            return NULL;
        if (attempt == 0)
            log_warn("msg=\"database not reachable yet, waiting\" wait_s=%d", wait_seconds);
        sleep(1);
    }
}
