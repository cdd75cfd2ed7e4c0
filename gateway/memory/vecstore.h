/* vecstore — an in-memory store of embedding vectors keyed by document id, compact enough
 * for a gateway (int8 codes with a per-vector scale: dims + 20 bytes a vector), and the
 * candidate search over it: an approximate dot product per vector with a proven error
 * bound, from which it returns every id that can still be among the best k by exact score.
 * The caller re-ranks those few exactly (in SQL), so results equal an exact scan. Pure data
 * structure: no I/O, no gateway. */
#ifndef FLOWSTATE_VECSTORE_H
#define FLOWSTATE_VECSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vecstore;

/* A store of vectors of dims floats. NULL on allocation failure. */
struct vecstore *vecstore_new(int dims);
void vecstore_free(struct vecstore *s);
int vecstore_dims(const struct vecstore *s);
size_t vecstore_count(const struct vecstore *s);
/* Bytes the store holds (codes, ids, scales, hash table). */
size_t vecstore_bytes(const struct vecstore *s);
/* A copy of s (for changes while s is read elsewhere). NULL on allocation failure. */
struct vecstore *vecstore_clone(const struct vecstore *s);
/* Removes every vector. */
void vecstore_clear(struct vecstore *s);

/* Inserts or replaces id's vector (dims floats, quantised). Returns 0, or -1 on allocation
 * failure (the store is unchanged). */
int vecstore_put(struct vecstore *s, long long id, const float *v)
    __attribute__((warn_unused_result));
/* Removes id; returns true when it was there. */
bool vecstore_remove(struct vecstore *s, long long id);
bool vecstore_has(const struct vecstore *s, long long id);
/* Writes id's dequantised vector to out (dims floats) and the L2 norm of its quantisation
 * error to *err. Returns 0, or -1 when id is absent. */
int vecstore_get(const struct vecstore *s, long long id, float *out, float *err);

/* Mark and sweep for a resync: vecstore_unmark_all clears every vector's mark, put marks
 * the vector it writes (vecstore_mark marks an existing one), and vecstore_sweep removes
 * the unmarked ones, returning how many. */
void vecstore_unmark_all(struct vecstore *s);
void vecstore_mark(struct vecstore *s, long long id);
size_t vecstore_sweep(struct vecstore *s);

/* The candidate search. query: dims floats; query_err: the L2 norm of the query's own
 * error when it is itself a dequantised vector (0 for an exact query). Only ids in allow
 * (sorted ascending, nallow of them) are considered when allow is not NULL; exclude (0:
 * none) never is. Writes to out (capacity max) every id whose exact score may be > 0 and
 * among the best k (ties by the larger id), best estimate first. Returns how many, or -1
 * when there are more than max such ids or memory ran out (the caller scans exactly
 * instead). */
long vecstore_candidates(const struct vecstore *s, const float *query, float query_err,
                         const long long *allow, size_t nallow, long long exclude, int k,
                         long long *out, long max);

/* The approximate score of id for query and its error bound (for tests). Returns 0, or -1
 * when id is absent. */
int vecstore_estimate(const struct vecstore *s, long long id, const float *query, float query_err,
                      double *score, double *bound);

#endif
