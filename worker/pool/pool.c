/* pool — the process table and the supervisor's event loop (see pool.h).
 *
 * A slot's life: EMPTY → RUNNING (started) → on exit: WAITING (restart after a backoff),
 * FATAL (exit 78: left stopped), or back to EMPTY when the pool asked it to stop. A slot
 * the pool asked to stop is STOPPING until it exits, SIGKILLed if that takes longer than
 * the stop timeout. Slots beyond an agent's count are stopped highest index first. */
#include "worker/pool/pool.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/workerid.h"
#include "worker/pool/release.h"
#include "worker/pool/spawn.h"

#define RESPAWN_MIN_MS 100
/* A child that ran this long before exiting starts its backoff over. */
#define RESPAWN_RESET_AFTER_MS 10000
/* After the last child is gone, how long the pool waits for queued releases. */
#define RELEASE_FLUSH_MS 3000

enum slot_state { SLOT_EMPTY, SLOT_RUNNING, SLOT_STOPPING, SLOT_WAITING, SLOT_FATAL };

struct slot {
    enum slot_state state;
    pid_t pid;             /* RUNNING, STOPPING */
    int restarts;          /* restarts after unexpected exits */
    int64_t started_ms;    /* RUNNING, STOPPING */
    int64_t next_start_ms; /* WAITING */
    int64_t kill_at_ms;    /* STOPPING: SIGKILL then (unless killed already) */
    bool killed;           /* STOPPING: the pool sent SIGKILL */
    struct backoff backoff;
};

enum pool_mode {
    POOL_RUNNING,  /* supervising */
    POOL_STOPPING, /* first stop signal: draining children, no restarts */
    POOL_KILLING,  /* second stop signal: every child SIGKILLed */
};

struct pool {
    char *agent_dir;
    char *agents_file;
    long stop_timeout_ms;
    long respawn_max_ms;
    struct agents want;
    struct slot slots[AGENT__COUNT][AGENTS_MAX_COUNT];
    enum pool_mode mode;
    int exit_code;
    int signal_fd;
    struct release *release;
    char host_id[64]; /* scratch for worker_id() */
};

struct pool *pool_new(const struct pool_options *opt, const struct agents *want)
{
    struct pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->signal_fd = -1;
    p->agent_dir = strdup(opt->agent_dir);
    p->agents_file = strdup(opt->agents_file ? opt->agents_file : "");
    p->release = release_new(opt->database_url);
    if (!p->agent_dir || !p->agents_file || !p->release) {
        pool_free(p);
        return NULL;
    }
    p->stop_timeout_ms = opt->stop_timeout_ms;
    p->respawn_max_ms = opt->respawn_max_ms;
    p->want = *want;
    for (int a = 0; a < AGENT__COUNT; a++)
        for (int i = 0; i < AGENTS_MAX_COUNT; i++)
            backoff_init(&p->slots[a][i].backoff, RESPAWN_MIN_MS, p->respawn_max_ms);
    srandom((unsigned)time(NULL) ^ ((unsigned)getpid() << 16)); /* restart jitter */
    return p;
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    if (p->signal_fd >= 0)
        close(p->signal_fd);
    release_free(p->release);
    free(p->agent_dir);
    free(p->agents_file);
    free(p);
}

/* "agent=code_analyzer slot=1 pid=123" for log lines. */
static const char *slot_label(int a, int i, pid_t pid, char *buf, size_t len)
{
    snprintf(buf, len, "agent=%s slot=%d pid=%ld", agents_name((enum agent_id)a), i, (long)pid);
    return buf;
}

