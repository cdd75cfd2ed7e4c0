/* strbuf — a growable, always NUL-terminated byte string: the one buffer that JSON text,
 * request bodies and HTTP answers are built up in. */
#ifndef FLOWSTATE_STRBUF_H
#define FLOWSTATE_STRBUF_H

#include <stddef.h>
#include <string.h>

/* Zero-initialise ({0}); p is NULL until the first byte is added. The owner frees p. */
struct strbuf {
    char *p;
    size_t len, cap;
};

/* Makes room for more bytes (and the NUL) after len. 0, or -1 when out of memory (b unchanged). */
int strbuf_grow(struct strbuf *b, size_t more);

/* Appends n bytes of s, keeping p NUL-terminated. 0, or -1 when out of memory (b unchanged).
 * Inline: JSON text is built from many small pieces, and a call costs more than the copy. */
static inline int strbuf_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap && strbuf_grow(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* Drops what was appended after len (len <= b->len), keeping p NUL-terminated: how a writer
 * that failed halfway leaves b as it found it. */
static inline void strbuf_truncate(struct strbuf *b, size_t len)
{
    b->len = len;
    if (b->p)
        b->p[len] = '\0';
}

#endif
