/* http_client — blocking JSON calls to one base URL (see http_client.h): the URL is taken
 * apart once, then each call goes over http_wire (http://) or http_tls (https://). */
#include "common/http_client.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/http_tls.h"
#include "common/http_wire.h"

#define CONNECT_TIMEOUT_MAX_MS 5000

struct http_client {
    char *base_url;            /* without trailing slashes: https calls append the path */
    const char *prefix;        /* the base URL's path, within base_url: http calls start with it */
    struct http_wire *wire;    /* http:// */
    struct http_tls *tls;      /* https:// */
    char *fields;              /* Host, Content-Type and Authorization lines for http_wire */
    char unusable[256];        /* why no call can be made, or "" */
    char *head;                /* the request head being sent */
    size_t head_cap;
    struct strbuf body;
    long timeout_ms;
};

/* Control characters or spaces would let a URL or key write headers of its own. */
static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

/* Splits scheme://host[:port][/path] into its parts; the reason in hc->unusable if it can't. */
static void take_apart(struct http_client *hc, const char *api_key)
{
    const char *url = hc->base_url;
    bool tls = strncasecmp(url, "https://", 8) == 0;
    if (!tls && strncasecmp(url, "http://", 7) != 0) {
        snprintf(hc->unusable, sizeof(hc->unusable), "unsupported URL '%.150s' (http:// or https:// only)", url);
        return;
    }
    if (!printable(url) || !printable(api_key)) {
        snprintf(hc->unusable, sizeof(hc->unusable), "the URL or API key holds spaces or control characters");
        return;
    }
    const char *auth = url + (tls ? 8 : 7);
    size_t auth_len = strcspn(auth, "/?#");
    hc->prefix = auth + auth_len;
    if (memchr(auth, '@', auth_len)) {
        snprintf(hc->unusable, sizeof(hc->unusable), "credentials in the URL are not supported (use the API key)");
        return;
    }
    const char *host = auth, *host_end, *port = NULL;
    if (*auth == '[') {
        host = auth + 1;
        host_end = memchr(host, ']', auth_len);
        if (!host_end || (host_end + 1 < auth + auth_len && host_end[1] != ':')) {
            snprintf(hc->unusable, sizeof(hc->unusable), "bad IPv6 address in '%.150s'", url);
            return;
        }
        if (host_end + 1 < auth + auth_len)
            port = host_end + 2;
    } else {
        host_end = memchr(auth, ':', auth_len);
        if (host_end)
            port = host_end + 1;
        else
            host_end = auth + auth_len;
    }
    char portbuf[8] = "";
    if (port) {
        size_t plen = (size_t)(auth + auth_len - port);
        long n = plen > 0 && plen < 6 && strspn(port, "0123456789") >= plen ? strtol(port, NULL, 10) : 0;
        if (n < 1 || n > 65535) {
            snprintf(hc->unusable, sizeof(hc->unusable), "bad port in '%.150s'", url);
            return;
        }
        snprintf(portbuf, sizeof(portbuf), "%ld", n);
    }
    if (host_end == host) {
        snprintf(hc->unusable, sizeof(hc->unusable), "no host in '%.150s'", url);
        return;
    }
    char key_line[1100] = "";
    if (api_key && api_key[0])
        snprintf(key_line, sizeof(key_line), "Authorization: Bearer %.1024s", api_key);
    if (tls) {
        const char *headers[] = {"Content-Type: application/json", "Expect:", key_line[0] ? key_line : NULL, NULL};
        hc->tls = http_tls_new(headers, hc->unusable, sizeof(hc->unusable));
        return;
    }
    char *h = strndup(host, (size_t)(host_end - host));
    hc->wire = h ? http_wire_new(h, port ? portbuf : "80") : NULL;
    free(h);
    size_t n = auth_len + strlen(key_line) + 64;
    if (hc->wire && (hc->fields = malloc(n)))
        snprintf(hc->fields, n, "Host: %.*s\r\nContent-Type: application/json\r\n%s%s", (int)auth_len, auth,
                 key_line, key_line[0] ? "\r\n" : "");
    if (!hc->fields)
        snprintf(hc->unusable, sizeof(hc->unusable), "out of memory");
}

struct http_client *http_client_new(const char *base_url, const char *api_key, long timeout_ms)
{
    struct http_client *hc = calloc(1, sizeof(*hc));
    if (!hc)
        return NULL;
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    hc->base_url = strndup(base_url, n);
    hc->timeout_ms = timeout_ms;
    if (!hc->base_url) {
        free(hc);
        return NULL;
    }
    take_apart(hc, api_key ? api_key : "");
    return hc;
}

void http_client_free(struct http_client *hc)
{
    if (!hc)
        return;
    http_wire_free(hc->wire);
    http_tls_free(hc->tls);
    free(hc->fields);
    free(hc->head);
    free(hc->body.p);
    free(hc->base_url);
    free(hc);
}

void http_client_set_timeout(struct http_client *hc, long timeout_ms)
{
    if (timeout_ms > 0)
        hc->timeout_ms = timeout_ms;
}

/* The request head for http_wire in hc->head; its length, or 0 when out of memory. */
static size_t build_head(struct http_client *hc, const char *method, const char *path, const char *body,
                         size_t body_len)
{
    char length[48] = "";
    if (body || strcmp(method, "GET") != 0)
        snprintf(length, sizeof(length), "Content-Length: %zu\r\n", body_len);
    size_t need = strlen(method) + strlen(hc->prefix) + strlen(path) + strlen(hc->fields) + strlen(length) + 32;
    if (need > hc->head_cap) {
        char *grown = realloc(hc->head, need);
        if (!grown)
            return 0;
        hc->head = grown;
        hc->head_cap = need;
    }
    int n = snprintf(hc->head, hc->head_cap, "%s %s%s HTTP/1.1\r\n%s%s\r\n", method, hc->prefix, path, hc->fields,
                     length);
    return n > 0 ? (size_t)n : 0;
}

int http_client_send(struct http_client *hc, const char *method, const char *path,
                     const char *body, struct http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    hc->body.len = 0;
    if (hc->body.p)
        hc->body.p[0] = '\0';
    size_t body_len = body ? strlen(body) : 0;
    long connect_ms = hc->timeout_ms < CONNECT_TIMEOUT_MAX_MS ? hc->timeout_ms : CONNECT_TIMEOUT_MAX_MS;
    int status = 0;
    if (hc->unusable[0]) {
        snprintf(resp->error, sizeof(resp->error), "%s", hc->unusable);
    } else if (!printable(method) || !printable(path)) {
        snprintf(resp->error, sizeof(resp->error), "the request path holds spaces or control characters");
    } else if (hc->tls) {
        char url[2048];
        snprintf(url, sizeof(url), "%s%s", hc->base_url, path);
        status = http_tls_send(hc->tls, method, url, body, body_len, hc->timeout_ms, connect_ms, &hc->body,
                               resp->error, sizeof(resp->error));
    } else {
        size_t head_len = build_head(hc, method, path, body, body_len);
        if (head_len == 0)
            snprintf(resp->error, sizeof(resp->error), "out of memory");
        else
            status = http_wire_send(hc->wire, hc->head, head_len, body, body_len, hc->timeout_ms, connect_ms,
                                    &hc->body, resp->error, sizeof(resp->error));
    }
    resp->status = status;
    resp->body = hc->body.p ? hc->body.p : "";
    resp->body_len = hc->body.len;
    return status;
}
