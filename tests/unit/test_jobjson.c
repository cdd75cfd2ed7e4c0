/* jobjson: the job text printed from a row of JOBJSON_COLUMNS (built with libpq's PGresult
 * constructors): every key in fs_job_doc's order, NULLs, escaped text, JSON and timestamps
 * copied as PostgreSQL wrote them, booleans; a result without the columns is refused and
 * leaves the buffer as it was. Byte equality with fs_job_json itself is checked against a
 * real database by tests/integration/test_group_commit.py. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/jobs/jobjson.h"
#include "tests/unit/harness.h"

/* values[i] for column i; NULL is SQL NULL. */
static PGresult *row_of(int ncols, const char *const *values)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc cols[JOBJSON_NCOLUMNS + 1];
    char names[JOBJSON_NCOLUMNS + 1][16], text[256];
    for (int i = 0; i < ncols; i++) {
        snprintf(names[i], sizeof(names[i]), "c%d", i);
        cols[i] = (PGresAttDesc){.name = names[i], .typid = 25, .typlen = -1, .atttypmod = -1};
    }
    if (!res || !PQsetResultAttrs(res, ncols, cols)) {
        PQclear(res);
        return NULL;
    }
    for (int i = 0; i < ncols; i++) {
        if (values[i])
            snprintf(text, sizeof(text), "%s", values[i]);
        if (!PQsetvalue(res, 0, i, values[i] ? text : NULL, values[i] ? (int)strlen(text) : -1)) {
            PQclear(res);
            return NULL;
        }
    }
    return res;
}

/* Prints the job whose columns start at column col of a one-row result of these values. */
static void check_printed(int ncols, const char *const *values, int col, const char *want)
{
    PGresult *res = row_of(ncols, values);
    REQUIRE(res != NULL);
    struct strbuf b = {0};
    CHECK_LONG(jobjson_print(&b, res, 0, col), 0);
    CHECK_STR(b.p, want);
    free(b.p);
    PQclear(res);
}

static void test_new_job(const void *arg)
{
    (void)arg;
    const char *v[JOBJSON_NCOLUMNS] = {"42",
                                       "code_analyzer",
                                       "{\"a\": [1, 2.50]}",
                                       "pending",
                                       "2",
                                       "0",
                                       "3",
                                       NULL,
                                       "\"2031-05-06T07:08:09.5+00:00\"",
                                       "\"2026-11-22T02:00:00.123456+00:00\"",
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       "f"};
    check_printed(JOBJSON_NCOLUMNS, v, 0,
                  "{\"id\":42,\"targetAgent\":\"code_analyzer\",\"payload\":{\"a\": [1, 2.50]},"
                  "\"status\":\"pending\",\"priority\":2,\"attempts\":0,\"maxAttempts\":3,"
                  "\"timeoutSeconds\":null,\"runAt\":\"2031-05-06T07:08:09.5+00:00\","
                  "\"createdAt\":\"2026-11-22T02:00:00.123456+00:00\",\"startedAt\":null,"
                  "\"processedAt\":null,\"lockedBy\":null,\"lockedUntil\":null,"
                  "\"idempotencyKey\":null,\"result\":null,\"lastError\":null,"
                  "\"cancelRequested\":false}");
}

static void test_every_column_set(const void *arg)
{
    (void)arg;
    /* a column offset too: the job's columns start at column 1 */
    const char *v[JOBJSON_NCOLUMNS + 1] = {"x",
                                           "7",
                                           "a.b-c_d",
                                           "{}",
                                           "running",
                                           "0",
                                           "1",
                                           "1",
                                           "86400",
                                           "\"infinity\"",
                                           "\"0044-03-15T12:00:00.5+00:00 BC\"",
                                           "\"2030-01-02T03:04:05.678901+00:00\"",
                                           "\"2030-01-02T03:04:06+00:00\"",
                                           "w\"\\/\n\t\x01\x1f\xc3\xa9",
                                           "\"2030-01-02T03:09:06+00:00\"",
                                           "key \"1\"",
                                           "[null, true]",
                                           "line1\r\nline2\b\f",
                                           "t"};
    check_printed(JOBJSON_NCOLUMNS + 1, v, 1,
                  "{\"id\":7,\"targetAgent\":\"a.b-c_d\",\"payload\":{},\"status\":\"running\","
                  "\"priority\":0,\"attempts\":1,\"maxAttempts\":1,\"timeoutSeconds\":86400,"
                  "\"runAt\":\"infinity\",\"createdAt\":\"0044-03-15T12:00:00.5+00:00 BC\","
                  "\"startedAt\":\"2030-01-02T03:04:05.678901+00:00\","
                  "\"processedAt\":\"2030-01-02T03:04:06+00:00\","
                  "\"lockedBy\":\"w\\\"\\\\/\\n\\t\\u0001\\u001f\xc3\xa9\","
                  "\"lockedUntil\":\"2030-01-02T03:09:06+00:00\","
                  "\"idempotencyKey\":\"key \\\"1\\\"\",\"result\":[null, true],"
                  "\"lastError\":\"line1\\r\\nline2\\b\\f\",\"cancelRequested\":true}");
}

static void test_refuses_missing_columns(const void *arg)
{
    (void)arg;
    const char *v[JOBJSON_NCOLUMNS] = {"1"};
    PGresult *res = row_of(JOBJSON_NCOLUMNS - 1, v);
    REQUIRE(res != NULL);
    struct strbuf b = {0};
    REQUIRE(strbuf_add(&b, "kept", 4) == 0);
    CHECK_LONG(jobjson_print(&b, res, 0, 0), -1);
    CHECK_LONG(jobjson_print(&b, res, 1, 0), -1);
    CHECK_STR(b.p, "kept");
    free(b.p);
    PQclear(res);
    res = row_of(JOBJSON_NCOLUMNS, v);
    REQUIRE(res != NULL);
    b = (struct strbuf){0};
    CHECK_LONG(jobjson_print(&b, res, 0, 1), -1); /* one column short from there */
    CHECK_LONG(jobjson_print(&b, res, 1, 0), -1); /* no such row */
    CHECK_LONG(jobjson_print(&b, res, 0, -1), -1);
    CHECK_LONG((long)b.len, 0);
    free(b.p);
    PQclear(res);
}

void register_jobjson_tests(void)
{
    test_add("jobjson a new job", test_new_job, NULL);
    test_add("jobjson every column set, escapes, offset", test_every_column_set, NULL);
    test_add("jobjson refuses a result without the columns", test_refuses_missing_columns, NULL);
}
