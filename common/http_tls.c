/* http_tls — HTTPS through libcurl loaded at first use (see http_tls.h). */
#include "common/http_tls.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The part of libcurl's API we call, resolved once. */
static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} curl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];

#define RESOLVE(field, name)                                                                     \
    do {                                                                                         \
        *(void **)&curl.field = dlsym(lib, name);                                                \
        if (!curl.field) {                                                                       \
            snprintf(load_error, sizeof(load_error), "https needs libcurl: %s has no %s",        \
                     "libcurl.so.4", name);                                                      \
            return;                                                                              \
        }                                                                                        \
    } while (0)

static void load(void)
{
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof(load_error), "https needs libcurl (package libcurl4): %s", dlerror());
        return;
    }
    RESOLVE(global_init, "curl_global_init");
    RESOLVE(easy_init, "curl_easy_init");
    RESOLVE(easy_cleanup, "curl_easy_cleanup");
    RESOLVE(easy_setopt, "curl_easy_setopt");
    RESOLVE(easy_perform, "curl_easy_perform");
    RESOLVE(easy_getinfo, "curl_easy_getinfo");
    RESOLVE(easy_strerror, "curl_easy_strerror");
    RESOLVE(slist_append, "curl_slist_append");
    RESOLVE(slist_free_all, "curl_slist_free_all");
    if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        snprintf(load_error, sizeof(load_error), "https needs libcurl: curl_global_init failed");
}

struct http_tls {
    CURL *easy;
    struct curl_slist *headers;
};

struct http_tls *http_tls_new(const char *const *headers, char *err, size_t errlen)
{
    pthread_once(&load_once, load);
    if (load_error[0]) {
        snprintf(err, errlen, "%s", load_error);
        return NULL;
    }
    struct http_tls *t = calloc(1, sizeof(*t));
    if (!t || !(t->easy = curl.easy_init())) {
        snprintf(err, errlen, "out of memory");
        http_tls_free(t);
        return NULL;
    }
    for (const char *const *h = headers; *h; h++) {
        struct curl_slist *grown = curl.slist_append(t->headers, *h);
        if (!grown) {
            snprintf(err, errlen, "out of memory");
            http_tls_free(t);
            return NULL;
        }
        t->headers = grown;
    }
    return t;
}

void http_tls_free(struct http_tls *t)
{
    if (!t)
        return;
    if (t->easy)
        curl.easy_cleanup(t->easy);
    if (t->headers)
        curl.slist_free_all(t->headers);
    free(t);
}

struct sink {
    struct strbuf *out;
    int overflow;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    if (http_body_append(s->out, data, size * nmemb) < 0) {
        s->overflow = 1;
        return 0; /* makes curl fail the transfer */
    }
    return size * nmemb;
}

int http_tls_send(struct http_tls *t, const char *method, const char *url, const char *body, size_t body_len,
                  long timeout_ms, long connect_ms, struct strbuf *out, char *err, size_t errlen)
{
    CURL *c = t->easy;
    struct sink sink = {out, 0};
    curl.easy_setopt(c, CURLOPT_URL, url);
    curl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl.easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
    curl.easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl.easy_setopt(c, CURLOPT_POSTFIELDSIZE, body ? (long)body_len : 0L);
    if (!body && strcmp(method, "GET") == 0)
        curl.easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl.easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl.easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl.easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl.easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    CURLcode rc = curl.easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", sink.overflow ? "the answer is too large" : curl.easy_strerror(rc));
        return 0;
    }
    long status = 0;
    curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return (int)status;
}
