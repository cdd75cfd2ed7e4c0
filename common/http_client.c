/* http_client — blocking JSON calls to one base URL over libcurl (see http_client.h): the
 * URL is checked once, the handle's fixed options are set once, and each call sets only
 * what changes (URL, method, body, timeout). */
#include "common/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/strbuf.h"

#define CONNECT_TIMEOUT_MAX_MS 5000

struct http_client {
    CURL *easy;
    struct curl_slist *headers; /* Content-Type, Authorization, and no Expect */
    char *base_url;             /* without trailing slashes */
    char where[140];            /* "host:port", for errors */
    char unusable[256];         /* why no call can be made, or "" */
    struct strbuf url;          /* base_url + the call's path */
    struct strbuf body;         /* the answer's body */
    bool too_large;             /* the answer passed HTTP_CLIENT_MAX_ANSWER */
    long timeout_ms;
    char curl_error[CURL_ERROR_SIZE];
};

/* curl_global_init is not safe to race with other threads' libcurl calls: once, from the
 * first client made. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Control characters or spaces would let a URL, key or path write headers of its own. */
static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

/* Checks the base URL once: libcurl's parse, and what libcurl would take but we do not
 * (other schemes, credentials in the URL: the key goes in a header; port 0). Sets
 * hc->where; the reason in hc->unusable. */
static void check_url(struct http_client *hc, const char *api_key)
{
    const char *url = hc->base_url;
    if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0) {
        snprintf(hc->unusable, sizeof(hc->unusable),
                 "unsupported URL '%.150s' (http:// or https:// only)", url);
        return;
    }
    if (!printable(url) || !printable(api_key)) {
        snprintf(hc->unusable, sizeof(hc->unusable),
                 "the URL or API key holds spaces or control characters");
        return;
    }
    CURLU *u = curl_url();
    char *user = NULL, *host = NULL, *port = NULL;
    CURLUcode rc = u ? curl_url_set(u, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
    if (rc == CURLUE_OK && curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        snprintf(hc->unusable, sizeof(hc->unusable),
                 "credentials in the URL are not supported (use the API key)");
        goto done;
    }
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (rc != CURLUE_OK)
        snprintf(hc->unusable, sizeof(hc->unusable), "bad URL '%.150s': %s", url,
                 curl_url_strerror(rc));
    else if (strcmp(port, "0") == 0)
        snprintf(hc->unusable, sizeof(hc->unusable), "bad port in '%.150s'", url);
    else
        snprintf(hc->where, sizeof(hc->where), "%.120s:%s", host, port);
done:
    curl_free(user);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    struct http_client *hc = arg;
    size_t n = size * nmemb;
    if (hc->body.len + n > HTTP_CLIENT_MAX_ANSWER) {
        hc->too_large = true;
        return 0; /* fails the transfer */
    }
    return strbuf_add(&hc->body, data, n) == 0 ? n : 0;
}

/* The options every call of this client shares. 0, or -1 when out of memory. */
static int set_up(struct http_client *hc, const char *api_key)
{
    /* No "Expect: 100-continue" round trip before bodies over 1 KB, and no "Accept: * / *"
     * for the gateway to parse. */
    const char *fixed[] = {"Content-Type: application/json", "Expect:", "Accept:"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        struct curl_slist *grown = curl_slist_append(hc->headers, fixed[i]);
        if (!grown)
            return -1;
        hc->headers = grown;
    }
    if (api_key[0]) {
        char auth[1100];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %.1024s", api_key);
        struct curl_slist *grown = curl_slist_append(hc->headers, auth);
        if (!grown)
            return -1;
        hc->headers = grown;
    }
    CURL *c = hc->easy;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hc->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, hc);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, hc->curl_error);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)HTTP_CLIENT_MAX_ANSWER);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* timeouts without SIGALRM: we run in threads */
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* calls go direct, whatever http_proxy says */
    return 0;
}

struct http_client *http_client_new(const char *base_url, const char *api_key, long timeout_ms)
{
    struct http_client *hc = calloc(1, sizeof(*hc));
    if (!hc)
        return NULL;
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    hc->timeout_ms = timeout_ms;
    if (!api_key)
        api_key = "";
    if (!(hc->base_url = strndup(base_url, n)))
        goto fail;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        snprintf(hc->unusable, sizeof(hc->unusable), "libcurl cannot start: %s",
                 curl_easy_strerror(global_rc));
        return hc;
    }
    check_url(hc, api_key);
    if (hc->unusable[0])
        return hc;
    if (!(hc->easy = curl_easy_init()) || set_up(hc, api_key) < 0)
        goto fail;
    return hc;
