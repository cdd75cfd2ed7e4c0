/* pgvector — the gateway's second semantic search path, for when the vector cache cannot
 * answer (off, loading, over vector-cache-max, too many candidates, a similar source it
 * does not hold): when the server has pgvector and sql/003_memory.sql made the
 * untyped documents.embedding_vec column, semantic, hybrid and similar searches rank with
 * `ORDER BY embedding_vec::vector(dims) <=> query LIMIT k` (cosine distance, the HNSW index
 * of the provider's model when there is one: approximate) instead of the exact real[] scan.
 * Whether the column exists is probed through the main pool each time the LISTEN
 * connection (re)connects; until a probe says yes, searches keep the exact scan. Its
 * statements name the vector type, which a server without pgvector cannot parse, so they
 * are never prepared: they go out unprepared (pgpool_query_sql), built once for the
 * provider's model and dimension. */
#ifndef FLOWSTATE_PGVECTOR_H
#define FLOWSTATE_PGVECTOR_H

#include <stdbool.h>

struct pgvector;
struct pgpool;
struct embed_provider;

/* The statements, with the same parameters as their exact counterparts
 * (Q_DOCUMENTS_SEMANTIC, Q_DOCUMENTS_HYBRID, Q_DOCUMENT_SIMILAR) and the same response;
 * the query vector parameter is a vector literal ("[1,2,3]", see pgvector_literal). */
enum pgvector_stmt { PGV_SEMANTIC, PGV_HYBRID, PGV_SIMILAR, PGV__COUNT };

/* The statements for provider p's model and dimension, probing through pool. NULL on
 * allocation failure. */
struct pgvector *pgvector_new(struct pgpool *pool, const struct embed_provider *p);
void pgvector_free(struct pgvector *pv);

/* Asks the database whether the column exists (asynchronously; a probe already in flight
 * is not repeated). Called from the LISTEN pool's ready hook. */
void pgvector_probe(struct pgvector *pv);

/* Statement s when the column exists, else NULL (use the exact scan). */
const char *pgvector_sql(const struct pgvector *pv, enum pgvector_stmt s);

/* The vector literal "[a,b,…]" of a real[] text value "{a,b,…}" (caller frees), or NULL. */
char *pgvector_literal(const char *pg_array);

#endif
