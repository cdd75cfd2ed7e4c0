/* claimer — the worker's main thread: its PostgreSQL connection and the loop around it.
 *
 * It claims jobs in batches (fs_jobs_claim: SKIP LOCKED, priority/run_at/id order) when
 * executor slots are free and there is reason to look: a NOTIFY on the agent's wake
 * channel, the last claim came back full, or the polling interval passed (the fallback,
 * and the heartbeat that notices a silently dead connection: every query has a deadline).
 * It renews the leases of every job it holds (claimed, running, or waiting to be reported)
 * a third of the way into the lease, and learns there that a job was cancelled or lost.
 * On SIGTERM it stops claiming, hands back jobs not yet started, lets running ones finish
 * until the shutdown timeout, then hands back the rest. The connection is a common/pgconn,
 * polled here: it is re-made with backoff whenever it fails, and signals are handled while
 * it connects (only a statement in flight holds the loop, up to its deadline). */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/pgconn.h"
#include "common/workerid.h"
#include "worker/runtime/shared.h"

/* A connection attempt, and each statement, gets this long (the server's own
 * statement_timeout is 15 s: this catches a server that stopped answering at all). */
#define CONNECT_DEADLINE_MS 5000
#define QUERY_DEADLINE_MS 15000
#define REPORTER_FLUSH_S 5.0
#define HAND_BACK_REASON_STOP "handed back: the worker is shutting down"

enum stmt { S_CLAIM, S_RENEW, S_HAND_BACK, S__COUNT };

/* clang-format off */
static const char *const stmt_sql[S__COUNT] = {
    [S_CLAIM] = "SELECT id, attempt, lease, payload FROM fs_jobs_claim($1::text, $2::int, $3::text, $4::int)",
    [S_RENEW] = "SELECT id, state FROM fs_jobs_renew($1::bigint[], $2::int[], $3::text, $4::int)",
    [S_HAND_BACK] = "SELECT fs_jobs_hand_back($1::bigint[], $2::int[], $3::text, $4::text)",
};
/* clang-format on */
static const char *const stmt_name[S__COUNT] = {"claim", "renew", "hand_back"};

struct claimer {
    struct runtime *rt;
    struct pgconn *db;
    PGresult *res;    /* db_call: the result, once it came */
    bool answered;    /* db_call: on_result ran */
    bool notified;    /* a wake-up NOTIFY arrived since the last claim */
    bool last_full;   /* the last claim returned as many jobs as asked */
    double next_poll; /* claim by this time even without a NOTIFY */
    struct job *held; /* every job claimed and not yet freed */
    int held_count;
    bool draining;
    double drain_deadline;
    long long claims, claimed; /* claim statements that returned jobs, and those jobs */
};

/* ---- connection -------------------------------------------------------------------- */

static int64_t now_ms(void) { return (int64_t)(clock_now() * 1e3); }

static bool db_ready(const struct claimer *c) { return pgconn_state(c->db) == PGCONN_IDLE; }

static void on_ready(void *arg)
{
    struct claimer *c = arg;
    log_info("msg=\"database connected; listening for jobs\" agent=%s", c->rt->agent->name);
    c->notified = true; /* jobs may have arrived while we were away */
}

static void on_result(PGresult *res, void *arg)
{
    struct claimer *c = arg;
    c->res = res;
    c->answered = true;
}

static void on_notify(const char *channel, const char *payload, void *arg)
{
    ((struct claimer *)arg)->notified = true;
}

/* Polls the connection's socket (as it asks) until it is ready or its next timed work is
 * due (a statement in flight always has a deadline), and steps it. */
static void db_wait(struct claimer *c)
{
    int64_t due = pgconn_due(c->db), now = now_ms();
    int timeout_ms = due < 0 ? -1 : due > now ? (int)(due - now) + 1 : 0;
    struct pollfd p = {pgconn_fd(c->db), pgconn_poll_events(c->db), 0};
    if (poll(&p, 1, timeout_ms) < 0)
        p.revents = 0;
    pgconn_step(c->db, pgconn_poll_ready(p.revents), now_ms());
}

