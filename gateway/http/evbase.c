/* evbase — the gateway's event-loop configuration (see evbase.h). */
#include "gateway/http/evbase.h"

#include <event2/event.h>

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
