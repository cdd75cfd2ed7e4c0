/* batchreq — queueing a request's row on a batcher and answering it when the row could not
 * be written (see batchreq.h). */
#include "gateway/jobs/batchreq.h"

#include <stdlib.h>

#include "common/log.h"
#include "gateway/http/request.h"

void batchreq_add(struct batcher *b, struct batchreq *q, struct request *r, char *row, size_t len,
                  long long key, bool plain)
{
    q->r = r;
    q->row = row;
    q->item = (struct batcher_item){.row = row, .len = len, .key = key, .plain = plain};
    batcher_add(b, &q->item);
}

void batchreq_release(struct batchreq *q)
{
    free(q->row);
    q->row = NULL;
}

void batchreq_failed(struct batcher_item *it, enum batcher_failure why, const PGresult *res)
{
    struct request *r = batchreq_of(it)->r;
    switch (why) {
    case BATCHER_NOMEM: request_error(r, 500, "internal", NULL, "out of memory"); return;
    case BATCHER_UNAVAILABLE: request_unavailable(r); return;
    case BATCHER_FAILED: request_db_error(r, res); return;
    case BATCHER_NO_ROW:
        log_error("msg=\"batched statement returned no row\" req_id=%s", r->id);
        request_error(r, 500, "internal", NULL, "internal error");
        return;
    }
}