/* Runs a prepared statement and waits for its result; the connection's deadline bounds
 * the wait. NULL when there is no connection, the connection failed (it is then re-made
 * with backoff), or the statement failed (logged). */
static PGresult *db_call(struct claimer *c, enum stmt s, int n, const char *const *values)
{
    c->answered = false;
    c->res = NULL;
    if (pgconn_send(c->db, stmt_name[s], NULL, n, values, now_ms()) < 0)
        return NULL;
    while (!c->answered)
        db_wait(c);
    PGresult *last = c->res;
    c->res = NULL;
    if (!last)
        return NULL;
    ExecStatusType st = PQresultStatus(last);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        char quoted[600];
        log_error("msg=\"query failed\" statement=%s error=%s", stmt_name[s],
                  log_quote(PQresultErrorMessage(last), quoted, sizeof(quoted)));
        PQclear(last);
        return NULL;
    }
    return last;
}

/* The session's set-up, run on every new connection: settings, the statements, and the
 * LISTEN on the agent's wake channel (fs_listen). Agent names are the binaries' own
 * identifiers; the quote doubling keeps the literal well-formed whatever they hold. */
static char *setup_sql(const char *agent)
{
    size_t size = 128 + 2 * strlen(agent);
    for (int i = 0; i < S__COUNT; i++)
        size += strlen(stmt_name[i]) + strlen(stmt_sql[i]) + 16;
    char *sql = malloc(size);
    if (!sql)
        return NULL;
    size_t o =
        (size_t)snprintf(sql, size, "SET TimeZone = 'UTC'; SET statement_timeout = 15000;\n");
    for (int i = 0; i < S__COUNT; i++)
        o += (size_t)snprintf(sql + o, size - o, "PREPARE %s AS %s;\n", stmt_name[i], stmt_sql[i]);
    o += (size_t)snprintf(sql + o, size - o, "SELECT fs_listen('");
    for (const char *p = agent; *p; p++) {
        if (*p == '\'')
            sql[o++] = '\'';
        sql[o++] = *p;
    }
    snprintf(sql + o, size - o, "'::text)");
    return sql;
}

static struct pgconn *db_new(struct claimer *c)
{
    struct runtime *rt = c->rt;
    char app[128];
    snprintf(app, sizeof(app), "flowstate-%s", rt->agent->name);
    /* No GSSAPI encryption unless DATABASE_URL or PGGSSENCMODE asks for it: merely probing
     * for Kerberos credentials on each connect costs a worker memory it otherwise never needs
     * (docs/measurements.md). These
     * are defaults: pgconn puts DATABASE_URL last, so its own settings win. */
    const char *gss = getenv("PGGSSENCMODE");
    const char *keys[] = {"gssencmode",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "application_name",
                          NULL};
    const char *vals[] = {gss ? gss : "disable", "1", "10", "5", "3", app, NULL};
    char *sql = setup_sql(rt->agent->name);
    if (!sql)
        return NULL;
    struct pgconn_opts o = {
        .name = "worker",
        .conninfo = config_str(rt->cfg, CFG_DATABASE_URL),
        .keys = keys,
        .values = vals,
        .setup_sql = sql,
        .connect_timeout_ms = CONNECT_DEADLINE_MS,
        .statement_timeout_ms = QUERY_DEADLINE_MS,
        .backoff_min_ms = 100,
        .backoff_max_ms = 10000,
        .on_ready = on_ready,
        .on_result = on_result,
        .on_notify = on_notify,
        .arg = c,
    };
    struct pgconn *db = pgconn_new(&o);
    free(sql);
    return db;
}

/* ---- held jobs --------------------------------------------------------------------- */

static void held_add(struct claimer *c, struct job *j)
{
    j->held_prev = NULL;
    j->held_next = c->held;
    if (c->held)
        c->held->held_prev = j;
    c->held = j;
    c->held_count++;
}

