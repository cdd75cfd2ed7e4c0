/* Unit tests for the worker's job queues (worker/runtime/jobq.c): FIFO order, removal from
 * the head, middle and tail, appending one queue to another, and lengths kept right. */
#include <stdlib.h>

#include "tests/unit/harness.h"
#include "worker/runtime/shared.h"

/* A script of operations on a queue of five jobs (ids 1..5): 'p' pushes the next id,
 * 'o' pops, digits remove that id, 'a' appends a queue of the next two ids, 'e' appends an
 * empty queue; want is the ids left, head to tail. */
struct jobq_row {
    const char *name;
    const char *ops;
    const char *want;
};

static const struct jobq_row rows[] = {
    {"fifo", "ppppp", "12345"},
    {"pop head", "pppo", "23"},
    {"pop all", "ppoo", ""},
    {"pop empty", "o", ""},
    {"remove head", "ppp1", "23"},
    {"remove middle", "ppp2", "13"},
    {"remove tail then push", "ppp3p", "124"},
    {"remove absent", "pp5", "12"},
    {"remove only", "p1p", "2"},
    {"append to empty", "a", "12"},
    {"append after", "pa", "123"},
    {"append then push", "pap", "1234"},
    {"append empty", "pe", "1"},
    {"append empty to empty", "e", ""},
    {"append then remove tail", "pa3p", "124"},
    {"append then pop all", "aoo", ""},
};

static void script_case(const void *arg)
{
    const struct jobq_row *row = arg;
    struct job jobs[5] = {{0}};
    for (int i = 0; i < 5; i++)
        jobs[i].id = i + 1;
    struct jobq q = {0};
    int next = 0;
    for (const char *op = row->ops; *op; op++) {
        if (*op == 'p') {
            jobq_push(&q, &jobs[next++]);
        } else if (*op == 'a' || *op == 'e') {
            struct jobq more = {0};
            for (int k = 0; *op == 'a' && k < 2; k++)
                jobq_push(&more, &jobs[next++]);
            jobq_append(&q, &more);
            CHECK(more.head == NULL && more.tail == NULL && more.len == 0);
        } else if (*op == 'o') {
            jobq_pop(&q);
        } else {
            jobq_remove(&q, &jobs[*op - '1']);
        }
    }
    char got[8] = "";
    int n = 0;
    for (struct job *j = q.head; j && n < 7; j = j->next)
        got[n++] = (char)('0' + j->id);
    got[n] = '\0';
    CHECK_STR(got, row->want);
    CHECK_LONG(q.len, n);
    CHECK(n == 0 ? q.tail == NULL
                 : q.tail != NULL && q.tail->next == NULL && q.tail->id == row->want[n - 1] - '0');
}

void register_jobq_tests(void)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        test_addf(script_case, &rows[i], "jobq %s", rows[i].name);
}