static void start_slot(struct pool *p, int a, int i, int64_t now)
{
    struct slot *s = &p->slots[a][i];
    char path[4096];
    const char *name = agents_name((enum agent_id)a);
    pid_t pid = -1;
    errno = ENAMETOOLONG;
    if (agents_path(p->agent_dir, (enum agent_id)a, path, sizeof(path)) == 0)
        pid = spawn_agent(path, name);
    if (pid < 0) {
        long delay = backoff_next(&s->backoff);
        log_error("msg=\"cannot start worker\" agent=%s slot=%d error=\"%s\" delay_ms=%ld", name, i,
                  strerror(errno), delay);
        s->state = SLOT_WAITING;
        s->next_start_ms = now + delay;
        return;
    }
    s->state = SLOT_RUNNING;
    s->pid = pid;
    s->started_ms = now;
    s->killed = false;
    log_info("msg=\"worker started\" agent=%s slot=%d pid=%ld", name, i, (long)pid);
}

/* Asks a slot to go: SIGTERM to a running child (it stops claiming, finishes or hands back
 * its jobs and exits 0); a slot waiting to restart or fatal simply empties. */
static void stop_slot(struct pool *p, int a, int i, int64_t now, const char *why)
{
    struct slot *s = &p->slots[a][i];
    char label[128];
    switch (s->state) {
    case SLOT_RUNNING:
        log_info("msg=\"stopping worker\" %s reason=%s",
                 slot_label(a, i, s->pid, label, sizeof(label)), why);
        if (kill(s->pid, SIGTERM) < 0 && errno != ESRCH)
            log_error("msg=\"cannot signal worker\" %s error=\"%s\"", label, strerror(errno));
        s->state = SLOT_STOPPING;
        s->kill_at_ms = now + p->stop_timeout_ms;
        break;
    case SLOT_WAITING:
    case SLOT_FATAL: s->state = SLOT_EMPTY; break;
    case SLOT_EMPTY:
    case SLOT_STOPPING: break;
    }
}

static void kill_slot(struct pool *p, int a, int i)
{
    struct slot *s = &p->slots[a][i];
    char label[128];
    if (kill(s->pid, SIGKILL) < 0 && errno != ESRCH)
        log_error("msg=\"cannot kill worker\" %s error=\"%s\"",
                  slot_label(a, i, s->pid, label, sizeof(label)), strerror(errno));
    s->state = SLOT_STOPPING;
    s->killed = true;
}

/* Starts the slots the counts ask for and stops those beyond them, highest index first.
 * A fatal slot that is still wanted gets another try (a reload is the operator's say-so). */
static void apply_counts(struct pool *p, int64_t now)
{
    for (int a = 0; a < AGENT__COUNT; a++) {
        for (int i = AGENTS_MAX_COUNT - 1; i >= p->want.count[a]; i--)
            stop_slot(p, a, i, now, "scale-down");
        for (int i = 0; i < p->want.count[a]; i++) {
            struct slot *s = &p->slots[a][i];
            if (s->state == SLOT_EMPTY || s->state == SLOT_FATAL) {
                backoff_reset(&s->backoff);
                start_slot(p, a, i, now);
            }
            /* STOPPING: restarted when it exits; WAITING: its timer starts it */
        }
    }
}

