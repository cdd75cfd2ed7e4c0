/* idrank: a plain group-commit statement's rows are matched to the batch's items by the rank
 * of their ids, in whatever order they come back; results that cannot be matched (wrong
 * count, an id that is not a positive integer, a NULL, a repeated id) are refused. Results
 * are built with libpq's own PGresult constructors. */
#include <stdio.h>
#include <string.h>

#include "gateway/jobs/idrank.h"
#include "tests/unit/harness.h"

#define NO_ID ((const char *)1) /* a NULL value in the id column */

struct rank_case {
    const char *label;
    int n;              /* items in the batch */
    int rows;           /* result rows */
    const char *ids[6]; /* column 0 of each row */
    int want_rc;
    int want_item_of[6]; /* when want_rc == 0 */
};

static const struct rank_case rank_cases[] = {
    {"in order", 3, 3, {"7", "8", "9"}, 0, {0, 1, 2}},
    {"returned in any order", 4, 4, {"105", "101", "110", "103"}, 0, {2, 0, 3, 1}},
    {"gaps from other sessions' ids", 3, 3, {"900000000000", "5", "77"}, 0, {2, 0, 1}},
    {"one row", 1, 1, {"42"}, 0, {0}},
    {"empty batch", 0, 0, {NULL}, 0, {0}},
    {"largest bigint", 2, 2, {"9223372036854775807", "1"}, 0, {1, 0}},
    {"fewer rows than items", 3, 2, {"1", "2"}, -1, {0}},
    {"more rows than items", 1, 2, {"1", "2"}, -1, {0}},
    {"repeated id", 3, 3, {"4", "5", "4"}, -1, {0}},
    {"id zero", 2, 2, {"0", "1"}, -1, {0}},
    {"negative id", 2, 2, {"-3", "1"}, -1, {0}},
    {"not a number", 2, 2, {"1", "x1"}, -1, {0}},
    {"trailing text", 2, 2, {"1", "2 "}, -1, {0}},
    {"empty text", 1, 1, {""}, -1, {0}},
    {"out of bigint range", 2, 2, {"1", "9223372036854775808"}, -1, {0}},
    {"NULL id", 2, 2, {"1", NO_ID}, -1, {0}},
};

static PGresult *result_of(const struct rank_case *c)
{
    /* libpq's setters take non-const strings; they copy them. */
    char id_name[] = "id", job_name[] = "job", job[] = "{}", text[32];
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc cols[2] = {{.name = id_name, .typid = 20, .typlen = 8, .atttypmod = -1},
                            {.name = job_name, .typid = 114, .typlen = -1, .atttypmod = -1}};
    if (!res || !PQsetResultAttrs(res, 2, cols)) {
        PQclear(res);
        return NULL;
    }
    for (int row = 0; row < c->rows; row++) {
        bool null = c->ids[row] == NO_ID;
        if (!null)
            snprintf(text, sizeof(text), "%s", c->ids[row]);
        if (!PQsetvalue(res, row, 0, null ? NULL : text, null ? -1 : (int)strlen(text)) ||
            !PQsetvalue(res, row, 1, job, 2)) {
            PQclear(res);
            return NULL;
        }
    }
    return res;
}

static void test_rank(const void *arg)
{
    const struct rank_case *c = arg;
    PGresult *res = result_of(c);
    REQUIRE(res != NULL);
    REQUIRE(PQntuples(res) == c->rows);
    int item_of[6];
    memset(item_of, 0xff, sizeof(item_of));
    CHECK_LONG(idrank_items(res, c->n, item_of), c->want_rc);
    if (c->want_rc == 0)
        for (int row = 0; row < c->rows; row++)
            CHECK_LONG(item_of[row], c->want_item_of[row]);
    PQclear(res);
}

void register_idrank_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(rank_cases); i++)
        test_addf(test_rank, &rank_cases[i], "idrank %s", rank_cases[i].label);
}
