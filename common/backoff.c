/* backoff — exponential delays with jitter (see backoff.h). */
#include "common/backoff.h"

#include <stdlib.h>

void backoff_init(struct backoff *b, long min_ms, long max_ms)
{
    b->min_ms = min_ms > 0 ? min_ms : 1;
    b->max_ms = max_ms >= b->min_ms ? max_ms : b->min_ms;
    b->cur_ms = b->min_ms;
}

long backoff_next(struct backoff *b)
{
    long d = b->cur_ms;
    b->cur_ms = d > b->max_ms / 2 ? b->max_ms : d * 2;
    long half = d / 2;
    return half + (half > 0 ? random() % (d - half + 1) : d);
}

void backoff_reset(struct backoff *b) { b->cur_ms = b->min_ms; }
