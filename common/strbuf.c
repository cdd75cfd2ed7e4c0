/* strbuf — a growable, always NUL-terminated byte string (see strbuf.h). */
#include "common/strbuf.h"

#include <stdlib.h>

int strbuf_grow(struct strbuf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *grown = realloc(b->p, cap);
    if (!grown)
        return -1;
    b->p = grown;
    b->cap = cap;
    return 0;
}
