/* idrank — matches the rows of a "plain" group-commit statement to the batch's items.
 *
 * A plain statement (batcher_kind.plain_stmt) inserts one row per item without tagging its
 * result rows with the item's place: the ids it draws from a sequence rise in the order of
 * the items, so the row with the k-th smallest id answers item k, in whatever order the rows
 * come back. This saves the statement the CTE, the join and the per-row lookups the tagged
 * form needs (docs/gateway.md has the measurement). */
#ifndef FLOWSTATE_IDRANK_H
#define FLOWSTATE_IDRANK_H

#include <libpq-fe.h>

/* Fills item_of[row] for every row of res with the rank of the row's id (column 0, a positive
 * integer as text) among the result's ids. Returns 0, or -1 when res does not have exactly n
 * rows, an id is not a positive integer, or two rows share an id, or memory runs out
 * (item_of is then unspecified). */
int idrank_items(const PGresult *res, int n, int *item_of);

#endif
