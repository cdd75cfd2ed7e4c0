/* printquery.c — prints one of the gateway's statements (gateway/db/queries.c) by its prepared
 * name, so the instruction benchmark (instructions.py) runs exactly the SQL the gateway
 * runs. Linked with build/obj/gateway/db/queries.o.
 * Usage: printquery NAME (e.g. fs_jobs_insert); exits 2 for an unknown name. */
#include <stdio.h>
#include <string.h>

#include "gateway/db/queries.h"

int main(int argc, char **argv)
{
    for (int q = 0; argc == 2 && q < Q__COUNT; q++) {
        if (strcmp(queries[q].name, argv[1]) == 0) {
            puts(queries[q].sql);
            return 0;
        }
    }
    fprintf(stderr, "usage: %s NAME (a statement name from gateway/db/queries.c)\n", argv[0]);
    return 2;
}
