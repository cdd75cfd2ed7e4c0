/* shared — shared memory: JSON values under keys, scoped to a workflow run or a
 * conversation, each with a version for compare-and-set.
 *
 *   GET    /api/memory/shared/:scope/:scopeId        the scope's entries by key (cursor)
 *   GET    /api/memory/shared/:scope/:scopeId/:key   one entry; ETag: "<version>"
 *   PUT    …/:key {"value": any, "expectedVersion"?}  write; If-Match works as expectedVersion
 *   DELETE …/:key ?expectedVersion= or If-Match      delete
 *
 * A write whose expected version does not match answers 409 version_conflict with the
 * current version and changes nothing. The check and the write are one statement in
 * PostgreSQL (fs_shared_put, fs_shared_delete in sql/007_shared_memory.sql), so of several
 * writers that read the same version exactly one succeeds. */
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_print.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"
#include "gateway/memory/sharedargs.h"

#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 500

/* A write in flight: where its expected version came from, for a conflict's "field". */
struct shared_write {
    const char *expected_field; /* "expectedVersion", "If-Match" or NULL (unconditional) */
};

static const struct request_ctx_type shared_write_ctx = {"shared memory write", NULL};

/* Reads the path's scope, scopeId and (with_key) key. Returns 0, or -1 having answered 400. */
static int read_path(struct request *r, bool with_key, const char **scope, const char **scope_id,
                     const char **key)
{
    struct field_error err;
    *scope = router_param(&r->match, "scope");
    *scope_id = router_param(&r->match, "scopeId");
    *key = with_key ? router_param(&r->match, "key") : NULL;
    if (sharedargs_path(*scope, *scope_id, with_key && !*key ? "" : *key, &err) < 0) {
        request_field_error(r, &err);
        return -1;
    }
    return 0;
}

/* The expected version of a write: given (has) as v, expectedVersion in the body or query
 * string, and/or as the If-Match header. Returns 1 with the version as text in buf (len
 * bytes) and *from (the field it came from) set, 0 when neither gives one (*from NULL), or -1
 * having answered 400 (a malformed header; two versions that differ). */
static int expected_version(struct request *r, int has, long long v, char *buf, size_t len,
                            const char **from)
{
    struct field_error err;
    long long h = 0;
    const char *header = evhttp_find_header(evhttp_request_get_input_headers(r->req), "If-Match");
    int has_h = sharedargs_if_match(header, &h, &err);
    if (has_h < 0) {
        request_field_error(r, &err);
        return -1;
    }
    if (has && has_h && v != h) {
        request_error(r, 400, "invalid_field", "If-Match",
                      "If-Match (%lld) and expectedVersion (%lld) name different versions", h, v);
        return -1;
    }
    snprintf(buf, len, "%lld", has ? v : h);
    *from = has ? "expectedVersion" : has_h ? "If-Match" : NULL;
    return has || has_h;
}

static void add_etag(struct request *r, const char *version)
{
    char tag[32];
    snprintf(tag, sizeof(tag), "\"%s\"", version);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "ETag", tag);
}

static void not_found(struct request *r)
{
    request_error(r, 404, "not_found", NULL, "no key %s in %s %s", router_param(&r->match, "key"),
                  router_param(&r->match, "scope"), router_param(&r->match, "scopeId"));
}

/* 409 version_conflict with the entry's current version (0: the key is absent). The path's
 * parts are identifiers and current is digits, so the text needs no escaping. */
static void conflict(struct request *r, const char *field, const char *current)
{
    char what[48], body[700];
    if (strcmp(current, "0") == 0)
        snprintf(what, sizeof(what), "does not exist");
    else
        snprintf(what, sizeof(what), "is at version %s", current);
    int n = snprintf(body, sizeof(body),
                     "{\"error\":{\"code\":\"version_conflict\",\"message\":\"key %s %s\","
                     "\"field\":\"%s\",\"currentVersion\":%s}}",
                     router_param(&r->match, "key"), what, field, current);
    request_reply(r, 409, body, (size_t)n);
}