/* Builds the reason stored in last_error and the "code=…"/"signal=…" log fields. */
static void describe_exit(const struct pool *p, int a, int i, const struct slot *s, int status,
                          const char *worker, char *reason, size_t rlen, char *fields, size_t flen)
{
    const char *name = agents_name((enum agent_id)a);
    if (WIFEXITED(status)) {
        snprintf(reason, rlen, "worker %s[%d] %s exited with code %d", name, i, worker,
                 WEXITSTATUS(status));
        snprintf(fields, flen, "code=%d", WEXITSTATUS(status));
        return;
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    const char *by_pool = "";
    char note[96] = "";
    if (s->killed && sig == SIGKILL) {
        if (p->mode == POOL_KILLING)
            by_pool = " by the pool (second stop signal)";
        else {
            snprintf(note, sizeof(note), " by the pool (still running %ld s after SIGTERM)",
                     p->stop_timeout_ms / 1000);
            by_pool = note;
        }
    }
    snprintf(reason, rlen, "worker %s[%d] %s died: killed by signal %d (%s)%s", name, i, worker,
             sig, strsignal(sig), by_pool);
    snprintf(fields, flen, "signal=%d%s", sig, WCOREDUMP(status) ? " core=dumped" : "");
}

/* The slot whose child has this pid: true with *a and *i set, or false. */
static bool find_slot(const struct pool *p, pid_t pid, int *a, int *i)
{
    for (*a = 0; *a < AGENT__COUNT; (*a)++) {
        for (*i = 0; *i < AGENTS_MAX_COUNT; (*i)++) {
            const struct slot *s = &p->slots[*a][*i];
            if ((s->state == SLOT_RUNNING || s->state == SLOT_STOPPING) && s->pid == pid)
                return true;
        }
    }
    return false;
}

static void child_exited(struct pool *p, pid_t pid, int status, int64_t now)
{
    int a, i;
    if (!find_slot(p, pid, &a, &i)) {
        log_debug("msg=\"reaped an unknown child\" pid=%ld", (long)pid);
        return;
    }
    struct slot *s = &p->slots[a][i];

    char worker[300], reason[512], fields[64], label[128];
    worker_id(pid, worker, sizeof(worker));
    describe_exit(p, a, i, s, status, worker, reason, sizeof(reason), fields, sizeof(fields));
    slot_label(a, i, pid, label, sizeof(label));
    int64_t ran = now - s->started_ms;
    bool asked = s->state == SLOT_STOPPING || p->mode != POOL_RUNNING;
    bool fatal = !asked && WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_FATAL;
    if (asked)
        log_info("msg=\"worker exited\" %s %s ran_ms=%lld", label, fields, (long long)ran);
    else
        log_warn("msg=\"worker exited\" %s %s ran_ms=%lld", label, fields, (long long)ran);
    /* Its jobs go back now, whatever the reason (after a clean exit there are none). */
    release_submit(p->release, worker, reason, label);

    s->pid = 0;
    if (p->mode != POOL_RUNNING || (asked && i >= p->want.count[a])) {
        s->state = SLOT_EMPTY;
    } else if (asked) { /* stopped for a scale-down, then wanted again by a later reload */
        backoff_reset(&s->backoff);
        start_slot(p, a, i, now);
    } else if (fatal) {
        s->state = SLOT_FATAL;
        log_error("msg=\"worker failed fatally; not restarting it\" %s code=%d", label,
                  WORKER_EXIT_FATAL);
    } else {
        if (ran > RESPAWN_RESET_AFTER_MS)
            backoff_reset(&s->backoff);
        long delay = backoff_next(&s->backoff);
        s->state = SLOT_WAITING;
        s->next_start_ms = now + delay;
        s->restarts++;
        log_info("msg=\"restarting\" agent=%s slot=%d delay_ms=%ld restarts=%d",
                 agents_name((enum agent_id)a), i, delay, s->restarts);
    }
}

static void reap(struct pool *p, int64_t now)
{
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            child_exited(p, pid, status, now);
            continue;
        }
        if (pid < 0 && errno == EINTR)
            continue;
        break; /* 0: none left to reap; ECHILD: no children */
    }
}

struct census {
    int live;   /* processes: RUNNING or STOPPING */
    int active; /* live or WAITING */
    int fatal;
};

static struct census count_slots(const struct pool *p)
{
    struct census c = {0, 0, 0};
    for (int a = 0; a < AGENT__COUNT; a++) {
        for (int i = 0; i < AGENTS_MAX_COUNT; i++) {
            enum slot_state st = p->slots[a][i].state;
            c.live += st == SLOT_RUNNING || st == SLOT_STOPPING;
            c.active += st == SLOT_RUNNING || st == SLOT_STOPPING || st == SLOT_WAITING;
            c.fatal += st == SLOT_FATAL;
        }
    }
    return c;
}

