/* jobq — the FIFO queues jobs move through between threads, and freeing a job. */
#include <stdlib.h>

#include "worker/runtime/shared.h"

void jobq_push(struct jobq *q, struct job *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->len++;
}

void jobq_append(struct jobq *q, struct jobq *from)
{
    if (!from->head)
        return;
    if (q->tail)
        q->tail->next = from->head;
    else
        q->head = from->head;
    q->tail = from->tail;
    q->len += from->len;
    *from = (struct jobq){0};
}

struct job *jobq_pop(struct jobq *q)
{
    struct job *j = q->head;
    if (!j)
        return NULL;
    q->head = j->next;
    if (!q->head)
        q->tail = NULL;
    q->len--;
    j->next = NULL;
    return j;
}

bool jobq_remove(struct jobq *q, struct job *j)
{
    struct job *prev = NULL;
    for (struct job *it = q->head; it; prev = it, it = it->next) {
        if (it != j)
            continue;
        if (prev)
            prev->next = it->next;
        else
            q->head = it->next;
        if (q->tail == it)
            q->tail = prev;
        q->len--;
        it->next = NULL;
        return true;
    }
    return false;
}

void job_free(struct job *j)
{
    if (!j)
        return;
    cJSON_Delete(j->payload);
    free(j->result);
    free(j->error);
    free(j);
}
