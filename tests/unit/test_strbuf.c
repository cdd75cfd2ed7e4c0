/* strbuf: appends keep the bytes in order and the string NUL-terminated, through growth
 * and with empty or embedded-NUL appends. */
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "tests/unit/harness.h"

static void grows_in_order(const void *arg)
{
    (void)arg;
    struct strbuf b = {0};
    CHECK_LONG(strbuf_add(&b, "", 0), 0);
    REQUIRE(b.p != NULL);
    CHECK_STR(b.p, "");
    for (int i = 0; i < 1000; i++)
        REQUIRE(strbuf_add(&b, "0123456789", 10) == 0);
    CHECK_LONG(b.len, 10000);
    CHECK(b.cap > b.len && b.p[b.len] == '\0');
    CHECK(memcmp(b.p + 9990, "0123456789", 10) == 0);
    free(b.p);
}

static void embedded_nul(const void *arg)
{
    (void)arg;
    struct strbuf b = {0};
    REQUIRE(strbuf_add(&b, "a\0b", 3) == 0);
    CHECK_LONG(b.len, 3);
    CHECK(memcmp(b.p, "a\0b", 4) == 0);
    free(b.p);
}

void register_strbuf_tests(void)
{
    test_add("strbuf grows in order", grows_in_order, NULL);
    test_add("strbuf embedded NUL", embedded_nul, NULL);
}
