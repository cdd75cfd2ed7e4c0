/* http_client — blocking JSON calls to one base URL over libcurl (see http_client.h). */
#include "common/http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_client {
    CURL *curl;
    struct curl_slist *headers;
    char *base_url;
    char *body;
    size_t len, cap;
    long timeout_ms;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    struct http_client *hc = arg;
    size_t n = size * nmemb;
    if (hc->len + n + 1 > hc->cap) {
        size_t cap = hc->cap ? hc->cap : 4096;
        while (cap < hc->len + n + 1)
            cap *= 2;
        char *grown = realloc(hc->body, cap);
        if (!grown)
            return 0; /* makes curl fail the transfer */
        hc->body = grown;
        hc->cap = cap;
    }
    memcpy(hc->body + hc->len, data, n);
    hc->len += n;
    hc->body[hc->len] = '\0';
    return n;
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
    hc->curl = curl_easy_init();
    hc->timeout_ms = timeout_ms;
    hc->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (hc->headers)
        hc->headers = curl_slist_append(hc->headers, "Expect:"); /* no 100-continue round trip */
    if (hc->headers && api_key && api_key[0]) {
        char auth[1024];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
        struct curl_slist *h = curl_slist_append(hc->headers, auth);
        hc->headers = h;
    }
    if (!hc->base_url || !hc->curl || !hc->headers) {
        http_client_free(hc);
        return NULL;
    }
    return hc;
}

void http_client_free(struct http_client *hc)
{
    if (!hc)
        return;
    if (hc->curl)
        curl_easy_cleanup(hc->curl);
    curl_slist_free_all(hc->headers);
    free(hc->base_url);
    free(hc->body);
    free(hc);
}

void http_client_set_timeout(struct http_client *hc, long timeout_ms)
{
    if (timeout_ms > 0)
        hc->timeout_ms = timeout_ms;
}

int http_client_send(struct http_client *hc, const char *method, const char *path,
                     const char *body, struct http_response *resp)
{
    char url[2048];
    snprintf(url, sizeof(url), "%s%s", hc->base_url, path);
    hc->len = 0;
    if (hc->body)
        hc->body[0] = '\0';
    CURL *c = hc->curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hc->headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body ? (long)strlen(body) : 0L);
    if (!body && strcmp(method, "GET") == 0)
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, hc);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, hc->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, hc->timeout_ms < 5000 ? hc->timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);

    memset(resp, 0, sizeof(*resp));
    CURLcode rc = curl_easy_perform(c);
    resp->body = hc->body ? hc->body : "";
    resp->body_len = hc->len;
    if (rc != CURLE_OK) {
        snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(rc));
        return 0;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    resp->status = (int)status;
    return resp->status;
}
