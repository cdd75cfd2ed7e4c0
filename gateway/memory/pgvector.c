/* pgvector — probing for the pgvector column and the statements that rank with it (see
 * pgvector.h). The statements are templates in which @M stands for the provider's model
 * (as an SQL literal) and @N for its dimension: the HNSW index is a partial expression
 * index (sql/003_memory.sql), so the planner uses it only when the query names the
 * same expression, embedding_vec::vector(N), and a WHERE clause that implies the index's
 * predicate, embedding_model = 'model' AND vector_dims(embedding_vec) = N, with constants. */
#include "gateway/memory/pgvector.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/embed.h"
#include "common/log.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"
#include "gateway/memory/search_sql.h"

struct pgvector {
    struct pgpool *pool;
    bool on;      /* the last probe found the column */
    bool probing; /* a probe is in flight */
    char *sql[PGV__COUNT];
};

/* The filters (search_sql.h) plus the index's predicate. */
/* clang-format off */
#define PGV_MATCH(d)                                                                           \
    d ".embedding_model = @M AND vector_dims(" d ".embedding_vec) = @N AND " MEMORY_MATCH(d)
/* clang-format on */
/* Cosine distance to q: the index's expression on the left. */
#define PGV_DIST(q) "(d.embedding_vec::vector(@N) <=> " q ")"
/* A zero vector has no cosine (pgvector answers NaN, which PostgreSQL orders above every
 * number): the exact path scores it 0, so it never ranks. */
#define PGV_RANKS(x) x ".score > 0 AND " x ".score <> 'NaN'::float8"

/* clang-format off */
static const char *const templates[PGV__COUNT] = {
    /* Q_DOCUMENTS_SEMANTIC: $7 the query vector, $8 model, $9 limit. */
    [PGV_SEMANTIC] =
        "SELECT row_to_json(page) FROM (SELECT 'semantic' AS mode, $8::text AS model,"
        "  " SCORED_DOCUMENTS_JSON " AS documents"
        " FROM (SELECT x.id, x.score FROM"
        "        (SELECT d.id, 1 - " PGV_DIST("$7::vector(@N)") " AS score"
        "         FROM documents d WHERE " PGV_MATCH("d")
        "         ORDER BY " PGV_DIST("$7::vector(@N)") " LIMIT $9::int) x"
        "       WHERE " PGV_RANKS("x") ") s"
        " JOIN documents d ON d.id = s.id) page",

    /* Q_DOCUMENTS_HYBRID: $7 text, $8 query vector, $9 model, $10 limit, $11 depth, $12 wk,
     * $13 ws. */
    [PGV_HYBRID] =
        HYBRID_KEYWORD_CTE
        " sem AS ("
        "  SELECT x.id, row_number() OVER (ORDER BY x.score DESC, x.id DESC) AS r"
        "  FROM (SELECT d.id, 1 - " PGV_DIST("$8::vector(@N)") " AS score"
        "        FROM documents d WHERE " PGV_MATCH("d")
        "        ORDER BY " PGV_DIST("$8::vector(@N)") " LIMIT $11::int) x"
        "  WHERE " PGV_RANKS("x") " ORDER BY x.score DESC, x.id DESC LIMIT $11::int),"
        HYBRID_FUSION,

    /* Q_DOCUMENT_SIMILAR: $7 the source document, $8 limit. A source of another model (or
     * without a vector) is answered by the exact scan, as Q_DOCUMENT_SIMILAR would. */
    [PGV_SIMILAR] =
        "SELECT CASE WHEN src.id IS NOT NULL THEN (SELECT row_to_json(page) FROM (SELECT"
        "  src.id, src.embedding_model AS model,"
        "  CASE WHEN src.embedding_model = @M AND vector_dims(src.embedding_vec) = @N THEN"
        "  (SELECT " SCORED_DOCUMENTS_JSON
        "   FROM (SELECT x.id, x.score FROM"
        "          (SELECT d.id, 1 - " PGV_DIST("src.embedding_vec::vector(@N)") " AS score"
        "           FROM documents d WHERE " PGV_MATCH("d") " AND d.id <> src.id"
        "           ORDER BY " PGV_DIST("src.embedding_vec::vector(@N)") " LIMIT $8::int) x"
        "         WHERE " PGV_RANKS("x") ") s"
        "   JOIN documents d ON d.id = s.id)"
        "  ELSE"
        "  (SELECT " SCORED_DOCUMENTS_JSON
        "   FROM (SELECT x.id, x.score FROM"
        "          (SELECT d.id, fs_embedding_dot(d.embedding, src.embedding) AS score"
        "           FROM documents d WHERE d.embedding_model = src.embedding_model"
        "             AND d.id <> src.id AND " MEMORY_MATCH("d") " OFFSET 0) x"
        "         WHERE x.score > 0 ORDER BY x.score DESC, x.id DESC LIMIT $8::int) s"
        "   JOIN documents d ON d.id = s.id) END AS documents) page) END"
        " FROM (SELECT 1) one LEFT JOIN documents src ON src.id = $7::bigint",
};
/* clang-format on */

