/* dperror — filling the data_processor's path-named error. */
#include "worker/agents/data_processor/dperror.h"

#include <stdarg.h>
#include <stdio.h>

int dperror_set(struct dp_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return DP_BAD_INPUT;
}

int dperror_nomem(struct dp_error *err)
{
    snprintf(err->message, sizeof(err->message), "out of memory");
    return DP_NO_MEMORY;
}
