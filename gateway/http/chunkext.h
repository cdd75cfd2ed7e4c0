/* chunkext — lets chunk extensions through libevent 2.1's chunked-body parser. RFC 9112 §7.1.1
 * allows `1a;name=value` (and whitespace before the `;`) on a chunk-size line; evhttp accepts
 * only a space after the digits and answers anything else 400. So each connection's raw input
 * is followed the way evhttp frames it (request line, headers, a Content-Length or chunked
 * body of POST, PUT and PATCH, chunks, trailers) and the one byte after a chunk size's digits,
 * when it is `;` or a tab, becomes a space before evhttp reads the line.
 *
 * Only that byte is ever changed, and only while the framing is certain: anything this
 * tracker does not follow exactly as evhttp does (folded header lines, several
 * Transfer-Encoding headers, a size with a sign, a prefix or leading blanks, an unreadable
 * Content-Length) stops it for the rest of the connection, and evhttp answers as before. */
#ifndef FLOWSTATE_HTTP_CHUNKEXT_H
#define FLOWSTATE_HTTP_CHUNKEXT_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum chunkext_state {
    CHUNKEXT_HEAD,    /* a request line or header line */
    CHUNKEXT_BODY,    /* `left` bytes of a Content-Length body */
    CHUNKEXT_SIZE,    /* a chunk-size line (or the empty line after a chunk's data) */
    CHUNKEXT_DATA,    /* `left` bytes of a chunk's data */
    CHUNKEXT_TRAILER, /* trailer lines after the last chunk */
    CHUNKEXT_OFF,     /* lost certainty: nothing more is changed on this connection */
};

/* Longest header line start kept for reading (names and values that matter are short). */
#define CHUNKEXT_LINE_MAX 96

struct chunkext {
    enum chunkext_state state;
    uint64_t left;
    /* The current line: its length (a CR before the LF not counted), its first bytes, and for
     * a chunk-size line, how far its size has been read. */
    size_t line_len;
    bool cr_pending;
    char line[CHUNKEXT_LINE_MAX];
    bool first_line;    /* the next head line is a request line */
    bool may_have_body; /* the request line's method is POST, PUT or PATCH */
    int te_count;       /* Transfer-Encoding headers seen */
    bool chunked;       /* the first one is exactly "chunked" */
    bool has_length;
    uint64_t length;
    uint64_t size;  /* the chunk size read so far */
    bool size_done; /* the size's digits have ended on this line */
};

/* A tracker at the start of a connection. */
void chunkext_init(struct chunkext *t);

/* Follows the n bytes added at offset from of buf, rewriting in place where it must. */
void chunkext_feed(struct chunkext *t, struct evbuffer *buf, size_t from, size_t n);

#endif
