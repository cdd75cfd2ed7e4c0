/* batcher: group commit driven by a real event base and a fake submit function that records
 * each statement instead of sending it; the cases then answer the statements with results
 * built by libpq's own PGresult constructors. They check that items added in one loop
 * iteration share a statement, batch_max splits a queue, at most inflight_max statements are
 * out at once, a failed or refused statement fails every item it carried, items with one key
 * never share a statement, a kind's answer can queue its item again, and everything queued
 * is written (and the batcher idle) once the statements in flight come back, as a draining
 * gateway needs; and that a kind with a columns callback sends the parameters it renders. The SQL
 * itself is covered by the integration tests. */
#include <event2/event.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/jobs/batcher.h"
#include "tests/unit/harness.h"

#define ITEMS_MAX 16
#define SENT_MAX 16

/* A statement the fake submit accepted and the test has not answered yet. */
struct sent {
    int stmt;
    int nparams;
    char *doc;      /* $1, the items' document */
    char extra[32]; /* $2, when there is one */
    char all[128];  /* every parameter, " | " between them */
    pgpool_cb cb;
    void *arg;
};

/* One test item: the batcher's item and what happened to it. */
struct test_item {
    struct batcher_item item;
    char row[32];
    int answers; /* times the kind answered it */
    int failures;
    enum batcher_failure why;
    bool res_seen; /* failed with a result (not NULL) */
    int requeue;   /* answer returns false this many times first */
};

struct fake {
    struct event_base *base;
    struct sent sent[SENT_MAX];
    int nsent, sent_total;
    bool refuse; /* submit returns -1 */
    struct test_item items[ITEMS_MAX];
};

static int fake_submit(void *db, int stmt, int nparams, const char *const *values, pgpool_cb cb,
                       void *arg)
{
    struct fake *f = db;
    if (f->refuse || f->nsent == SENT_MAX)
        return -1;
    struct sent *s = &f->sent[f->nsent++];
    f->sent_total++;
    *s = (struct sent){.stmt = stmt, .nparams = nparams, .cb = cb, .arg = arg};
    s->doc = strdup(values[0]);
    if (nparams > 1)
        snprintf(s->extra, sizeof(s->extra), "%s", values[1]);
    size_t len = 0;
    for (int i = 0; i < nparams && len < sizeof(s->all); i++)
        len +=
            (size_t)snprintf(s->all + len, sizeof(s->all) - len, "%s%s", i ? " | " : "", values[i]);
    return 0;
}

static struct test_item *item_of(struct batcher_item *it)
{
    return (struct test_item *)(void *)it; /* the batcher item comes first */
}

static bool answer(struct batcher_item *it, const PGresult *res, int row)
{
    struct test_item *t = item_of(it);
    (void)res;
    (void)row;
    if (t->requeue > 0) {
        t->requeue--;
        return false;
    }
    t->answers++;
    return true;
}

static void failed(struct batcher_item *it, enum batcher_failure why, const PGresult *res)
{
    struct test_item *t = item_of(it);
    t->failures++;
    t->why = why;
    t->res_seen = res != NULL;
}

enum { STMT = 7 };

static const struct batcher_kind kind = {
    .name = "test", .stmt = STMT, .answer = answer, .failed = failed};

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->base = event_base_new();
    for (int i = 0; i < ITEMS_MAX; i++) {
        struct test_item *t = &f->items[i];
        snprintf(t->row, sizeof(t->row), "\"n\":%d}", i);
        t->item.row = t->row;
        t->item.len = strlen(t->row);
    }
}

/* Runs what the loop has ready: the batcher's deferred flush. */
static void run_loop(struct fake *f) { event_base_loop(f->base, EVLOOP_NONBLOCK); }

/* The items' places in statement s's document, in order: {"i":k,... for each item. */
static int doc_items(const struct sent *s)
{
    int n = 0;
    for (const char *p = s->doc; (p = strstr(p, "{\"i\":")); p++)
        n++;
    return n;
}

/* A result answering the first nrows items of statement s (column 0 is k), or every row
 * when nrows is -1. */
static PGresult *result_for(const struct sent *s, int nrows)
{
    char name[] = "i", text[16];
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc col = {.name = name, .typid = 23, .typlen = 4, .atttypmod = -1};
    if (!res || !PQsetResultAttrs(res, 1, &col))
        return res;
    int n = nrows < 0 ? doc_items(s) : nrows;
    for (int k = 0; k < n; k++) {
        snprintf(text, sizeof(text), "%d", k);
        PQsetvalue(res, k, 0, text, (int)strlen(text));
    }
    return res;
}

