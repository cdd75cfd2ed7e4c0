/* Unit tests for gateway/http/chunkext: the byte after a chunk size's digits becomes a space
 * when it is `;` or a tab, however the stream is split into reads; nothing else changes, not
 * in a Content-Length body, a chunk's data, trailers or a GET's stray bytes; pipelined
 * requests are followed; and anything evhttp would read differently stops the tracker. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http/chunkext.h"
#include "tests/unit/harness.h"

/* What evhttp would read after text arrived in pieces of step bytes (malloc'd), and the
 * tracker's state at the end. */
static char *through(const char *text, size_t step, enum chunkext_state *state)
{
    struct evbuffer *buf = evbuffer_new();
    struct chunkext t;
    chunkext_init(&t);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += step) {
        size_t len = n - i < step ? n - i : step;
        evbuffer_add(buf, text + i, len);
        chunkext_feed(&t, buf, evbuffer_get_length(buf) - len, len);
    }
    char *out = calloc(1, n + 1);
    evbuffer_remove(buf, out, n);
    evbuffer_free(buf);
    if (state)
        *state = t.state;
    return out;
}

struct rewrite {
    const char *in, *out;
    enum chunkext_state end;
};

static const struct rewrite rewrites[] = {
    /* Extensions, with and without a value, after a tab, on every chunk and the last one. */
    {"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5;name=val\r\nab;cd\r\n3\t;x\r\n;;;\r\n0;last\r\nTrailer-A: 1;2\r\n\r\n",
     "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5 name=val\r\nab;cd\r\n3 ;x\r\n;;;\r\n0 last\r\nTrailer-A: 1;2\r\n\r\n",
     CHUNKEXT_HEAD},
    /* A Content-Length body that looks like chunks is left alone, and the pipelined chunked
     * request after it is followed; so is a GET whose stray Content-Length evhttp ignores. */
    {"PUT /b HTTP/1.1\r\nContent-Length: 8\r\n\r\n1a;x\r\n\r\n"
     "GET /c HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
     "PATCH /d HTTP/1.1\r\ntransfer-encoding:  CHUNKED \r\n\r\n2;q\r\nhi\r\n0\r\n\r\n",
     "PUT /b HTTP/1.1\r\nContent-Length: 8\r\n\r\n1a;x\r\n\r\n"
     "GET /c HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
     "PATCH /d HTTP/1.1\r\ntransfer-encoding:  CHUNKED \r\n\r\n2 q\r\nhi\r\n0\r\n\r\n",
     CHUNKEXT_HEAD},
    /* Bare LF line ends, as evhttp reads them too. */
    {"POST /e HTTP/1.1\nTransfer-Encoding: chunked\n\nA;v=\"q\"\n0123456789\n0\n\n",
     "POST /e HTTP/1.1\nTransfer-Encoding: chunked\n\nA v=\"q\"\n0123456789\n0\n\n", CHUNKEXT_HEAD},
    /* Not chunked (another coding): no rewriting, and no body without a length. */
    {"POST /f HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n1;x\r\n",
     "POST /f HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n1;x\r\n", CHUNKEXT_HEAD},
    /* Things evhttp reads otherwise stop the tracker. */
    {"POST /g HTTP/1.1\r\nX: a\r\n folded\r\nTransfer-Encoding: chunked\r\n\r\n1;x\r\n",
     "POST /g HTTP/1.1\r\nX: a\r\n folded\r\nTransfer-Encoding: chunked\r\n\r\n1;x\r\n",
     CHUNKEXT_OFF},
    {"POST /h HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n 1;x\r\n",
     "POST /h HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n 1;x\r\n", CHUNKEXT_OFF},
    {"POST /i HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+1;x\r\n",
     "POST /i HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+1;x\r\n", CHUNKEXT_OFF},
    {"POST /j HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n1;x\r\n",
     "POST /j HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n1;x\r\n",
     CHUNKEXT_OFF},
    {"POST /k HTTP/1.1\r\nContent-Length: +3\r\n\r\n1;x\r\n",
     "POST /k HTTP/1.1\r\nContent-Length: +3\r\n\r\n1;x\r\n", CHUNKEXT_OFF},
    {"\r\nPOST /l HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;x\r\n",
     "\r\nPOST /l HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;x\r\n", CHUNKEXT_OFF},
    {"POST /m HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1x;x\r\n",
     "POST /m HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1x;x\r\n", CHUNKEXT_OFF},
    {"POST /n HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff;x\r\n",
     "POST /n HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff;x\r\n", CHUNKEXT_OFF},
};

static void rewrite_case(const void *arg)
{
    static const size_t steps[] = {1, 2, 3, 5, 7, 64, 4096};
    const struct rewrite *r = arg;
    for (size_t i = 0; i < COUNT_OF(steps); i++) {
        enum chunkext_state end;
        char *out = through(r->in, steps[i], &end);
        CHECK_STR(out, r->out);
        CHECK(end == r->end);
        free(out);
    }
}

/* A chunk larger than one read, split anywhere, is skipped whole: `;` in its data stays. */
static void long_chunk_case(const void *arg)
{
    (void)arg;
    char body[9000];
    memset(body, ';', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    char *in = NULL, *want = NULL;
    CHECK(asprintf(&in,
                   "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%zx;e\r\n%s\r\n0\r\n\r\n",
                   strlen(body), body) > 0);
    CHECK(asprintf(&want,
                   "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%zx e\r\n%s\r\n0\r\n\r\n",
                   strlen(body), body) > 0);
    for (size_t step = 1; step < 5000; step = step * 3 + 1) {
        enum chunkext_state end;
        char *out = through(in, step, &end);
        CHECK(strcmp(out, want) == 0);
        CHECK(end == CHUNKEXT_HEAD);
        free(out);
    }
    free(in);
    free(want);
}

void register_chunkext_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(rewrites); i++)
        test_addf(rewrite_case, &rewrites[i], "chunkext case %zu", i);
    test_add("chunkext long chunk split anywhere", long_chunk_case, NULL);
}
