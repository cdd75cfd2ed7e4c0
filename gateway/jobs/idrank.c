/* idrank — the item each row of a plain group-commit statement answers (see idrank.h). */
#include "gateway/jobs/idrank.h"

#include <errno.h>
#include <stdlib.h>

struct id_row {
    long long id;
    int row;
};

static int by_id(const void *a, const void *b)
{
    long long x = ((const struct id_row *)a)->id, y = ((const struct id_row *)b)->id;
    return (x > y) - (x < y);
}

int idrank_items(const PGresult *res, int n, int *item_of)
{
    if (n < 0 || PQntuples(res) != n || (n > 0 && PQnfields(res) < 1))
        return -1;
    if (n == 0)
        return 0;
    struct id_row *v = malloc((size_t)n * sizeof(*v));
    if (!v)
        return -1;
    int rc = 0;
    for (int row = 0; row < n && rc == 0; row++) {
        const char *text = PQgetvalue(res, row, 0);
        char *end;
        errno = 0;
        long long id = strtoll(text, &end, 10);
        if (PQgetisnull(res, row, 0) || end == text || *end != '\0' || errno != 0 || id <= 0)
            rc = -1;
        v[row] = (struct id_row){id, row};
    }
    if (rc == 0) {
        qsort(v, (size_t)n, sizeof(*v), by_id);
        for (int k = 0; k < n; k++) {
            if (k > 0 && v[k].id == v[k - 1].id) {
                rc = -1;
                break;
            }
            item_of[v[k].row] = k;
        }
    }
    free(v);
    return rc;
}
