/* runtime — what every agent executable runs: settings, registration with the gateway,
 * the executor and reporter threads, and the main thread's claim loop (see shared.h for how
 * they cooperate). Exit codes: 0 after a graceful stop, WORKER_EXIT_FATAL when restarting
 * cannot help (bad settings, the gateway refused our key), 1 otherwise. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/workerid.h"
#include "worker/runtime/shared.h"

void runtime_wake(struct runtime *rt)
{
    uint64_t one = 1;
    ssize_t w = write(rt->wake_fd, &one, sizeof(one));
    (void)w;
}

int runtime_room(const struct runtime *rt)
{
    return rt->concurrency + claimsize_prefetch(&rt->sizing) - rt->executing - rt->exec_q.len;
}

int runtime_refill_min(const struct runtime *rt) { return claimsize_refill_min(&rt->sizing); }

static void usage(const struct agent_def *agent, const struct config *cfg)
{
    printf("Usage: %s [--setting VALUE ...]\n"
           "\n"
           "A Flowstate worker for the agent '%s'. It registers with the gateway\n"
           "(BACKEND_API_URL), claims this agent's jobs from PostgreSQL (DATABASE_URL), runs\n"
           "them, and reports each outcome to the gateway. Usually started by flowstate-pool.\n"
           "\n"
           "Tasks (payload.taskType): ping, inter_agent_message",
           agent->name, agent->name);
    for (size_t i = 0; i < agent->ntasks; i++)
        printf(", %s", agent->tasks[i].name);
    printf("\n\nClaims: with --prefetch and --claim-batch at auto, the worker sizes both from the\n"
           "jobs it sees (docs/workers.md); a number pins either. It never holds more than\n"
           "2 x concurrency + prefetch (%d when auto) + claim batch (%d when auto, or the\n"
           "concurrency if larger) jobs, also while the gateway is unreachable.",
           CLAIMSIZE_PREFETCH_MAX, CLAIMSIZE_BATCH_MAX);
    printf("\n\nSignals: SIGTERM/SIGINT stop claiming, let running jobs finish for up to\n"
           "--shutdown-timeout seconds, hand back the rest and exit 0; a second one hands\n"
           "everything back at once. Exit code %d means \"do not restart\" (bad settings,\n"
           "key refused).\n\n"
           "  --show-config   print the effective settings (secrets redacted) and exit\n"
           "  --help          this text\n\n",
           WORKER_EXIT_FATAL);
    config_print_help(cfg, stdout);
}

/* Parses the environment and flags. Returns -1 to continue, else an exit code. */
static int parse_settings(const struct agent_def *agent, struct config *cfg, int argc, char **argv)
{
    char err[512];
    if (config_load_env(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", agent->name, err);
        return WORKER_EXIT_FATAL;
    }
    int mode = CLI_RUN;
    bool help = false; /* --help wins over --show-config wherever it stands */
    for (int i = 1; i < argc; i++) {
        if (cli_flag(cfg, agent->name, false, argc, argv, &i, &mode) < 0)
            return WORKER_EXIT_FATAL;
        help = help || mode == CLI_HELP;
    }
    cli_apply_log_level(cfg);
    if (help) {
        usage(agent, cfg);
        return 0;
    }
    if (cli_print_info(cfg, agent->name, mode))
        return 0;
    if (!config_str(cfg, CFG_DATABASE_URL)[0]) {
        fprintf(stderr, "%s: DATABASE_URL is required (e.g. postgresql://user@host/db)\n",
                agent->name);
        return WORKER_EXIT_FATAL;
    }
    return -1;
}

/* Waits ms for a stop signal. Returns true when one came. */
static bool wait_for_signal(int signal_fd, long ms)
{
    struct pollfd p = {signal_fd, POLLIN, 0};
    if (poll(&p, 1, (int)ms) <= 0)
        return false;
    struct signalfd_siginfo si;
    return read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si);
}

/* Registers the agent, retrying while the gateway is unreachable. Returns -1 to continue,
 * else an exit code. */
