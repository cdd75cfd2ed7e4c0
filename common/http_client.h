/* http_client — Flowstate's one HTTP client: blocking JSON calls to one base URL through
 * libcurl, with a Bearer key and bounded timeouts. Each client owns one libcurl easy handle,
 * whose connection libcurl keeps alive between calls (and opens again when the server had
 * dropped it). A client belongs to the thread that calls it (the reporter's own, an executor
 * thread's in a thread-local slot, each embedder thread's): libcurl's easy handles must not
 * be used by two threads at once. For worker threads and tools, never for the gateway's
 * event loop. */
#ifndef FLOWSTATE_HTTP_CLIENT_H
#define FLOWSTATE_HTTP_CLIENT_H

#include <stddef.h>

/* Largest answer body accepted; a larger one fails the call. */
#define HTTP_CLIENT_MAX_ANSWER (64u << 20)

struct http_client;

/* base_url like "http://127.0.0.1:3001" or "https://api.example.com/v1" (no trailing slash
 * needed); api_key may be empty. timeout_ms bounds each whole call. NULL on allocation
 * failure only: a URL that cannot be used (another scheme, credentials, spaces, a bad port)
 * makes every call fail with the reason. */
struct http_client *http_client_new(const char *base_url, const char *api_key, long timeout_ms);
void http_client_free(struct http_client *hc);
/* Changes the bound of each following call (ms > 0). */
void http_client_set_timeout(struct http_client *hc, long timeout_ms);

struct http_response {
    int status;       /* HTTP status, or 0 when no answer came (see error) */
    const char *body; /* NUL-terminated; valid until the next call on this client */
    size_t body_len;
    char error[256]; /* transport error when status is 0 */
};

/* Sends method path (e.g. "POST", "/api/jobs/complete") with a JSON body (NULL: none) and
 * waits for the answer. Returns the status (> 0), or 0 on a transport failure. */
int http_client_send(struct http_client *hc, const char *method, const char *path, const char *body,
                     struct http_response *resp);

#endif