static void get_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    if (PQntuples(res) == 0) {
        not_found(r);
        return;
    }
    add_etag(r, PQgetvalue(res, 0, 1));
    request_reply(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* fs_shared_put / fs_shared_delete answer one row: outcome, version, entry. */
static void write_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        request_db_error(r, res);
        return;
    }
    const char *outcome = PQgetvalue(res, 0, 0), *version = PQgetvalue(res, 0, 1);
    if (strcmp(outcome, "conflict") == 0) {
        const struct shared_write *w = request_ctx(r, &shared_write_ctx);
        conflict(r, w && w->expected_field ? w->expected_field : "expectedVersion", version);
        return;
    }
    if (strcmp(outcome, "not_found") == 0) {
        not_found(r);
        return;
    }
    if (strcmp(outcome, "deleted") != 0)
        add_etag(r, version);
    request_reply(r, strcmp(outcome, "created") == 0 ? 201 : 200, PQgetvalue(res, 0, 2),
                  (size_t)PQgetlength(res, 0, 2));
}

/* Submits a write with its expected version's source remembered for a conflict. */
static void submit_write(struct request *r, int stmt, int nparams, const char *const *params,
                         const char *expected_field)
{
    struct shared_write *w = request_ctx_new(r, &shared_write_ctx, sizeof(*w));
    if (!w) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    w->expected_field = expected_field;
    if (pgpool_query(r->gw->pool, stmt, nparams, params, write_done, r) < 0)
        request_unavailable(r);
}

void shared_get(struct request *r)
{
    const char *scope, *scope_id, *key;
    if (read_path(r, true, &scope, &scope_id, &key) < 0)
        return;
    const char *params[3] = {scope, scope_id, key};
    if (pgpool_query(r->gw->pool, Q_SHARED_GET, 3, params, get_done, r) < 0)
        request_unavailable(r);
}

/* PUT body: {"value": any JSON (null too), "expectedVersion"?: 0.., "updatedBy"?: name}. */
void shared_put(struct request *r)
{
    const char *scope, *scope_id, *key;
    if (read_path(r, true, &scope, &scope_id, &key) < 0)
        return;
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(r->body, "value");
    if (!value) {
        request_error(r, 400, "invalid_field", "value", "value is required (any JSON value)");
        return;
    }
    struct field_error err;
    long expected = 0;
    const char *by = NULL;
    int has =
        json_get_int(r->body, "expectedVersion", false, 0, SHAREDARGS_VERSION_MAX, &expected, &err);
    if (has < 0 || json_get_string(r->body, "updatedBy", false, 1, AGENT_NAME_MAX, &by, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    if (by && request_check_agent_name(r, by, "updatedBy") < 0)
        return;
    char version[24];
    const char *from;
    int has_version = expected_version(r, has, expected, version, sizeof(version), &from);
    if (has_version < 0)
        return;
    char *text = json_print(value);
    if (!text) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    const char *params[6] = {scope, scope_id, key, text, has_version ? version : NULL, by};
    submit_write(r, Q_SHARED_PUT, 6, params, from);
    free(text); /* libpq copied it when the query was sent or queued */
}

/* DELETE ?expectedVersion=n (1..) or If-Match. */
void shared_delete(struct request *r)
{
    const char *scope, *scope_id, *key;
    if (read_path(r, true, &scope, &scope_id, &key) < 0)
        return;
    long expected = 0;
    int has = request_query_int(r, "expectedVersion", 1, SHAREDARGS_VERSION_MAX, &expected);
    if (has < 0)
        return;
    char version[24];
    const char *from;
    int has_version = expected_version(r, has, expected, version, sizeof(version), &from);
    if (has_version < 0)
        return;
    if (has_version && strcmp(version, "0") == 0) { /* "only while absent" deletes nothing */
        request_error(r, 400, "invalid_field", "If-Match",
                      "If-Match must name a version from 1 to delete");
        return;
    }
    const char *params[4] = {scope, scope_id, key, has_version ? version : NULL};
    submit_write(r, Q_SHARED_DELETE, 4, params, from);
}

/* GET …/:scope/:scopeId?limit=&cursor= (the last key of the previous page). */
void shared_list(struct request *r)
{
    const char *scope, *scope_id, *key;
    if (read_path(r, false, &scope, &scope_id, &key) < 0)
        return;
    struct page_query pq;
    if (request_page_query(r, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, false, &pq) < 0)
        return;
    const char *cursor = request_query_param(r, "cursor");
    if (cursor && !json_is_identifier(cursor, SHAREDARGS_NAME_MAX)) {
        request_error(r, 400, "invalid_field", "cursor",
                      "cursor must be a key, as nextCursor gives it");
        return;
    }
    const char *params[5] = {scope, scope_id, cursor, pq.limit, r->gw->response_budget};
    request_query_body(r, Q_SHARED_LIST, 5, params, 200);
}
