/* jobwait: a golden table of fs_jobs NOTIFY payloads (as sql/004_notify.sql's triggers
 * write them) against the job ids that wake waiters, or "re-read everyone". */
#include <stdio.h>
#include <string.h>

#include "gateway/jobs/jobwait.h"
#include "tests/unit/harness.h"

#define ALL "all" /* the payload asks every waiter to re-read */

struct payload_case {
    const char *payload;
    const char *want; /* ids woken, comma-separated in payload order, or ALL */
};

static const struct payload_case payload_cases[] = {
    {"{\"completed\":[1,2,3]}", "1,2,3"},
    {"{\"completed\":[7],\"failed\":[9],\"cancelled\":[11]}", "7,9,11"},
    {"{\"pending\":[1,2],\"running\":[3]}", ""}, /* nothing finished */
    {"{\"pending\":[1],\"failed\":[4],\"running\":[5]}", "4"},
    {"{}", ""},
    {"{\"completed\":[]}", ""},
    {"{\"completed\":[9007199254740991]}", "9007199254740991"},
    {"{\"completed\": [ 12 , 13 ]}", "12,13"},
    {"{\"unknown_status\":[1]}", ""},
    /* told to re-read, or not understood: everyone re-reads */
    {"{\"truncated\":true}", ALL},
    {"{\"truncated\":false}", ALL},
    {"", ALL},
    {"not json", ALL},
    {"[1,2]", ALL},
    {"{\"completed\":5}", ALL},
    {"{\"completed\":[\"5\"]}", ALL},
    {"{\"completed\":[0]}", ALL},
    {"{\"completed\":[-3]}", ALL},
    {"{\"completed\":[1.5]}", ALL},
    {"{\"completed\":[1e300]}", ALL},
    {"{\"completed\":[null]}", ALL},
    {"{\"completed\":[1],\"failed\":[\"x\"]}", ALL}, /* all or nothing */
    {"{\"completed\":[1]", ALL},
};

struct collected {
    char text[256];
};

static void collect(long long id, void *arg)
{
    struct collected *c = arg;
    size_t o = strlen(c->text);
    snprintf(c->text + o, sizeof(c->text) - o, "%s%lld", o ? "," : "", id);
}

static void payload_case_run(const void *arg)
{
    const struct payload_case *pc = arg;
    struct collected got = {{0}};
    int rc = jobwait_parse_payload(pc->payload, collect, &got);
    if (strcmp(pc->want, ALL) == 0) {
        CHECK_LONG(rc, -1);
        CHECK_STR(got.text, "");
    } else {
        CHECK_LONG(rc, 0);
        CHECK_STR(got.text, pc->want);
    }
}

void register_jobwait_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(payload_cases); i++)
        test_addf(payload_case_run, &payload_cases[i], "jobwait payload %s",
                  payload_cases[i].payload);
}