/* template with @M replaced by model (quoted) and @N by dims. NULL on allocation failure. */
static char *expand(const char *template, const char *model, int dims)
{
    size_t size = strlen(template) + 1;
    for (const char *t = template; (t = strchr(t, '@')) != NULL; t++)
        size += 2 * strlen(model) + 16;
    char *out = malloc(size), *o = out;
    if (!out)
        return NULL;
    for (const char *t = template; *t; t++) {
        if (t[0] == '@' && t[1] == 'M') {
            *o++ = '\'';
            for (const char *m = model; *m; m++)
                if ((*o++ = *m) == '\'')
                    *o++ = '\'';
            *o++ = '\'';
            t++;
        } else if (t[0] == '@' && t[1] == 'N') {
            o += sprintf(o, "%d", dims);
            t++;
        } else {
            *o++ = *t;
        }
    }
    *o = '\0';
    return out;
}

struct pgvector *pgvector_new(struct pgpool *pool, const struct embed_provider *p)
{
    struct pgvector *pv = calloc(1, sizeof(*pv));
    if (!pv || !p) {
        free(pv);
        return NULL;
    }
    pv->pool = pool;
    for (int i = 0; i < PGV__COUNT; i++)
        if (!(pv->sql[i] = expand(templates[i], p->model, p->dims))) {
            pgvector_free(pv);
            return NULL;
        }
    return pv;
}

void pgvector_free(struct pgvector *pv)
{
    if (!pv)
        return;
    for (int i = 0; i < PGV__COUNT; i++)
        free(pv->sql[i]);
    free(pv);
}

static void probed(PGresult *res, void *arg)
{
    struct pgvector *pv = arg;
    pv->probing = false;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        char msg[512];
        log_warn("msg=\"pgvector probe failed; keeping the previous answer\" on=%s error=%s",
                 pv->on ? "true" : "false",
                 log_quote(res ? PQresultErrorMessage(res) : "no connection", msg, sizeof(msg)));
        return;
    }
    bool on = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    if (on != pv->on || !on)
        log_info("msg=\"pgvector search path %s\"",
                 on ? "on (documents.embedding_vec exists)"
                    : "off (no documents.embedding_vec column: the exact scan answers)");
    pv->on = on;
}

void pgvector_probe(struct pgvector *pv)
{
    if (!pv || pv->probing)
        return;
    if (pgpool_query(pv->pool, Q_PGVECTOR_PROBE, 0, NULL, probed, pv) == 0)
        pv->probing = true;
    else
        log_warn(
            "msg=\"pgvector probe not queued (pool full or down); keeping the previous answer\"");
}

const char *pgvector_sql(const struct pgvector *pv, enum pgvector_stmt s)
{
    return pv && pv->on ? pv->sql[s] : NULL;
}

char *pgvector_literal(const char *pg_array)
{
    size_t n = strlen(pg_array);
    char *out = strdup(pg_array);
    if (out && n >= 2 && out[0] == '{' && out[n - 1] == '}') {
        out[0] = '[';
        out[n - 1] = ']';
    }
    return out;
}