static void begin_stop(struct pool *p, const char *signame, int64_t now)
{
    p->mode = POOL_STOPPING;
    log_info("msg=\"stopping\" signal=%s workers=%d stop_timeout_s=%ld", signame,
             count_slots(p).live, p->stop_timeout_ms / 1000);
    for (int a = 0; a < AGENT__COUNT; a++)
        for (int i = AGENTS_MAX_COUNT - 1; i >= 0; i--)
            stop_slot(p, a, i, now, "shutdown");
}

static void kill_all(struct pool *p, const char *signame)
{
    p->mode = POOL_KILLING;
    p->exit_code = 1;
    log_warn("msg=\"second stop signal: killing every worker now\" signal=%s workers=%d", signame,
             count_slots(p).live);
    for (int a = 0; a < AGENT__COUNT; a++)
        for (int i = 0; i < AGENTS_MAX_COUNT; i++)
            if (p->slots[a][i].state == SLOT_RUNNING || p->slots[a][i].state == SLOT_STOPPING)
                kill_slot(p, a, i);
}

static void reload(struct pool *p, int64_t now)
{
    char err[512], quoted[600], file[4200], before[256], after[256];
    if (!p->agents_file[0]) {
        log_info("msg=\"SIGHUP: no agents file (--agents-file) to re-read; nothing changes\"");
        return;
    }
    log_quote(p->agents_file, file, sizeof(file));
    struct agents next;
    if (agents_read_file(p->agents_file, &next, err, sizeof(err)) < 0 ||
        agents_check_executables(p->agent_dir, &next, err, sizeof(err)) < 0) {
        log_error("msg=\"SIGHUP: invalid agents file; keeping the current counts\" file=%s "
                  "error=%s",
                  file, log_quote(err, quoted, sizeof(quoted)));
        return;
    }
    agents_format(&p->want, before, sizeof(before));
    agents_format(&next, after, sizeof(after));
    log_info("msg=\"SIGHUP: agents reloaded\" file=%s before=\"%s\" after=\"%s\"", file, before,
             after);
    p->want = next;
    apply_counts(p, now);
}

/* Restarts whose delay is over, and SIGKILL for children past their stop timeout. */
static void run_timers(struct pool *p, int64_t now)
{
    char label[128];
    for (int a = 0; a < AGENT__COUNT; a++) {
        for (int i = 0; i < AGENTS_MAX_COUNT; i++) {
            struct slot *s = &p->slots[a][i];
            if (s->state == SLOT_WAITING && now >= s->next_start_ms && p->mode == POOL_RUNNING) {
                start_slot(p, a, i, now);
            } else if (s->state == SLOT_STOPPING && !s->killed && now >= s->kill_at_ms) {
                log_warn("msg=\"worker still running after the stop timeout; killing it\" %s "
                         "stop_timeout_s=%ld",
                         slot_label(a, i, s->pid, label, sizeof(label)), p->stop_timeout_ms / 1000);
                kill_slot(p, a, i);
            }
        }
    }
}

/* Milliseconds until the next timer (-1: none), capped so the int poll timeout holds. */
static int next_timeout(const struct pool *p, int64_t now, int64_t flush_deadline)
{
    int64_t best = -1;
    for (int a = 0; a < AGENT__COUNT; a++) {
        for (int i = 0; i < AGENTS_MAX_COUNT; i++) {
            const struct slot *s = &p->slots[a][i];
            int64_t at = -1;
            if (s->state == SLOT_WAITING && p->mode == POOL_RUNNING)
                at = s->next_start_ms;
            else if (s->state == SLOT_STOPPING && !s->killed)
                at = s->kill_at_ms;
            if (at >= 0) {
                int64_t in = at > now ? at - now : 0;
                if (best < 0 || in < best)
                    best = in;
            }
        }
    }
    long r = release_timeout_ms(p->release, now);
    if (r >= 0 && (best < 0 || r < best))
        best = r;
    if (flush_deadline > 0) {
        int64_t in = flush_deadline > now ? flush_deadline - now : 0;
        if (best < 0 || in < best)
            best = in;
    }
    return best < 0 ? -1 : best > INT_MAX ? INT_MAX : (int)best;
}

