/* Unit tests for gateway/http/deadline: the head's end is found however the bytes are split
 * (blank lines before the request line skipped), the head deadline counts from the first byte
 * and is not pushed back by later ones, the body's rate is an average after the grace, and a
 * pipelined next request starts its own clock. */
#include <event2/buffer.h>
#include <string.h>

#include "gateway/http/deadline.h"
#include "tests/unit/harness.h"

static const struct deadline_limits lim = {.head_s = 10, .min_rate = 100};

/* Appends text to buf one piece of step bytes at a time, feeding each to d at now. */
static void feed(struct deadline *d, struct evbuffer *buf, const char *text, size_t step,
                 double now)
{
    for (size_t i = 0, n = strlen(text); i < n; i += step) {
        size_t len = n - i < step ? n - i : step;
        evbuffer_add(buf, text + i, len);
        deadline_feed(d, buf, evbuffer_get_length(buf) - len, len, now);
    }
}

static void head_end_case(const void *arg)
{
    size_t step = (size_t)(long)arg;
    struct evbuffer *buf = evbuffer_new();
    struct deadline d;
    deadline_init(&d, &lim);
    CHECK(deadline_due(&d) == 0); /* idle: no clock */
    feed(&d, buf, "\r\nPOST / HTTP/1.1\r\nHost: x\r\n", step, 100);
    CHECK(d.phase == DEADLINE_HEAD);
    CHECK(deadline_due(&d) == 110);
    feed(&d, buf, "Content-Length: 9\r\n", step, 105); /* later bytes do not move it */
    CHECK(deadline_due(&d) == 110);
    CHECK(!deadline_expired(&d, 109.9));
    CHECK(deadline_expired(&d, 110));
    feed(&d, buf, "\r\nabcd", step, 108);
    CHECK(d.phase == DEADLINE_BODY);
    CHECK_LONG((long)d.body_bytes, 4);
    /* 4 bytes at 100/s last 0.04 s: due when the grace ends, 10 s after the head. */
    CHECK(deadline_due(&d) == 118);
    evbuffer_free(buf);
}

static void body_rate_case(const void *arg)
{
    (void)arg;
    struct evbuffer *buf = evbuffer_new();
    struct deadline d;
    deadline_init(&d, &lim);
    feed(&d, buf, "PUT / HTTP/1.1\n\n", 64, 0);
    CHECK(d.phase == DEADLINE_BODY);
    static char body[1501];
    memset(body, 'x', 1500);
    feed(&d, buf, body, 1500, 1);
    /* 1,500 bytes last 15 s at 100/s from the head's end (0): due at 15, past the grace. */
    CHECK(deadline_due(&d) == 15);
    CHECK(!deadline_expired(&d, 14.9));
    CHECK(deadline_expired(&d, 15));
    deadline_handled(&d);
    CHECK(deadline_due(&d) == 0);
    evbuffer_free(buf);
}

static void next_request_case(const void *arg)
{
    (void)arg;
    struct evbuffer *buf = evbuffer_new();
    struct deadline d;
    deadline_init(&d, &lim);
    feed(&d, buf, "GET / HTTP/1.1\r\n\r\n", 64, 0);
    deadline_handled(&d);
    evbuffer_drain(buf, evbuffer_get_length(buf));
    CHECK(!deadline_next(&d, buf, 5)); /* nothing of a next request: idle */
    CHECK(deadline_due(&d) == 0);
    deadline_handled(&d);
    evbuffer_add(buf, "GET /b HT", 9); /* pipelined, read while the first was handled */
    CHECK(deadline_next(&d, buf, 7));
    CHECK(d.phase == DEADLINE_HEAD);
    CHECK(deadline_due(&d) == 17);
    const struct deadline_limits off = {.head_s = 10, .min_rate = 0};
    deadline_init(&d, &off);
    feed(&d, buf, "TP/1.1\r\n\r\n", 64, 8);
    CHECK(deadline_due(&d) == 0); /* no minimum rate: no body clock */
    evbuffer_free(buf);
}

void register_deadline_tests(void)
{
    static const long steps[] = {1, 2, 3, 7, 1000};
    for (size_t i = 0; i < COUNT_OF(steps); i++)
        test_addf(head_end_case, (const void *)steps[i], "deadline head end, %ld-byte pieces",
                  steps[i]);
    test_add("deadline body rate is an average after the grace", body_rate_case, NULL);
    test_add("deadline next request on a kept-alive connection", next_request_case, NULL);
}
