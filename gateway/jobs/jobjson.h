/* jobjson — a job's JSON document printed in C from its job_queue columns, byte for byte
 * the text fs_job_json (sql/002_jobs.sql) gives, for the plain group-commit
 * insert: row_to_json was a large share of that statement's work in PostgreSQL, and printing
 * the same text here costs a small fraction of it (docs/gateway.md has the figures).
 *
 * The statement returns JOBJSON_COLUMNS; timestamps come back already in their JSON form
 * (to_json, so PostgreSQL keeps deciding how a timestamp is written), jsonb as its text,
 * which row_to_json embeds unchanged. The key names and their order must follow
 * fs_job_doc; tests/integration/test_group_commit.py compares the two texts. */
#ifndef FLOWSTATE_JOBJSON_H
#define FLOWSTATE_JOBJSON_H

#include <libpq-fe.h>

#include "common/strbuf.h"

#define JOBJSON_COLUMNS                                                                            \
    "id, target_agent, payload, status, priority, attempts, max_attempts, timeout_seconds,"        \
    " to_json(run_at), to_json(created_at), to_json(started_at), to_json(processed_at),"           \
    " locked_by, to_json(locked_until), idempotency_key, result, last_error, cancel_requested"
#define JOBJSON_NCOLUMNS 18

/* Appends the job in row `row` of res, whose JOBJSON_COLUMNS start at column `col`, to b.
 * 0, or -1 when out of memory or res lacks the columns (b as it was). */
int jobjson_print(struct strbuf *b, const PGresult *res, int row, int col);

#endif
