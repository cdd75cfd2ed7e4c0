/* keys — API key management for admins: create (the key is shown once), list, revoke. */
#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"
#include "gateway/handlers.h"
#include "gateway/http/auth.h"
#include "gateway/http/request.h"

/* POST /api/keys: the new key, shown once in the answer (only its hash is stored). */
struct key_create {
    char key[APIKEY_LEN + 1];
};

static const struct request_ctx_type key_create_ctx = {"key create", NULL};

static void create_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    const struct key_create *kc = request_ctx(r, &key_create_ctx);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        request_db_error(r, res);
        return;
    }
    /* {"key":"fsk_…", + the stored key's JSON without its opening brace */
    struct evbuffer *buf = evhttp_request_get_output_buffer(r->req);
    evbuffer_add_printf(buf, "{\"key\":\"%s\",", kc->key);
    const char *json = PQgetvalue(res, 0, 0);
    request_reply(r, 201, json + 1, strlen(json + 1));
}

void keys_create(struct request *r)
{
    struct field_error err;
    const char *role_name = NULL, *name = "";
    enum role role;
    if (json_get_string(r->body, "role", true, 1, 16, &role_name, &err) < 0 ||
        json_get_string(r->body, "name", false, 0, 200, &name, &err) < 0) {
        request_field_error(r, &err);
        return;
    }
    if (apikey_role_parse(role_name, &role) < 0) {
        request_error(r, 400, "invalid_field", "role",
                      "role must be one of admin, operator, agent, viewer");
        return;
    }
    struct key_create *kc = request_ctx_new(r, &key_create_ctx, sizeof(*kc));
    if (!kc) {
        request_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    char hash[APIKEY_HASH_HEX_LEN + 1], prefix[APIKEY_SHOWN_PREFIX_LEN + 1];
    if (apikey_generate(kc->key) < 0) {
        request_error(r, 500, "internal", NULL, "no randomness available");
        return;
    }
    apikey_hash(kc->key, strlen(kc->key), hash);
    apikey_shown_prefix(kc->key, prefix);
    const char *params[4] = {name, role_name, hash, prefix};
    if (pgpool_query(r->gw->pool, Q_KEY_INSERT, 4, params, create_done, r) < 0)
        request_unavailable(r);
}

void keys_list(struct request *r) { request_query_body(r, Q_KEYS_LIST, 0, NULL, 200); }

static void revoke_done(PGresult *res, void *arg)
{
    struct request *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        request_db_error(r, res);
        return;
    }
    if (PQntuples(res) == 0) {
        request_error(r, 404, "not_found", NULL, "no such key");
        return;
    }
    authcache_evict(r->gw->auth, PQgetvalue(res, 0, 1));
    request_reply(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

void keys_revoke(struct request *r)
{
    char id[24];
    if (request_path_id(r, "id", id, sizeof(id)) < 0)
        return;
    const char *params[1] = {id};
    if (pgpool_query(r->gw->pool, Q_KEY_REVOKE, 1, params, revoke_done, r) < 0)
        request_unavailable(r);
}