static int register_agent(struct runtime *rt, int signal_fd)
{
    struct backoff bo;
    backoff_init(&bo, 200, 10000);
    for (;;) {
        char err[512], quoted[600];
        int rc = reporter_register(rt, err, sizeof(err));
        if (rc == 0)
            return -1;
        if (rc == -2) {
            log_error(
                "msg=\"the gateway refused the registration; not retrying\" agent=%s error=%s",
                rt->agent->name, log_quote(err, quoted, sizeof(quoted)));
            return WORKER_EXIT_FATAL;
        }
        long delay = backoff_next(&bo);
        log_warn("msg=\"cannot reach the gateway; retrying\" url=%s error=%s retry_ms=%ld",
                 config_str(rt->cfg, CFG_BACKEND_API_URL), log_quote(err, quoted, sizeof(quoted)),
                 delay);
        if (wait_for_signal(signal_fd, delay))
            return 0;
    }
}

int runtime_main(const struct agent_def *agent, int argc, char **argv)
{
    struct config *cfg = config_new(CONFIG_WORKER);
    if (!cfg) {
        fprintf(stderr, "%s: out of memory\n", agent->name);
        return 1;
    }
    int rc = parse_settings(agent, cfg, argc, argv);
    if (rc >= 0) {
        config_free(cfg);
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* every thread inherits the mask */
    int signal_fd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
    /* Executor threads would each get a malloc arena of their own, each holding memory
     * resident (docs/measurements.md); tasks allocate little, so two arenas keep a worker's
     * memory small. */
    mallopt(M_ARENA_MAX, 2);
    srandom((unsigned)(time(NULL) ^ ((unsigned)getpid() << 16)));

    struct runtime rt = {
        .agent = agent,
        .cfg = cfg,
        .concurrency = (int)config_int(cfg, CFG_CONCURRENCY),
        .report_batch = (int)config_int(cfg, CFG_REPORT_BATCH),
        .report_delay_s = (double)config_int(cfg, CFG_REPORT_DELAY_MS) / 1000.0,
        .poll_ms = (int)config_int(cfg, CFG_POLL_INTERVAL_MS),
        .lease_s = (int)config_int(cfg, CFG_LEASE),
        .heartbeat_s = (int)config_int(cfg, CFG_HEARTBEAT),
        .shutdown_s = (int)config_int(cfg, CFG_SHUTDOWN_TIMEOUT),
        .wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
    };
    worker_id(getpid(), rt.worker, sizeof(rt.worker));
    long prefetch = config_int(cfg, CFG_PREFETCH), claim_batch = config_int(cfg, CFG_CLAIM_BATCH);
    claimsize_init(&rt.sizing, rt.concurrency,
                   prefetch == CONFIG_AUTO ? CLAIMSIZE_AUTO : (int)prefetch,
                   claim_batch == CONFIG_AUTO ? CLAIMSIZE_AUTO : (int)claim_batch);
    /* Adaptive: the lock guards a few pointer moves, so a thread that finds it taken spins
     * briefly instead of sleeping; executors finishing short jobs contend for it. */
    pthread_mutexattr_t lock_attr;
    pthread_mutexattr_init(&lock_attr);
    pthread_mutexattr_settype(&lock_attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&rt.lock, &lock_attr);
    pthread_mutexattr_destroy(&lock_attr);
    pthread_cond_init(&rt.exec_cond, NULL);
    pthread_cond_init(&rt.report_cond, NULL);
    if (signal_fd < 0 || rt.wake_fd < 0) {
        log_error("msg=\"cannot create event descriptors\" error=\"%s\"", strerror(errno));
        rc = 1;
        goto out;
    }
    log_info("msg=starting agent=%s worker=%s concurrency=%d prefetch=%s claim_batch=%s "
             "holding_cap=%d gateway=%s",
             agent->name, rt.worker, rt.concurrency, config_str(cfg, CFG_PREFETCH),
             config_str(cfg, CFG_CLAIM_BATCH), claimsize_cap(&rt.sizing),
             config_str(cfg, CFG_BACKEND_API_URL));
    rc = register_agent(&rt, signal_fd);
    if (rc >= 0)
        goto out;
    if (executors_start(&rt) < 0 || reporter_start(&rt) < 0) {
        log_error("msg=\"cannot start threads\"");
        _exit(1);
    }
    rc = claimer_run(&rt, signal_fd);
    if (rt.exec_threads)
        _exit(rc); /* a task ignored its stop flag and still uses rt: leave without unwinding */
out:
    if (signal_fd >= 0)
        close(signal_fd);
    if (rt.wake_fd >= 0)
        close(rt.wake_fd);
    free(rt.exec_threads);
    config_free(cfg);
    return rc;
}
