/* http_tls — HTTPS for http_client through libcurl, loaded with dlopen the first time an
 * https:// URL is used. Programs that only ever talk plain HTTP (every worker talking to its
 * gateway) never load libcurl, OpenSSL's TLS side or their dozen dependencies, which keeps a
 * worker's resident memory small. One keep-alive connection per client; not thread-safe:
 * one per thread. */
#ifndef FLOWSTATE_HTTP_TLS_H
#define FLOWSTATE_HTTP_TLS_H

#include <stddef.h>

#include "common/http_wire.h"

struct http_tls;

/* headers: NULL-terminated "Name: value" lines sent with every request. NULL with a reason
 * in err when libcurl cannot be loaded or memory runs out. */
struct http_tls *http_tls_new(const char *const *headers, char *err, size_t errlen);
void http_tls_free(struct http_tls *t);

/* One request to the absolute url; the answer's body goes to out. Returns the HTTP status,
 * or 0 with a reason in err. */
int http_tls_send(struct http_tls *t, const char *method, const char *url, const char *body, size_t body_len,
                  long timeout_ms, long connect_ms, struct strbuf *out, char *err, size_t errlen);

#endif
