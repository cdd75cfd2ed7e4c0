/* strbuf — a growable, always NUL-terminated byte string (see strbuf.h). */
#include "common/strbuf.h"

#include <stdlib.h>
#include <string.h>

int strbuf_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown)
            return -1;
        b->p = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}
