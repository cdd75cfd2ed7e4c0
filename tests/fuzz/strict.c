/* strict — the request-head checks libevent's parser leaves to the gateway, in process: a set
 * of header lines ("Name: value", one per line, as libevent's parser hands them over through
 * evhttp_add_header) checked by http_strict_check_head, the Content-Type charset check on the
 * same text, and the NUL guard on a connection's input, fed the raw input in pieces. (head.c
 * sends whole requests through libevent's parser, over a socket and so much slower.)
 *
 * Checks: a refusal is answered (bad_request); the verdict does not depend on the headers'
 * order, and an accepted head stays accepted with every header repeated. The NUL guard turns each
 * NUL into 0x01 and leaves every other byte as it was, however the bytes arrive. The
 * chunk-extension tracker (chunkext.h), fed the same bytes whole and in pieces, leaves the same
 * bytes both ways and changes none but a `;` or a tab, into a space. */
#include "tests/fuzz/fuzz.h"

#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#include "gateway/http/chunkext.h"
#include "gateway/http/strict.h"

#define HEADERS_MAX 64

/* The header lines of text that evhttp_add_header takes (what libevent's parser would hand
 * over), split in place. */
struct head {
    char *key[HEADERS_MAX], *value[HEADERS_MAX];
    int n;
};

static void split_head(char *text, struct head *h)
{
    struct evkeyvalq probe;
    TAILQ_INIT(&probe);
    h->n = 0;
    for (char *line = text, *next; line && h->n < HEADERS_MAX; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *value = colon + 1 + strspn(colon + 1, " ");
        if (evhttp_add_header(&probe, line, value) == 0) {
            h->key[h->n] = line;
            h->value[h->n++] = value;
        }
    }
    evhttp_clear_headers(&probe);
}

/* http_strict_check_head on h's headers in the order order[0..n) gives; a refusal must be
 * answered. */
static bool check_head(const struct head *h, const int *order, int n)
{
    struct fuzz_answer answer = {0};
    struct request *r = fuzz_request_new(NULL, 0, &answer);
    struct evkeyvalq *headers = evhttp_request_get_input_headers(r->req);
    for (int k = 0; k < n; k++)
        if (evhttp_add_header(headers, h->key[order[k]], h->value[order[k]]) < 0)
            abort();
    bool ok = http_strict_check_head(r);
    if (ok) {
        FUZZ_CHECK(answer.text == NULL, "accepted and answered");
        fuzz_request_free(r);
    } else {
        FUZZ_CHECK(answer.text && strstr(answer.text, "\"bad_request\""), "refused: %s",
                   answer.text ? answer.text : "(no answer)");
    }
    fuzz_answer_free(&answer);
    return ok;
}

/* The verdict does not depend on the headers' order, and repeating every header of an
 * accepted head leaves it accepted (identical repeats are harmless). */
static void check_heads(char *text)
{
    struct head h;
    split_head(text, &h);
    int order[2 * HEADERS_MAX];
    for (int k = 0; k < h.n; k++)
        order[k] = k;
    bool ok = check_head(&h, order, h.n);
    for (int k = 0; k < h.n; k++)
        order[k] = h.n - 1 - k;
    FUZZ_CHECK(check_head(&h, order, h.n) == ok, "the verdict changed with the order");
    for (int k = 0; k < 2 * h.n; k++)
        order[k] = k / 2;
    FUZZ_CHECK(!ok || check_head(&h, order, 2 * h.n), "repeated headers were refused");
}

/* Feeds data to a guarded connection's input in pieces whose sizes the data's own bytes pick. */
static void check_nul_guard(const uint8_t *data, size_t size)
{
    static struct event_base *base;
    if (!base && !(base = event_base_new()))
        abort();
    struct bufferevent *bev = http_strict_bevcb(base, NULL);
    FUZZ_CHECK(bev != NULL, "no bufferevent");
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_unfreeze(in, 0); /* as the socket's read callback does before it adds bytes */
    for (size_t o = 0; o < size;) {
        size_t piece = 1 + data[o] % 17;
        if (piece > size - o)
            piece = size - o;
        if (evbuffer_add(in, data + o, piece) < 0)
            abort();
        o += piece;
    }
    FUZZ_CHECK(evbuffer_get_length(in) == size, "bytes lost");
    const uint8_t *seen = evbuffer_pullup(in, -1);
    for (size_t i = 0; i < size; i++)
        FUZZ_CHECK(seen[i] == (data[i] ? data[i] : 1), "byte %zu is %u, sent %u", i, seen[i],
                   data[i]);
    bufferevent_free(bev);
    event_base_loop(base, EVLOOP_NONBLOCK); /* the bufferevent's memory is freed by the loop */
}

/* What the chunk-extension tracker leaves of data fed in pieces of 1 + data[o] % step bytes. */
static uint8_t *through_chunkext(const uint8_t *data, size_t size, size_t step)
{
    struct evbuffer *in = evbuffer_new();
    struct chunkext t;
    uint8_t *out = malloc(size + 1);
    if (!in || !out)
        abort();
    chunkext_init(&t);
    for (size_t o = 0; o < size;) {
        size_t piece = step ? 1 + data[o] % step : size;
        if (piece > size - o)
            piece = size - o;
        if (evbuffer_add(in, data + o, piece) < 0)
            abort();
        chunkext_feed(&t, in, evbuffer_get_length(in) - piece, piece);
        o += piece;
    }
    FUZZ_CHECK(evbuffer_remove(in, out, size) == (int)size, "bytes lost");
    evbuffer_free(in);
    return out;
}

/* The tracker reads the same however the stream is split, and changes only `;` or a tab,
 * into a space. */
static void check_chunkext(const uint8_t *data, size_t size)
{
    uint8_t *whole = through_chunkext(data, size, 0), *pieces = through_chunkext(data, size, 13);
    for (size_t i = 0; i < size; i++) {
        FUZZ_CHECK(whole[i] == pieces[i], "byte %zu depends on how the input was split", i);
        FUZZ_CHECK(whole[i] == data[i] || (whole[i] == ' ' && (data[i] == ';' || data[i] == '\t')),
                   "byte %zu changed from %u to %u", i, data[i], whole[i]);
    }
    free(whole);
    free(pieces);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring(data, size);
    http_strict_charset_ok(text);
    check_heads(text);
    free(text);
    check_nul_guard(data, size);
    check_chunkext(data, size);
    return 0;
}
