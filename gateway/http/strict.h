/* strict — the HTTP checks libevent's parser leaves to us: one message length (RFC 9112
 * §6.3), no control bytes in header names or values (RFC 9110 §5.1, §5.5), JSON bodies only
 * in UTF-8, CONNECT refused; and a guard on each connection's raw bytes so a NUL cannot hide behind
 * evhttp's C-string header lines, and chunk extensions reach evhttp in a form it reads. */
#ifndef FLOWSTATE_HTTP_STRICT_H
#define FLOWSTATE_HTTP_STRICT_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>

struct request;

/* Checks a request's head before routing. true, or false having answered 400 or 405 with
 * Connection: close (the client and any proxy in front may disagree about where the next
 * request starts, so nothing more is read from the connection). */
bool http_strict_check_head(struct request *r);

/* The Content-Type's charset parameter is absent or UTF-8 (any case, quoted or not). */
bool http_strict_charset_ok(const char *content_type);

/* The bufferevent for a new connection (an evhttp_set_bevcb callback), with the NUL guard on
 * its input and, when chunks is not NULL, the chunk-extension tracker it points to (a struct
 * chunkext, initialised here, which must live as long as the connection). */
struct bufferevent *http_strict_bevcb(struct event_base *base, void *chunks);

/* The tracker given to http_strict_bevcb is about to go: bev's input stops using it. */
void http_strict_forget(struct bufferevent *bev, void *chunks);

#endif
