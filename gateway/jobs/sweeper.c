/* sweeper — a persistent timer that runs fs_sweep through the pool, then fs_wf_tick (the
 * workflow timers: sleeps, wait and run timeouts; sql/008_workflow_kinds.sql), never two
 * ticks at once. The workflow timers are a statement of their own, so that their run locks
 * are not taken while the sweep's job locks are held.
 *
 * The due window: fs_sweep wakes the agents of pending jobs whose run_at fell within the
 * last due_window_ms. Each sweep passes the time since the previous sweep started plus a
 * margin, so the windows of consecutive sweeps overlap and no due retry falls between two
 * of them (a second wake-up for the same agent is harmless). Pruning (finished jobs, events
 * and finished workflow runs past the retention) runs about once a minute, and again at the
 * next tick while a sweep deleted as many rows as it may. */
#include "gateway/jobs/sweeper.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "gateway/db/pgpool.h"
#include "gateway/db/queries.h"

#define PRUNE_EVERY_MS 60000L
#define PRUNE_MAX 10000
#define DUE_MARGIN_MS 1000L
#define WF_TICK_BATCH 1000 /* workflow timers of each kind fired per tick */

struct sweeper {
    struct pgpool *pool;
    struct event *timer;
    long interval_ms, retention_s;
    bool busy, stopped, prune_backlog;
    long long last_start_ms, last_prune_ms; /* monotonic; 0: never */
};

static void wf_tick_done(PGresult *res, void *arg)
{
    struct sweeper *s = arg;
    s->busy = false;
    if (!res) {
        log_debug("msg=\"workflow timers skipped: database unavailable\"");
        return;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];
        log_warn("msg=\"workflow timers failed\" error=%s",
                 log_quote(PQresultErrorMessage(res), msg, sizeof(msg)));
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
        return; /* another gateway is firing them */
    cJSON *counts = cJSON_Parse(PQgetvalue(res, 0, 0));
    long n[3] = {0, 0, 0};
    const char *names[3] = {"runsTimedOut", "slept", "waitsTimedOut"};
    for (int i = 0; i < 3; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(counts, names[i]);
        n[i] = cJSON_IsNumber(c) ? (long)c->valuedouble : 0;
    }
    cJSON_Delete(counts);
    if (n[0] || n[1] || n[2])
        log_info("msg=\"workflow timers\" runs_timed_out=%ld slept=%ld waits_timed_out=%ld", n[0],
                 n[1], n[2]);
}

/* The workflow timers, after the sweep (s stays busy until they are done). */
static void wf_tick(struct sweeper *s)
{
    char batch[16];
    snprintf(batch, sizeof(batch), "%d", WF_TICK_BATCH);
    const char *params[1] = {batch};
    if (pgpool_query(s->pool, Q_WF_TICK, 1, params, wf_tick_done, s) < 0) {
        log_debug("msg=\"workflow timers skipped: database unavailable or busy\"");
        s->busy = false;
    }
}

static void sweep_done(PGresult *res, void *arg)
{
    struct sweeper *s = arg;
    if (!s->stopped && res)
        wf_tick(s);
    else
        s->busy = false;
    if (!res) {
        log_debug("msg=\"sweep skipped: database unavailable\"");
        return;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];
        log_warn("msg=\"sweep failed\" error=%s",
                 log_quote(PQresultErrorMessage(res), msg, sizeof(msg)));
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        log_debug("msg=\"sweep skipped: another gateway is sweeping\"");
        return;
    }
    cJSON *counts = cJSON_Parse(PQgetvalue(res, 0, 0));
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(counts, "expired");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(counts, "pruned");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(counts, "woken");
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(counts, "runsPruned");
    long expired = cJSON_IsNumber(e) ? (long)e->valuedouble : 0;
    long pruned = cJSON_IsNumber(p) ? (long)p->valuedouble : 0;
    long woken = cJSON_IsNumber(w) ? (long)w->valuedouble : 0;
    long runs = cJSON_IsNumber(rp) ? (long)rp->valuedouble : 0;
    cJSON_Delete(counts);
    s->prune_backlog = pruned >= PRUNE_MAX || runs >= PRUNE_MAX;
    if (expired > 0 || pruned > 0 || runs > 0)
        log_info("msg=sweep expired=%ld pruned=%ld runs_pruned=%ld woken=%ld", expired, pruned,
                 runs, woken);
    else
        log_debug("msg=sweep expired=0 pruned=0 woken=%ld", woken);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sweeper *s = arg;
    if (s->stopped)
        return;
    if (s->busy) {
        log_debug("msg=\"sweep still running; skipping this tick\"");
        return;
    }
    long long now = (long long)(clock_now() * 1e3);
    bool prune = s->retention_s > 0 && (s->prune_backlog || s->last_prune_ms == 0 ||
                                        now - s->last_prune_ms >= PRUNE_EVERY_MS);
    long long window = (s->last_start_ms ? now - s->last_start_ms : s->interval_ms) + DUE_MARGIN_MS;
    if (window > INT_MAX)
        window = INT_MAX;
    char retention[24], prune_max[24], due[24];
    snprintf(retention, sizeof(retention), "%ld", s->retention_s);
    snprintf(prune_max, sizeof(prune_max), "%d", PRUNE_MAX);
    snprintf(due, sizeof(due), "%lld", window);
    const char *params[4] = {retention, prune ? "true" : "false", prune_max, due};
    if (pgpool_query(s->pool, Q_SWEEP, 4, params, sweep_done, s) < 0) {
        log_debug("msg=\"sweep skipped: database unavailable or busy\"");
        return;
    }
    s->busy = true;
    s->last_start_ms = now;
    if (prune)
        s->last_prune_ms = now;
}

struct sweeper *sweeper_new(struct event_base *base, struct pgpool *pool, long interval_ms,
                            long retention_s)
{
    struct sweeper *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->pool = pool;
    s->interval_ms = interval_ms;
    s->retention_s = retention_s;
    if (interval_ms <= 0)
        return s;
    s->timer = event_new(base, -1, EV_PERSIST, tick_cb, s);
    struct timeval tv = {interval_ms / 1000, (interval_ms % 1000) * 1000};
    if (!s->timer || event_add(s->timer, &tv) < 0) {
        sweeper_free(s);
        return NULL;
    }
    return s;
}

void sweeper_stop(struct sweeper *s)
{
    if (!s)
        return;
    s->stopped = true;
    if (s->timer)
        event_del(s->timer);
}

void sweeper_free(struct sweeper *s)
{
    if (!s)
        return;
    if (s->timer)
        event_free(s->timer);
    free(s);
}