static const char *signal_name(uint32_t sig)
{
    switch (sig) {
    case SIGTERM: return "TERM";
    case SIGINT: return "INT";
    case SIGHUP: return "HUP";
    default: return "CHLD";
    }
}

static void read_signals(struct pool *p, int64_t now)
{
    struct signalfd_siginfo si;
    bool child = false;
    while (read(p->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD: child = true; break;
        case SIGTERM:
        case SIGINT:
            if (p->mode == POOL_RUNNING)
                begin_stop(p, signal_name(si.ssi_signo), now);
            else if (p->mode == POOL_STOPPING)
                kill_all(p, signal_name(si.ssi_signo));
            else
                log_info("msg=\"already exiting\" signal=%s", signal_name(si.ssi_signo));
            break;
        case SIGHUP:
            if (p->mode == POOL_RUNNING)
                reload(p, now);
            else
                log_info("msg=\"SIGHUP ignored while stopping\"");
            break;
        default: break;
        }
    }
    if (child)
        reap(p, now);
}

static int setup_signals(struct pool *p)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    signal(SIGPIPE, SIG_IGN); /* a closed database socket must not kill the pool */
    p->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return p->signal_fd < 0 ? -1 : 0;
}

int pool_run(struct pool *p)
{
    if (setup_signals(p) < 0) {
        log_error("msg=\"cannot set up signal handling\" error=\"%s\"", strerror(errno));
        return 1;
    }
    char agents[256], dir[4200];
    log_info("msg=\"pool started\" pid=%ld agents=\"%s\" agent_dir=%s", (long)getpid(),
             agents_format(&p->want, agents, sizeof(agents)),
             log_quote(p->agent_dir, dir, sizeof(dir)));
    int64_t now = (int64_t)(clock_now() * 1e3);
    apply_counts(p, now);

    short release_revents = 0;
    int64_t flush_deadline = 0;
    for (;;) {
        now = (int64_t)(clock_now() * 1e3);
        run_timers(p, now);
        release_step(p->release, release_revents, now);
        release_revents = 0;

        struct census c = count_slots(p);
        if (p->mode == POOL_RUNNING && c.fatal > 0 && c.active == 0) {
            log_error("msg=\"every worker failed fatally; exiting\" fatal=%d", c.fatal);
            p->mode = POOL_STOPPING;
            p->exit_code = 1;
        }
        if (p->mode != POOL_RUNNING && c.live == 0) {
            size_t left = release_pending(p->release);
            if (left == 0)
                break;
            if (flush_deadline == 0)
                flush_deadline = now + RELEASE_FLUSH_MS;
            else if (now >= flush_deadline) {
                log_warn("msg=\"exiting with crash releases undone; the sweeper requeues those "
                         "jobs when their leases expire\" pending=%zu",
                         left);
                break;
            }
        }

        struct pollfd fds[2] = {{p->signal_fd, POLLIN, 0}, {-1, 0, 0}};
        release_poll_want(p->release, &fds[1].fd, &fds[1].events);
        int n = poll(fds, 2, next_timeout(p, now, flush_deadline));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("msg=\"poll failed\" error=\"%s\"", strerror(errno));
            p->exit_code = 1;
            break; /* the children get SIGTERM from their parent-death signal */
        }
        now = (int64_t)(clock_now() * 1e3);
        if (fds[0].revents)
            read_signals(p, now);
        if (fds[1].fd >= 0)
            release_revents = fds[1].revents;
    }
    log_info("msg=\"pool stopped\" code=%d", p->exit_code);
    return p->exit_code;
}
