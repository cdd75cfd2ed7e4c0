/* jobjson — a job's JSON text from its columns, as fs_job_json prints it (see jobjson.h). */
#include "gateway/jobs/jobjson.h"

#include <string.h>

#include "common/json_print.h"

enum kind {
    RAW,  /* written as it is: integers, and JSON text (jsonb columns, to_json timestamps) */
    TEXT, /* written as a JSON string */
    BOOL, /* "t" or "f" */
};

/* clang-format off */
#define FIELD(key, kind) {key, sizeof(key) - 1, kind}
/* clang-format on */

static const struct field {
    const char *key; /* with its quotes, the colon and the comma before it */
    size_t len;
    enum kind kind;
} fields[JOBJSON_NCOLUMNS] = {
    FIELD("{\"id\":", RAW),
    FIELD(",\"targetAgent\":", TEXT),
    FIELD(",\"payload\":", RAW),
    FIELD(",\"status\":", TEXT),
    FIELD(",\"priority\":", RAW),
    FIELD(",\"attempts\":", RAW),
    FIELD(",\"maxAttempts\":", RAW),
    FIELD(",\"timeoutSeconds\":", RAW),
    FIELD(",\"runAt\":", RAW),
    FIELD(",\"createdAt\":", RAW),
    FIELD(",\"startedAt\":", RAW),
    FIELD(",\"processedAt\":", RAW),
    FIELD(",\"lockedBy\":", TEXT),
    FIELD(",\"lockedUntil\":", RAW),
    FIELD(",\"idempotencyKey\":", TEXT),
    FIELD(",\"result\":", RAW),
    FIELD(",\"lastError\":", TEXT),
    FIELD(",\"cancelRequested\":", BOOL),
};

static int add_value(struct strbuf *b, enum kind kind, const PGresult *res, int row, int col)
{
    const char *v = PQgetvalue(res, row, col);
    if (PQgetisnull(res, row, col))
        return strbuf_add(b, "null", 4);
    switch (kind) {
    case TEXT: return json_print_string(b, v);
    case BOOL: return v[0] == 't' ? strbuf_add(b, "true", 4) : strbuf_add(b, "false", 5);
    case RAW: break;
    }
    return strbuf_add(b, v, (size_t)PQgetlength(res, row, col));
}

int jobjson_print(struct strbuf *b, const PGresult *res, int row, int col)
{
    if (col < 0 || PQnfields(res) < col + JOBJSON_NCOLUMNS || row < 0 || row >= PQntuples(res))
        return -1;
    size_t len = b->len, room = 0;
    for (int i = 0; i < JOBJSON_NCOLUMNS; i++) /* one allocation for the usual job */
        room += fields[i].len + (size_t)PQgetlength(res, row, col + i) + 6;
    int failed = strbuf_grow(b, room + 1);
    for (int i = 0; i < JOBJSON_NCOLUMNS && !failed; i++)
        failed = strbuf_add(b, fields[i].key, fields[i].len) |
                 add_value(b, fields[i].kind, res, row, col + i);
    if (failed || strbuf_add(b, "}", 1) < 0) {
        strbuf_truncate(b, len);
        return -1;
    }
    return 0;
}
