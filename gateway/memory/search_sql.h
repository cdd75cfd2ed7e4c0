/* search_sql — SQL text shared by every memory search statement: the exact scans and the
 * cache-candidate forms in queries.c and the pgvector forms in pgvector.c. The filters, the
 * scored-document JSON and the rank fusion are written once here, so the three paths
 * cannot drift apart in what they match or how they answer.
 *
 * Parameter conventions: $1..$6 are the filters (agentName, memoryType, tag,
 * minImportance, since, until); hybrid statements read the query text from $7, the model
 * from $9, the limit from $10, the depth from $11 and the weights from $12 and $13. */
#ifndef FLOWSTATE_SEARCH_SQL_H
#define FLOWSTATE_SEARCH_SQL_H

/* The memory filters applied to documents row d. */
/* clang-format off */
#define MEMORY_MATCH(d)                                                                        \
    "fs_memory_match(" d ", $1::text, $2::text, $3::text, $4::int, $5::timestamptz,"          \
    " $6::timestamptz)"
/* clang-format on */

/* The documents of subquery s (id, score) as API JSON with their score, best first. Every
 * answer is printed by row_to_json and array_to_json, which write no blanks. */
/* clang-format off */
#define SCORED_DOCUMENTS_JSON                                                                  \
    "coalesce(array_to_json(array_agg(fs_document_json_with(d, ',\"score\":' || s.score)"      \
    " ORDER BY s.score DESC, s.id DESC)), '[]')"
/* clang-format on */

/* Hybrid search, first CTE: the best $11 keyword matches and their ranks. */
/* clang-format off */
#define HYBRID_KEYWORD_CTE                                                                     \
    "WITH kw AS ("                                                                             \
    "  SELECT d.id, row_number() OVER (ORDER BY ts_rank(d.search_vector, q) DESC, d.id DESC) AS r" \
    "  FROM documents d, websearch_to_tsquery('english', $7::text) q"                          \
    "  WHERE d.search_vector @@ q AND " MEMORY_MATCH("d")                                      \
    "  ORDER BY r LIMIT $11::int),"
/* clang-format on */

/* Hybrid search, the rest after a CTE `sem` (id, r): reciprocal rank fusion
 * wk/(60 + keyword rank) + ws/(60 + semantic rank), and the answer. */
/* clang-format off */
#define HYBRID_FUSION                                                                          \
    " f AS ("                                                                                  \
    "  SELECT coalesce(kw.id, sem.id) AS id, kw.r AS kr, sem.r AS sr,"                         \
    "         coalesce($12::float8 / (60 + kw.r), 0) + coalesce($13::float8 / (60 + sem.r), 0)" \
    "           AS score"                                                                      \
    "  FROM kw FULL JOIN sem ON kw.id = sem.id)"                                               \
    " SELECT row_to_json(page) FROM (SELECT 'hybrid' AS mode, $9::text AS model,"             \
    "  (SELECT row_to_json(w) FROM (SELECT $12::float8 AS keyword, $13::float8 AS semantic) w)"\
    "    AS weights,"                                                                          \
    "  coalesce(array_to_json(array_agg(fs_document_json_with(d, ',\"score\":' || t.score"     \
    "     || ',\"keywordRank\":' || coalesce(t.kr::text, 'null')"                              \
    "     || ',\"semanticRank\":' || coalesce(t.sr::text, 'null'))"                            \
    "     ORDER BY t.score DESC, t.id DESC)), '[]') AS documents"                              \
    " FROM (SELECT * FROM f WHERE f.score > 0 ORDER BY f.score DESC, f.id DESC LIMIT $10::int) t" \
    " JOIN documents d ON d.id = t.id) page"
/* clang-format on */

#endif
