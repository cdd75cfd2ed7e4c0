/* http_wire — plain HTTP/1.1 over one keep-alive TCP connection, with no library under it:
 * the transport http_client uses for http:// URLs (every worker→gateway call). One request
 * at a time (no pipelining); the connection is opened on first use, kept while the server
 * allows it, and opened again once when a reused connection turns out to be closed before
 * any answer came (a keep-alive the server dropped). Answers may carry Content-Length, be
 * chunked, or run to the end of the connection. Not thread-safe: one per thread. */
#ifndef FLOWSTATE_HTTP_WIRE_H
#define FLOWSTATE_HTTP_WIRE_H

#include <stddef.h>

#include "common/strbuf.h"

/* Largest answer accepted (head and body); more fails the call. */
#define HTTP_WIRE_MAX_ANSWER (64u << 20)
/* Largest answer head (status line and headers). */
#define HTTP_WIRE_MAX_HEAD (64u << 10)

struct http_wire;

/* host is a name or address (an IPv6 address without brackets), port a decimal string.
 * NULL on allocation failure. Nothing is connected yet. */
struct http_wire *http_wire_new(const char *host, const char *port);
void http_wire_free(struct http_wire *w);

/* Sends one request — head (request line and headers, ending with the blank line) and body
 * (body_len bytes, may be 0) — and reads the answer into out within timeout_ms (connecting
 * within connect_ms of it). Returns the HTTP status, or 0 with a reason in err. */
int http_wire_send(struct http_wire *w, const char *head, size_t head_len, const char *body,
                   size_t body_len, long timeout_ms, long connect_ms, struct strbuf *out, char *err,
                   size_t errlen);

/* Appends n bytes of an answer's body to b (kept between calls). -1 when out of memory or
 * past HTTP_WIRE_MAX_ANSWER. */
int http_body_append(struct strbuf *b, const char *data, size_t n);

#endif
