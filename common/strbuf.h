/* strbuf — a growable, always NUL-terminated byte string: the one buffer that JSON text,
 * request bodies and HTTP answers are built up in. */
#ifndef FLOWSTATE_STRBUF_H
#define FLOWSTATE_STRBUF_H

#include <stddef.h>

/* Zero-initialise ({0}); p is NULL until the first byte is added. The owner frees p. */
struct strbuf {
    char *p;
    size_t len, cap;
};

/* Appends n bytes of s, keeping p NUL-terminated. 0, or -1 when out of memory (b unchanged). */
int strbuf_add(struct strbuf *b, const char *s, size_t n);

#endif
