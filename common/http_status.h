/* http_status — the one rule for which HTTP answers are worth another attempt, shared by
 * every client in the project (workers' reports and API calls, the coordinator's
 * delegation, embedding and LLM providers, alert webhooks). */
#ifndef FLOWSTATE_HTTP_STATUS_H
#define FLOWSTATE_HTTP_STATUS_H

#include <stdbool.h>

/* True for 0 (no answer at all: refused, reset, timed out), 408 (the server gave up waiting
 * for the request), 429 (overloaded, come back later) and every 5xx (the server failed, not
 * the request). Any other status says the request itself is wrong, so repeating it cannot
 * help. */
static inline bool http_status_retryable(int status)
{
    return status == 0 || status == 408 || status == 429 || status >= 500;
}

#endif