static void held_remove(struct claimer *c, struct job *j)
{
    if (j->held_prev)
        j->held_prev->held_next = j->held_next;
    else
        c->held = j->held_next;
    if (j->held_next)
        j->held_next->held_prev = j->held_prev;
    c->held_count--;
}

static void free_acked(struct claimer *c)
{
    struct runtime *rt = c->rt;
    pthread_mutex_lock(&rt->lock);
    struct jobq acked = rt->acked_q;
    rt->acked_q = (struct jobq){0};
    pthread_mutex_unlock(&rt->lock);
    struct job *j;
    while ((j = jobq_pop(&acked)) != NULL) {
        held_remove(c, j);
        job_free(j);
    }
}

/* Renders ids and attempts of jobs as PostgreSQL array literals. */
static int array_params(struct job **jobs, int n, char **ids, char **attempts)
{
    size_t cap = (size_t)n * 22 + 3;
    *ids = malloc(cap);
    *attempts = malloc(cap);
    if (!*ids || !*attempts) {
        free(*ids);
        free(*attempts);
        return -1;
    }
    size_t oi = 0, oa = 0;
    (*ids)[oi++] = '{';
    (*attempts)[oa++] = '{';
    for (int i = 0; i < n; i++) {
        oi += (size_t)snprintf(*ids + oi, cap - oi, "%s%lld", i ? "," : "", jobs[i]->id);
        oa += (size_t)snprintf(*attempts + oa, cap - oa, "%s%d", i ? "," : "", jobs[i]->attempt);
    }
    snprintf(*ids + oi, cap - oi, "}");
    snprintf(*attempts + oa, cap - oa, "}");
    return 0;
}

/* Marks a job as no longer ours: its task is told to stop and its outcome is never sent.
 * Returns true when the job can be freed now (it was still waiting for an executor). */
static bool drop_locked(struct runtime *rt, struct job *j)
{
    j->stop = true;
    j->dropped = true;
    return jobq_remove(&rt->exec_q, j);
}

/* Hands jobs back to the queue (shutdown) and frees those no thread still uses. */
static void hand_back(struct claimer *c, struct job **jobs, int n, const char *reason)
{
    if (n == 0)
        return;
    struct runtime *rt = c->rt;
    char *ids, *attempts;
    if (array_params(jobs, n, &ids, &attempts) < 0)
        return;
    const char *values[4] = {ids, attempts, rt->worker, reason};
    PGresult *res = db_call(c, S_HAND_BACK, 4, values);
    log_info("msg=\"handed jobs back\" count=%d applied=%s", n,
             res ? PQgetvalue(res, 0, 0)
                 : "unknown (the sweeper will requeue them when their leases expire)");
    PQclear(res);
    free(ids);
    free(attempts);
}

/* ---- claim and renew --------------------------------------------------------------- */

/* How many jobs to claim now: the room for running and prefetched jobs, at most a claim
 * batch, and bounded by the holding cap (outcomes waiting for the gateway still hold
 * leases). Without urgency (a NOTIFY or the poll) a claim waits for room worth a refill.
 * The sizes first take in the jobs finished since the last look. */
static int claim_size(struct claimer *c, bool urgent)
{
    struct runtime *rt = c->rt;
    pthread_mutex_lock(&rt->lock);
    claimsize_observe_jobs(&rt->sizing, clock_now(), rt->finished_total, rt->run_time_sum,
                           rt->run_count);
    rt->run_time_sum = 0;
    rt->run_count = 0;
    int slots = runtime_room(rt);
    int least = urgent ? 1 : runtime_refill_min(rt);
    int batch = claimsize_batch(&rt->sizing), cap = claimsize_cap(&rt->sizing);
    rt->refill_asked = false;
    pthread_mutex_unlock(&rt->lock);
    int room = cap - c->held_count;
    if (slots > room)
        slots = room;
    if (slots > batch)
        slots = batch;
    return slots >= least ? slots : 0;
}