/* Answers the oldest statement in flight: with rows for its items (nrows -1: all), or as
 * failed (fail_res: a failed result; else the lost-connection NULL). Then runs the loop, so
 * whatever the answer scheduled is sent. */
static void complete(struct fake *f, int nrows, bool fail, bool fail_res)
{
    struct sent s = f->sent[0];
    memmove(&f->sent[0], &f->sent[1], (size_t)(f->nsent - 1) * sizeof(f->sent[0]));
    f->nsent--;
    PGresult *res = !fail      ? result_for(&s, nrows)
                    : fail_res ? PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR)
                               : NULL;
    s.cb(res, s.arg);
    PQclear(res);
    free(s.doc);
    run_loop(f);
}

static void fake_done(struct fake *f, struct batcher *b)
{
    while (f->nsent > 0)
        free(f->sent[--f->nsent].doc);
    batcher_free(b);
    event_base_free(f->base);
}

static void add(struct batcher *b, struct fake *f, int i) { batcher_add(b, &f->items[i].item); }

/* A batcher on a fresh fake with items 0..nadd-1 added in one loop iteration (and that
 * iteration run when nadd > 0). NULL when it cannot be made. */
static struct batcher *start(struct fake *f, int batch_max, int inflight_max, int nadd)
{
    fake_init(f);
    struct batcher *b =
        batcher_new(f->base, fake_submit, f, &kind, 0, NULL, batch_max, inflight_max);
    for (int i = 0; b && i < nadd; i++)
        add(b, f, i);
    if (b && nadd > 0)
        run_loop(f);
    return b;
}

/* Items 0..n-1 each failed once, for why, and none was answered. */
static void check_failed(const struct fake *f, int n, enum batcher_failure why)
{
    for (int i = 0; i < n; i++) {
        CHECK_LONG(f->items[i].failures, 1);
        CHECK_LONG(f->items[i].why, why);
        CHECK_LONG(f->items[i].answers, 0);
    }
}

/* Items 0..n-1 each answered once and never failed. */
static void check_answered(const struct fake *f, int n)
{
    for (int i = 0; i < n; i++) {
        CHECK_LONG(f->items[i].answers, 1);
        CHECK_LONG(f->items[i].failures, 0);
    }
}

static void test_one_iteration_one_statement(const void *arg)
{
    struct fake f;
    struct batcher *b = start(&f, 100, 1, 0);
    REQUIRE(b);
    for (int i = 0; i < 5; i++)
        add(b, &f, i);
    CHECK_LONG(f.nsent, 0); /* nothing is sent before the loop iteration ends */
    CHECK(!batcher_idle(b));
    run_loop(&f);
    REQUIRE(f.nsent == 1);
    CHECK_LONG(f.sent[0].stmt, STMT);
    CHECK_LONG(f.sent[0].nparams, 1);
    CHECK_STR(f.sent[0].doc, "[{\"i\":0,\"n\":0},{\"i\":1,\"n\":1},{\"i\":2,\"n\":2},"
                             "{\"i\":3,\"n\":3},{\"i\":4,\"n\":4}]");
    complete(&f, -1, false, false);
    check_answered(&f, 5);
    CHECK(batcher_idle(b));
    CHECK_LONG(f.sent_total, 1);
    fake_done(&f, b);
}

static void test_batch_max_splits(const void *arg)
{
    struct fake f;
    struct batcher *b = start(&f, 4, 8, 10);
    REQUIRE(b);
    REQUIRE(f.nsent == 3);
    CHECK_LONG(doc_items(&f.sent[0]), 4);
    CHECK_LONG(doc_items(&f.sent[1]), 4);
    CHECK_LONG(doc_items(&f.sent[2]), 2);
    CHECK_CONTAINS(f.sent[1].doc, "{\"i\":0,\"n\":4}"); /* in order, numbered per statement */
    CHECK_CONTAINS(f.sent[2].doc, "{\"i\":1,\"n\":9}");
    while (f.nsent > 0)
        complete(&f, -1, false, false);
    check_answered(&f, 10);
    CHECK(batcher_idle(b));
    fake_done(&f, b);
}

/* Items arriving while inflight_max statements are out wait, and all of them go in the next
 * statement once one comes back. */
static void test_inflight_max(const void *arg)
{
    struct fake f;
    struct batcher *b = start(&f, 100, 2, 1);
    REQUIRE(b);
    add(b, &f, 1);
    run_loop(&f);
    CHECK_LONG(f.nsent, 2);
    for (int i = 2; i < 7; i++) {
        add(b, &f, i);
        run_loop(&f);
    }
    CHECK_LONG(f.nsent, 2); /* at the limit: the five wait */
    complete(&f, -1, false, false);
    CHECK_LONG(f.items[0].answers, 1);
    REQUIRE(f.nsent == 2);
    CHECK_LONG(doc_items(&f.sent[1]), 5);
    CHECK_CONTAINS(f.sent[1].doc, "{\"i\":0,\"n\":2}");
    CHECK_CONTAINS(f.sent[1].doc, "{\"i\":4,\"n\":6}");
    complete(&f, -1, false, false);
    complete(&f, -1, false, false);
    check_answered(&f, 7);
    CHECK_LONG(f.sent_total, 3);
    CHECK(batcher_idle(b));
    fake_done(&f, b);
}

