/* evbase — the gateway's event-loop configuration (see evbase.h). */
#include "gateway/http/evbase.h"

#include <event2/event.h>

#include "common/clock.h"
#include "common/log.h"

/* libevent's own messages at most this many a second; the rest are counted. */
#define EVLOG_PER_SECOND 10

static void evlog(int severity, const char *msg)
{
    static double window;
    static int in_window;
    static unsigned long dropped;
    double now = clock_now();
    if (now - window >= 1.0) {
        if (dropped > 0)
            log_warn("msg=\"libevent messages suppressed\" count=%lu", dropped);
        window = now;
        in_window = 0;
        dropped = 0;
    }
    if (++in_window > EVLOG_PER_SECOND) {
        dropped++;
        return;
    }
    char quoted[512];
    enum log_level level = severity == EVENT_LOG_DEBUG  ? LOG_DEBUG
                           : severity == EVENT_LOG_MSG  ? LOG_INFO
                           : severity == EVENT_LOG_WARN ? LOG_WARN
                                                        : LOG_ERROR;
    if (level >= log_get_level())
        log_msg(level, "msg=libevent detail=%s", log_quote(msg, quoted, sizeof(quoted)));
}

void gateway_event_log(void) { event_set_log_callback(evlog); }

struct event_base *gateway_event_base(void)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}
