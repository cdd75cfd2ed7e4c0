/* backoff — growing delays with jitter for anything that retries: reconnecting to
 * PostgreSQL or the gateway, resending reports. Each delay is drawn from [d/2, d] where d
 * doubles from min_ms up to max_ms; reset after a success. */
#ifndef FLOWSTATE_BACKOFF_H
#define FLOWSTATE_BACKOFF_H

struct backoff {
    long min_ms, max_ms, cur_ms;
};

void backoff_init(struct backoff *b, long min_ms, long max_ms);
/* The next delay in milliseconds; the one after it will be up to twice as long. */
long backoff_next(struct backoff *b);
void backoff_reset(struct backoff *b);

#endif
