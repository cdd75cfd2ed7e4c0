/* fuzz — what several libFuzzer harnesses share: a failed check that aborts (so libFuzzer
 * saves the input), the input as a C string, bytes read off the front of the input as
 * settings, and a gateway request built in process (no socket) whose answer is kept for the
 * harness to read. See tests/fuzz/README.md. */
#ifndef FLOWSTATE_FUZZ_H
#define FLOWSTATE_FUZZ_H

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/gateway.h"
#include "gateway/http/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the code must keep: when it does not, says which and aborts, so libFuzzer
 * keeps the input as a crasher. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* data[0..size) with a NUL after it (malloc'ed; the caller frees). Inputs may hold NUL
 * bytes of their own, which cut the string short for C-string APIs. */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* The input's next byte (0 once it is used up), for harnesses that read settings from the
 * input's first bytes so the fuzzer explores them along with the text. */
static inline unsigned fuzz_byte(const uint8_t **data, size_t *size)
{
    if (*size == 0)
        return 0;
    (*size)--;
    return *(*data)++;
}

/* ---- a gateway request in process ------------------------------------------------------- */

/* What the gateway answered a fuzz request: the reply body, or NULL when none was sent. */
struct fuzz_answer {
    char *text;
    size_t len;
};

/* The one process-wide gateway fuzz requests belong to: only the fields a request's life
 * reads (ids, recycling, the in-flight count) are set, and no loop or database is behind it.
 * Logging is quiet apart from errors. */
static inline struct gateway *fuzz_gateway(void)
{
    static struct gateway gw;
    if (!gw.id_prefix[0]) {
        memcpy(gw.id_prefix, "fuzz0000", 9);
        log_set_level(LOG_ERROR);
    }
    return &gw;
}

/* Copies everything written to a request's output buffer (the reply body: request_reply
 * adds it before sending) into the answer. */
static inline void fuzz_capture(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                                void *arg)
{
    struct fuzz_answer *a = arg;
    if (info->n_added == 0)
        return;
    size_t len = evbuffer_get_length(buf);
    char *text = realloc(a->text, len + 1);
    if (!text)
        abort();
    evbuffer_copyout(buf, text, len);
    text[len] = '\0';
    a->text = text;
    a->len = len;
}

/* A request carrying body[0..len) (may be NULL), its answer captured in *a (zeroed by the
 * caller). A reply frees the request and its evhttp_request (which has no connection);
 * when nothing answered it, the harness calls fuzz_request_free. */
static inline struct request *fuzz_request_new(const char *body, size_t len, struct fuzz_answer *a)
{
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    struct request *r = req ? request_new(fuzz_gateway(), req) : NULL;
    if (!r || (len && evbuffer_add(evhttp_request_get_input_buffer(req), body, len) < 0) ||
        !evbuffer_add_cb(evhttp_request_get_output_buffer(req), fuzz_capture, a))
        abort();
    return r;
}

/* Frees a request nothing answered. */
static inline void fuzz_request_free(struct request *r)
{
    struct evhttp_request *req = r->req;
    request_free(r);
    evhttp_request_free(req);
}

/* Frees the answer's text. */
static inline void fuzz_answer_free(struct fuzz_answer *a)
{
    free(a->text);
    a->text = NULL;
    a->len = 0;
}

#endif
