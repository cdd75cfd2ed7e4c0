/* migrate — the schema migrator: advisory lock, a check of what schema_migrations records
 * (see migrate.h), then each missing migration in its own transaction. */
#include "common/migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/apikey.h"
#include "common/log.h"

/* Any constant will do as long as every Flowstate process uses the same one. */
#define MIGRATE_LOCK_KEY "7423701"

/* What to do about a database this build cannot migrate: nothing is deployed yet, so there
 * is no data to carry over. */
#define MIGRATE_ADVICE                                                                             \
    "drop and recreate the database (e.g. dropdb and createdb; for make run, delete ./var/pg),"    \
    " then start again"

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

void migrate_checksum(const char *sql, char out[MIGRATE_CHECKSUM_LEN])
{
    _Static_assert(MIGRATE_CHECKSUM_LEN == APIKEY_HASH_HEX_LEN + 1, "hex SHA-256");
    apikey_hash(sql, strlen(sql), out); /* the lowercase hex SHA-256 of any bytes */
}

static const struct migration *find_migration(int version)
{
    for (int i = 0; i < migrations_count; i++)
        if (migrations[i].version == version)
            return &migrations[i];
    return NULL;
}

/* Checks the migrations the database records against this build's and marks the applied
 * ones in applied[] (indexed like migrations[]); creates schema_migrations in a new
 * database. Returns false with the reason in err when the database cannot be migrated, in
 * which case it has changed nothing. */
static bool read_applied(PGconn *conn, bool *applied, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, "SELECT t.oid IS NOT NULL, EXISTS (SELECT 1 FROM pg_attribute a"
                                 "  WHERE a.attrelid = t.oid AND a.attname = 'checksum'"
                                 "    AND NOT a.attisdropped)"
                                 " FROM (SELECT to_regclass('schema_migrations') AS oid) t");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(res));
        PQclear(res);
        return false;
    }
    bool exists = PQgetvalue(res, 0, 0)[0] == 't', has_checksums = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    if (!exists)
        return exec_ok(conn,
                       "CREATE TABLE schema_migrations ("
                       " version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
                       " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                       err, errlen);
    if (!has_checksums) {
        snprintf(err, errlen,
                 "the database was migrated by an earlier Flowstate, whose migrations"
                 " (001_core to 013_inlined_row_json) are now folded into one baseline"
                 " (sql/001_tables.sql onwards) that cannot be applied on top of them;"
                 " " MIGRATE_ADVICE);
        return false;
    }

    res = PQexec(conn, "SELECT version, name, checksum FROM schema_migrations ORDER BY version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(res));
        PQclear(res);
        return false;
    }
    bool ok = true;
    for (int r = 0; ok && r < PQntuples(res); r++) {
        int version = atoi(PQgetvalue(res, r, 0));
        const char *name = PQgetvalue(res, r, 1), *recorded = PQgetvalue(res, r, 2);
        const struct migration *m = find_migration(version);
        char now[MIGRATE_CHECKSUM_LEN];
        if (!m || strcmp(m->name, name) != 0) {
            snprintf(
                err, errlen,
                "the database records migration %s.sql (version %d), which this build does"
                " not have: a different Flowstate migrated it; run that build, or " MIGRATE_ADVICE,
                name, version);
            ok = false;
        } else if (migrate_checksum(m->sql, now), strcmp(now, recorded) != 0) {
            snprintf(err, errlen,
                     "sql/%s.sql has changed since it was applied to this database (checksum"
                     " %.12s... then, %.12s... now): an applied migration is never edited; restore"
                     " the file and put the change in a new migration, or " MIGRATE_ADVICE,
                     m->name, recorded, now);
            ok = false;
        } else {
            applied[m - migrations] = true;
        }
    }
    PQclear(res);
    return ok;
}

static bool apply_one(PGconn *conn, const struct migration *m, char *err, size_t errlen)
{
    char version[16], checksum[MIGRATE_CHECKSUM_LEN];
    snprintf(version, sizeof(version), "%d", m->version);
    migrate_checksum(m->sql, checksum);
    const char *params[3] = {version, m->name, checksum};
    if (!exec_ok(conn, "BEGIN", err, errlen))
        return false;
    bool ok = exec_ok(conn, m->sql, err, errlen);
    if (ok) {
        PGresult *res = PQexecParams(conn,
                                     "INSERT INTO schema_migrations (version, name, checksum)"
                                     " VALUES ($1::int, $2::text, $3::text)",
                                     3, NULL, params, NULL, NULL, 0);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, errlen, "%s", PQresultErrorMessage(res));
        PQclear(res);
    }
    if (!ok) {
        char detail[512];
        snprintf(detail, sizeof(detail), "%s", err);
        chomp(detail);
        snprintf(err, errlen, "migration %s failed: %s", m->name, detail);
        char ignored[64];
        exec_ok(conn, "ROLLBACK", ignored, sizeof(ignored));
        return false;
    }
    return exec_ok(conn, "COMMIT", err, errlen);
}

int migrate_apply(PGconn *conn, char *err, size_t errlen)
{
    int applied_now = 0;
    char ignored[64];
    bool *applied = calloc((size_t)migrations_count + 1, sizeof(bool));
    if (!applied) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!exec_ok(conn, "SET client_min_messages = warning", err, errlen) ||
        !exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen) ||
        !read_applied(conn, applied, err, errlen))
        goto fail;

    for (int i = 0; i < migrations_count; i++) {
        const struct migration *m = &migrations[i];
        if (applied[i])
            continue;
        if (!apply_one(conn, m, err, errlen))
            goto fail;
        log_info("msg=\"migration applied\" version=%d name=%s", m->version, m->name);
        applied_now++;
    }
    free(applied);
    exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", ignored, sizeof(ignored));
    return applied_now;

fail:
    free(applied);
    chomp(err);
    /* The lock is session-scoped; closing the connection releases it as well. */
    exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", ignored, sizeof(ignored));
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