static void test_fixed_params(const void *arg)
{
    struct fake f;
    fake_init(&f);
    char extra[] = "true";
    const char *params[1] = {extra};
    struct batcher *b = batcher_new(f.base, fake_submit, &f, &kind, 1, params, 100, 1);
    REQUIRE(b);
    extra[0] = 'X'; /* copied at construction */
    add(b, &f, 0);
    run_loop(&f);
    REQUIRE(f.nsent == 1);
    CHECK_LONG(f.sent[0].nparams, 2);
    CHECK_STR(f.sent[0].extra, "true");
    complete(&f, -1, false, false);
    fake_done(&f, b);
}

/* A failed statement (without a data or rollback SQLSTATE, so nothing is retried row by
 * row) fails every item it carried, once: with its result, or with none when the connection
 * was lost. */
static void test_failed_statement_fails_each(const void *arg)
{
    const bool *with_result = arg;
    struct fake f;
    struct batcher *b = start(&f, 100, 1, 3);
    REQUIRE(b);
    complete(&f, 0, true, *with_result);
    check_failed(&f, 3, BATCHER_FAILED);
    for (int i = 0; i < 3; i++)
        CHECK(f.items[i].res_seen == *with_result);
    CHECK_LONG(f.nsent, 0); /* nothing retried */
    CHECK(batcher_idle(b));
    fake_done(&f, b);
}

static void test_refused_statement_fails_each(const void *arg)
{
    struct fake f;
    struct batcher *b = start(&f, 100, 1, 0);
    REQUIRE(b);
    f.refuse = true;
    for (int i = 0; i < 3; i++)
        add(b, &f, i);
    run_loop(&f);
    check_failed(&f, 3, BATCHER_UNAVAILABLE);
    CHECK(batcher_idle(b));
    fake_done(&f, b);
}

/* Items the result has no row for fail; the others are answered. */
static void test_missing_row_fails_item(const void *arg)
{
    struct fake f;
    struct batcher *b = start(&f, 100, 1, 3);
    REQUIRE(b);
    complete(&f, 2, false, false);
    check_answered(&f, 2);
    CHECK_LONG(f.items[2].answers, 0);
    CHECK_LONG(f.items[2].failures, 1);
    CHECK_LONG(f.items[2].why, BATCHER_NO_ROW);
    CHECK(batcher_idle(b));
    fake_done(&f, b);
}

/* Two items with one key go to consecutive statements; the second keeps its place. */
static void test_same_key_never_shares(const void *arg)
{
    struct fake f;
    struct batcher *b = start(&f, 100, 1, 0);
    REQUIRE(b);
    f.items[0].item.key = 42;
    f.items[1].item.key = 42;
    f.items[2].item.key = 43;
    for (int i = 0; i < 3; i++)
        add(b, &f, i);
    run_loop(&f);
    REQUIRE(f.nsent == 1);
    CHECK_LONG(doc_items(&f.sent[0]), 2);
    CHECK_CONTAINS(f.sent[0].doc, "\"n\":0}");
    CHECK_CONTAINS(f.sent[0].doc, "\"n\":2}");
    CHECK_LACKS(f.sent[0].doc, "\"n\":1}");
    complete(&f, -1, false, false);
    REQUIRE(f.nsent == 1);
    CHECK_STR(f.sent[0].doc, "[{\"i\":0,\"n\":1}]");
    complete(&f, -1, false, false);
    check_answered(&f, 3);
    CHECK(batcher_idle(b));
    fake_done(&f, b);
}

/* An answer that declines (an insert that lost an idempotency race) queues the item again. */
static void test_answer_requeues(const void *arg)
{
    struct fake f;
    struct batcher *b = start(&f, 100, 1, 0);
    REQUIRE(b);
    f.items[1].requeue = 1;
    for (int i = 0; i < 2; i++)
        add(b, &f, i);
    run_loop(&f);
    complete(&f, -1, false, false);
    CHECK_LONG(f.items[0].answers, 1);
    CHECK_LONG(f.items[1].answers, 0);
    REQUIRE(f.nsent == 1);
    CHECK_STR(f.sent[0].doc, "[{\"i\":0,\"n\":1}]");
    complete(&f, -1, false, false);
    check_answered(&f, 2);
    CHECK(batcher_idle(b));
    fake_done(&f, b);
}