/* Claims a batch if there is room; returns whether a claim statement ran. */
static bool claim(struct claimer *c, bool urgent)
{
    struct runtime *rt = c->rt;
    int want = claim_size(c, urgent);
    if (want <= 0) {
        /* No room: the executors wake us when there is; a due poll waits for that too. */
        c->next_poll = clock_now() + rt->poll_ms / 1000.0;
        return false;
    }
    char want_text[16], lease_text[16];
    snprintf(want_text, sizeof(want_text), "%d", want);
    snprintf(lease_text, sizeof(lease_text), "%d", rt->lease_s);
    const char *values[4] = {rt->agent->name, want_text, rt->worker, lease_text};
    /* Whatever happens, the next look is at the next poll unless something wakes us. */
    c->notified = false;
    c->last_full = false;
    c->next_poll = clock_now() + rt->poll_ms / 1000.0;
    double asked_at = clock_now();
    PGresult *res = db_call(c, S_CLAIM, 4, values);
    if (!res)
        return true;
    int got = PQntuples(res);
    c->last_full = got == want;
    double now = clock_now();
    pthread_mutex_lock(&rt->lock);
    claimsize_claimed(&rt->sizing, now, want, got, now - asked_at);
    pthread_mutex_unlock(&rt->lock);
    if (got == 0) {
        PQclear(res);
        return true;
    }
    c->claims++;
    c->claimed += got;
    /* Jobs are built (payloads parsed) before the lock is taken: executors wait on it. */
    struct jobq ready = {0}, unreadable = {0};
    for (int i = 0; i < got; i++) {
        struct job *j = calloc(1, sizeof(*j));
        if (!j)
            break; /* the lease will expire and the sweeper requeue it */
        j->id = atoll(PQgetvalue(res, i, 0));
        j->attempt = atoi(PQgetvalue(res, i, 1));
        j->lease_s = atoi(PQgetvalue(res, i, 2));
        j->payload = cJSON_ParseWithLength(PQgetvalue(res, i, 3), (size_t)PQgetlength(res, i, 3));
        j->next_renew = now + j->lease_s / 3.0;
        held_add(c, j);
        if (!j->payload) {
            j->failed = true;
            j->retryable = true;
            j->error = strdup("the worker could not read the job's payload (out of memory?)");
            j->finished = true;
            jobq_push(&unreadable, j);
            continue;
        }
        jobq_push(&ready, j);
    }
    pthread_mutex_lock(&rt->lock);
    jobq_append(&rt->exec_q, &ready);
    jobq_append(&rt->report_q, &unreadable);
    pthread_cond_broadcast(&rt->exec_cond);
    pthread_cond_signal(&rt->report_cond); /* the agent may have become busy */
    pthread_mutex_unlock(&rt->lock);
    PQclear(res);
    log_debug("msg=claimed count=%d asked=%d rtt_ms=%.1f prefetch=%d run_ms=%.3f rate=%.0f", got,
              want, (clock_now() - asked_at) * 1e3, claimsize_prefetch(&rt->sizing),
              rt->sizing.duration * 1e3, rt->sizing.rate);
    return true;
}

