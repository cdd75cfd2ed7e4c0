/* deadline — a request's head deadline and body rate (deadline.h). */
#include "gateway/http/deadline.h"

void deadline_init(struct deadline *d, const struct deadline_limits *lim)
{
    *d = (struct deadline){.lim = lim, .phase = DEADLINE_IDLE};
}

/* Scans len bytes of the head for its end, the first empty line after a non-empty one.
 * Returns how many of them belong to the head; *ended tells whether it ended there. */
static size_t scan_head(struct deadline *d, const char *p, size_t len, bool *ended)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n') {
            if (d->line_len == 0 && d->seen_line) {
                *ended = true;
                return i + 1;
            }
            d->seen_line |= d->line_len > 0;
            d->line_len = 0;
        } else if (p[i] != '\r') {
            d->line_len++;
        }
    }
    *ended = false;
    return len;
}

static void start_head(struct deadline *d, double now)
{
    d->phase = DEADLINE_HEAD;
    d->head_start = now;
    d->line_len = 0;
    d->seen_line = false;
}

bool deadline_feed(struct deadline *d, struct evbuffer *buf, size_t from, size_t n, double now)
{
    if (n == 0 || d->phase == DEADLINE_HANDLED)
        return false; /* evhttp reads nothing while a request is handled; deadline_next looks */
    bool changed = false;
    if (d->phase == DEADLINE_IDLE) {
        start_head(d, now);
        changed = true;
    }
    if (d->phase == DEADLINE_BODY) {
        d->body_bytes += n;
        return changed;
    }
    struct evbuffer_ptr at;
    if (evbuffer_ptr_set(buf, &at, from, EVBUFFER_PTR_SET) < 0)
        return changed;
    size_t left = n;
    while (left > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(buf, (ev_ssize_t)left, &at, &v, 1) < 1 || v.iov_len == 0)
            break;
        size_t len = v.iov_len < left ? v.iov_len : left;
        bool ended;
        size_t head = scan_head(d, v.iov_base, len, &ended);
        left -= len;
        if (ended) {
            d->phase = DEADLINE_BODY;
            d->body_start = now;
            d->body_bytes = (len - head) + left;
            return true;
        }
        if (evbuffer_ptr_set(buf, &at, len, EVBUFFER_PTR_ADD) < 0)
            break;
    }
    return changed;
}

void deadline_handled(struct deadline *d) { d->phase = DEADLINE_HANDLED; }

bool deadline_next(struct deadline *d, struct evbuffer *buf, double now)
{
    d->phase = DEADLINE_IDLE;
    size_t len = evbuffer_get_length(buf);
    if (len > 0)
        deadline_feed(d, buf, 0, len, now);
    return d->phase != DEADLINE_IDLE;
}

double deadline_due(const struct deadline *d)
{
    switch (d->phase) {
    case DEADLINE_HEAD: return d->head_start + d->lim->head_s;
    case DEADLINE_BODY: {
        if (d->lim->min_rate <= 0)
            return 0;
        /* The moment the average would fall under the minimum if nothing more arrived, and
         * never before the grace has passed. */
        double grace = d->body_start + d->lim->head_s;
        double starve = d->body_start + (double)d->body_bytes / d->lim->min_rate;
        return starve > grace ? starve : grace;
    }
    default: return 0;
    }
}

bool deadline_expired(const struct deadline *d, double now)
{
    double due = deadline_due(d);
    return due > 0 && now >= due;
}