/* A draining gateway waits for batcher_idle: it stays false while anything is queued or in
 * flight, and everything queued behind full statements is still written. */
static void test_drain_flushes_everything(const void *arg)
{
    struct fake f;
    struct batcher *b = start(&f, 3, 1, 8);
    REQUIRE(b);
    CHECK(batcher_idle(NULL));
    int statements = 0;
    while (f.nsent > 0) {
        CHECK_LONG(f.nsent, 1); /* inflight_max */
        CHECK(!batcher_idle(b));
        complete(&f, -1, false, false);
        statements++;
    }
    CHECK_LONG(statements, 3);
    check_answered(&f, 8);
    CHECK(batcher_idle(b));
    fake_done(&f, b);
}

/* A columns kind's parameters: the items' rows without their closing braces as an array,
 * and their number; or out of memory when the first item's row is "oom}". */
static int test_columns(struct batcher_item *const *items, int n, struct strbuf *cols)
{
    if (strcmp(items[0]->row, "oom}") == 0)
        return -1;
    for (int k = 0; k < n; k++) {
        strbuf_add(&cols[0], k ? "," : "{", 1);
        strbuf_add(&cols[0], items[k]->row, items[k]->len - 1);
    }
    strbuf_add(&cols[0], "}", 1);
    char count[16];
    strbuf_add(&cols[1], count, (size_t)snprintf(count, sizeof(count), "%d", n));
    return 2;
}

static const struct batcher_kind columns_kind = {
    .name = "columns", .stmt = STMT, .columns = test_columns, .answer = answer, .failed = failed};

/* The callback's columns lead the parameters, the fixed ones follow; each statement starts
 * from empty columns; result rows still answer items by k. */
static void test_columns_callback(const void *arg)
{
    struct fake f;
    fake_init(&f);
    const char *params[1] = {"true"};
    struct batcher *b = batcher_new(f.base, fake_submit, &f, &columns_kind, 1, params, 3, 2);
    REQUIRE(b);
    for (int i = 0; i < 5; i++)
        add(b, &f, i);
    run_loop(&f);
    REQUIRE(f.nsent == 2);
    CHECK_LONG(f.sent[0].nparams, 3);
    CHECK_STR(f.sent[0].all, "{\"n\":0,\"n\":1,\"n\":2} | 3 | true");
    CHECK_STR(f.sent[1].all, "{\"n\":3,\"n\":4} | 2 | true");
    complete(&f, 3, false, false);
    complete(&f, 2, false, false);
    check_answered(&f, 5);
    CHECK(batcher_idle(b));
    fake_done(&f, b);
}

/* A columns callback out of memory fails every item of its batch, and nothing is sent. */
static void test_columns_nomem(const void *arg)
{
    struct fake f;
    fake_init(&f);
    struct batcher *b = batcher_new(f.base, fake_submit, &f, &columns_kind, 0, NULL, 100, 1);
    REQUIRE(b);
    snprintf(f.items[0].row, sizeof(f.items[0].row), "oom}");
    f.items[0].item.len = 4;
    for (int i = 0; i < 3; i++)
        add(b, &f, i);
    run_loop(&f);
    CHECK_LONG(f.sent_total, 0);
    check_failed(&f, 3, BATCHER_NOMEM);
    CHECK(batcher_idle(b));
    fake_done(&f, b);
}

void register_batcher_tests(void)
{
    test_add("batcher one loop iteration, one statement", test_one_iteration_one_statement, NULL);
    test_add("batcher batch_max splits the queue", test_batch_max_splits, NULL);
    test_add("batcher inflight_max holds the rest", test_inflight_max, NULL);
    test_add("batcher fixed parameters", test_fixed_params, NULL);
    static const bool with_result = true, lost = false;
    test_add("batcher lost connection fails each item", test_failed_statement_fails_each, &lost);
    test_add("batcher failed statement fails each item", test_failed_statement_fails_each,
             &with_result);
    test_add("batcher refused statement fails each item", test_refused_statement_fails_each, NULL);
    test_add("batcher missing row fails its item", test_missing_row_fails_item, NULL);
    test_add("batcher same key never shares a statement", test_same_key_never_shares, NULL);
    test_add("batcher declined answer queues again", test_answer_requeues, NULL);
    test_add("batcher drain flushes everything", test_drain_flushes_everything, NULL);
    test_add("batcher columns callback renders the parameters", test_columns_callback, NULL);
    test_add("batcher columns callback out of memory fails each item", test_columns_nomem, NULL);
}