/* Renews the leases that are due; returns the time the next renewal is due. */
static double renew(struct claimer *c)
{
    struct runtime *rt = c->rt;
    double now = clock_now(), next = now + 3600;
    int n = 0;
    for (struct job *j = c->held; j; j = j->held_next)
        n += !j->dropped && j->next_renew <= now;
    if (n > 0 && db_ready(c)) {
        struct job **due = malloc((size_t)n * sizeof(*due));
        if (!due)
            return now + 1.0;
        int k = 0;
        for (struct job *j = c->held; j && k < n; j = j->held_next)
            if (!j->dropped && j->next_renew <= now)
                due[k++] = j;
        char *ids, *attempts, lease_text[16];
        snprintf(lease_text, sizeof(lease_text), "%d", rt->lease_s);
        PGresult *res = NULL;
        if (array_params(due, k, &ids, &attempts) == 0) {
            const char *values[4] = {ids, attempts, rt->worker, lease_text};
            res = db_call(c, S_RENEW, 4, values);
            free(ids);
            free(attempts);
        }
        if (res) {
            pthread_mutex_lock(&rt->lock);
            for (int r = 0; r < PQntuples(res); r++) {
                long long id = atoll(PQgetvalue(res, r, 0));
                const char *state = PQgetvalue(res, r, 1);
                for (int i = 0; i < k; i++) {
                    struct job *j = due[i];
                    if (!j || j->id != id)
                        continue;
                    due[i] = NULL;
                    if (strcmp(state, "ok") == 0) {
                        j->next_renew = clock_now() + j->lease_s / 3.0;
                        break;
                    }
                    log_info("msg=\"job taken away; stopping it\" job=%lld attempt=%d reason=%s",
                             j->id, j->attempt,
                             strcmp(state, "cancelled") == 0 ? "cancelled" : "lease_lost");
                    if (drop_locked(rt, j))
                        jobq_push(&rt->acked_q, j);
                    break;
                }
            }
            pthread_mutex_unlock(&rt->lock);
            PQclear(res);
        } else {
            /* Not renewed (no connection or the statement failed): try again in a second. */
            for (int i = 0; i < k; i++)
                due[i]->next_renew = now + 1.0;
        }
        free(due);
    }
    for (struct job *j = c->held; j; j = j->held_next)
        if (!j->dropped && j->next_renew < next)
            next = j->next_renew;
    return next > now ? next : now + 0.05;
}

/* ---- shutdown ---------------------------------------------------------------------- */

static void begin_drain(struct claimer *c)
{
    struct runtime *rt = c->rt;
    c->draining = true;
    c->drain_deadline = clock_now() + rt->shutdown_s;
    /* Jobs no executor has started go back at once. */
    pthread_mutex_lock(&rt->lock);
    int n = rt->exec_q.len, k = 0;
    struct job **unstarted = n ? malloc((size_t)n * sizeof(*unstarted)) : NULL;
    struct job *j;
    while (unstarted && (j = jobq_pop(&rt->exec_q)) != NULL) {
        j->dropped = true;
        unstarted[k++] = j;
    }
    int running = rt->executing;
    pthread_mutex_unlock(&rt->lock);
    log_info("msg=\"stopping: no new claims\" running=%d unstarted=%d timeout_s=%d", running, k,
             rt->shutdown_s);
    hand_back(c, unstarted, k, HAND_BACK_REASON_STOP);
    for (int i = 0; i < k; i++) {
        held_remove(c, unstarted[i]);
        job_free(unstarted[i]);
    }
    free(unstarted);
}

/* The shutdown timeout passed (or a second signal came): every job still held goes back. */
static void hand_back_all(struct claimer *c, const char *reason)
{
    struct runtime *rt = c->rt;
    int n = 0;
    for (struct job *j = c->held; j; j = j->held_next)
        n += !j->dropped;
    if (n == 0)
        return;
    struct job **jobs = malloc((size_t)n * sizeof(*jobs));
    if (!jobs)
        return;
    int k = 0;
    pthread_mutex_lock(&rt->lock);
    for (struct job *j = c->held; j && k < n; j = j->held_next) {
        if (j->dropped)
            continue;
        jobs[k++] = j;
        if (drop_locked(rt, j))
            jobq_push(&rt->acked_q, j);
        else if (j->finished && jobq_remove(&rt->report_q, j))
            jobq_push(&rt->acked_q, j);
    }
    pthread_mutex_unlock(&rt->lock);
    hand_back(c, jobs, k, reason);
    free(jobs);
}

static int handle_signals(struct claimer *c, int signal_fd)
{
    struct signalfd_siginfo si;
    int stop_now = 0;
    while (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo != SIGTERM && si.ssi_signo != SIGINT)
            continue;
        if (!c->draining) {
            begin_drain(c);
        } else {
            log_warn("msg=\"second signal; handing back every job now\" signal=%u", si.ssi_signo);
            stop_now = 1;
        }
    }
    return stop_now;
}