fail:
    http_client_free(hc);
    return NULL;
}

void http_client_free(struct http_client *hc)
{
    if (!hc)
        return;
    if (hc->easy)
        curl_easy_cleanup(hc->easy);
    curl_slist_free_all(hc->headers);
    free(hc->url.p);
    free(hc->body.p);
    free(hc->base_url);
    free(hc);
}

void http_client_set_timeout(struct http_client *hc, long timeout_ms)
{
    if (timeout_ms > 0)
        hc->timeout_ms = timeout_ms;
}

/* Why a transfer failed, in the words callers log: what happened, and with whom. */
static void describe(struct http_client *hc, CURLcode rc, char *err, size_t errlen)
{
    const char *detail = hc->curl_error[0] ? hc->curl_error : curl_easy_strerror(rc);
    long os_errno = 0;
    curl_off_t us = 0;
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(err, errlen, "cannot resolve %.120s: %.90s", hc->where, detail);
        break;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(hc->easy, CURLINFO_OS_ERRNO, &os_errno);
        snprintf(err, errlen, "cannot connect to %.120s: %.90s", hc->where,
                 os_errno ? strerror((int)os_errno) : detail);
        break;
    case CURLE_OPERATION_TIMEDOUT: {
        /* The limit that fired, not the time libcurl measured: its clock may stop a
         * millisecond short of the limit, and the caller set the limit, so that is the
         * figure it can act on. Before a connection exists, the connect limit applies. */
        curl_easy_getinfo(hc->easy, CURLINFO_CONNECT_TIME_T, &us);
        long limit = us > 0 || hc->timeout_ms < CONNECT_TIMEOUT_MAX_MS
                         ? hc->timeout_ms
                         : (long)CONNECT_TIMEOUT_MAX_MS;
        snprintf(err, errlen, "timed out after %ld ms talking to %.120s", limit, hc->where);
        break;
    }
    case CURLE_GOT_NOTHING:
        snprintf(err, errlen, "connection closed without an answer from %.120s", hc->where);
        break;
    case CURLE_PARTIAL_FILE:
        snprintf(err, errlen, "connection closed in the middle of an answer from %.120s",
                 hc->where);
        break;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (hc->too_large || rc == CURLE_FILESIZE_EXCEEDED)
            snprintf(err, errlen, "the answer from %.120s is larger than %u bytes", hc->where,
                     HTTP_CLIENT_MAX_ANSWER);
        else
            snprintf(err, errlen, "out of memory reading from %.120s", hc->where);
        break;
    default: snprintf(err, errlen, "%.120s: %.90s", hc->where, detail);
    }
}

int http_client_send(struct http_client *hc, const char *method, const char *path, const char *body,
                     struct http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    strbuf_truncate(&hc->body, 0);
    resp->body = "";
    if (hc->unusable[0]) {
        snprintf(resp->error, sizeof(resp->error), "%s", hc->unusable);
        return 0;
    }
    if (!printable(method) || !printable(path)) {
        snprintf(resp->error, sizeof(resp->error),
                 "the request path holds spaces or control characters");
        return 0;
    }
    strbuf_truncate(&hc->url, 0);
    if (strbuf_add(&hc->url, hc->base_url, strlen(hc->base_url)) < 0 ||
        strbuf_add(&hc->url, path, strlen(path)) < 0) {
        snprintf(resp->error, sizeof(resp->error), "out of memory");
        return 0;
    }
    CURL *c = hc->easy;
    bool head = strcmp(method, "HEAD") == 0;
    curl_easy_setopt(c, CURLOPT_URL, hc->url.p);
    curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L); /* an answer to HEAD has no body */
    if (head) {
        /* NOBODY made it a HEAD request */
    } else if (body || strcmp(method, "GET") != 0) { /* a body, or Content-Length: 0 */
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body ? (long)strlen(body) : 0L);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, hc->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     hc->timeout_ms < CONNECT_TIMEOUT_MAX_MS ? hc->timeout_ms
                                                             : (long)CONNECT_TIMEOUT_MAX_MS);
    hc->curl_error[0] = '\0';
    hc->too_large = false;
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        describe(hc, rc, resp->error, sizeof(resp->error));
    if (rc != CURLE_OK) /* a half-read answer is not one */
        strbuf_truncate(&hc->body, 0);
    resp->status = (int)status;
    resp->body = hc->body.p ? hc->body.p : "";
    resp->body_len = hc->body.len;
    return resp->status;
}