/* ---- the loop ---------------------------------------------------------------------- */

int claimer_run(struct runtime *rt, int signal_fd)
{
    struct claimer c = {.rt = rt};
    c.next_poll = 0;
    bool abort_now = false;
    int exit_code = 0;
    if (!(c.db = db_new(&c))) {
        log_error("msg=\"out of memory while starting\"");
        exit_code = 1;
    }
    while (c.db) {
        pgconn_step(c.db, 0, now_ms()); /* a reconnect or deadline that is due */
        double now;
        uint64_t tick;
        while (read(rt->wake_fd, &tick, sizeof(tick)) > 0)
            ;
        if (handle_signals(&c, signal_fd))
            abort_now = true;
        free_acked(&c);

        pthread_mutex_lock(&rt->lock);
        bool refused = rt->key_refused;
        pthread_mutex_unlock(&rt->lock);
        if (refused) {
            /* Nothing we hold could be reported: every job goes back now. */
            hand_back_all(&c, "handed back: the gateway refused the worker's API key");
            exit_code = WORKER_EXIT_FATAL;
            break;
        }
        if (c.draining && (abort_now || clock_now() >= c.drain_deadline)) {
            if (!abort_now)
                log_warn("msg=\"shutdown timeout; handing back unfinished jobs\" held=%d",
                         c.held_count);
            hand_back_all(&c, abort_now
                                  ? "handed back: the worker was told to stop at once"
                                  : "handed back: the job outlived the worker's shutdown timeout");
            break;
        }
        if (c.draining && c.held_count == 0)
            break;

        double next_renew = db_ready(&c) ? renew(&c) : clock_now() + 1.0;
        now = clock_now();
        if (!c.draining && db_ready(&c) && (c.notified || c.last_full || now >= c.next_poll)) {
            if (claim(&c, c.notified || now >= c.next_poll) && c.last_full)
                continue; /* more may be waiting: claim again if there is room */
        }

        double until = next_renew;
        if (!c.draining && c.next_poll < until)
            until = c.next_poll;
        int64_t db_due = pgconn_due(c.db);
        if (db_due >= 0 && db_due / 1e3 < until)
            until = db_due / 1e3;
        if (c.draining && c.drain_deadline < until)
            until = c.drain_deadline;
        now = clock_now();
        int timeout_ms = until > now ? (int)((until - now) * 1000) + 1 : 0;
        struct pollfd fds[3] = {{rt->wake_fd, POLLIN, 0},
                                {signal_fd, POLLIN, 0},
                                {pgconn_fd(c.db), pgconn_poll_events(c.db), 0}};
        if (poll(fds, 3, timeout_ms) < 0 && errno != EINTR) {
            log_error("msg=\"poll failed\" error=\"%s\"", strerror(errno));
            break;
        }
        if (fds[2].revents)
            pgconn_step(c.db, pgconn_poll_ready(fds[2].revents), now_ms());
    }
    /* Executors finish (their tasks were told to stop if handed back), then the reporter
     * flushes what finished, says offline and exits. */
    int stuck = executors_stop(rt, REPORTER_FLUSH_S);
    pthread_mutex_lock(&rt->lock);
    rt->reporter_stop = true;
    rt->reporter_give_up = clock_now() + REPORTER_FLUSH_S;
    pthread_cond_signal(&rt->report_cond);
    pthread_mutex_unlock(&rt->lock);
    pthread_join(rt->reporter_thread, NULL);
    free_acked(&c);
    if (stuck > 0) {
        log_warn("msg=\"tasks ignored the stop request; exiting anyway\" count=%d", stuck);
    } else {
        while (c.held) {
            struct job *j = c.held;
            held_remove(&c, j);
            job_free(j);
        }
    }
    pgconn_free(c.db);
    log_info("msg=stopped claims=%lld jobs_claimed=%lld", c.claims, c.claimed);
    return exit_code;
}
