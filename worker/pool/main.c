/* flowstate-pool — command line of the supervisor: settings from the environment and
 * flags, --help and --show-config, the agents list and executables checked before anything
 * starts (exit 2 naming the setting), worker settings exported to the children's
 * environment, then the pool itself (pool.h). */
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/config.h"
#include "common/log.h"
#include "worker/pool/agents.h"
#include "worker/pool/pool.h"

#define PROG "flowstate-pool"

static void usage(const struct config *cfg, FILE *out)
{
    fprintf(out,
            "Usage: " PROG " [--setting VALUE ...]\n"
            "\n"
            "Supervisor of the Flowstate worker processes, like nginx's master: starts\n"
            "<agent-dir>/<agent> as many times as the agents list says (argv[0] = the agent's\n"
            "name), restarts a worker that exits after a random 50-100 ms, a delay that\n"
            "doubles with each quick failure up to --respawn-max-ms (and starts over once a\n"
            "worker ran 10 s), leaves one that exits with code 78 stopped, and hands a dead\n"
            "worker's running jobs back to the queue at once (fs_jobs_release_worker in\n"
            "DATABASE_URL). Worker settings given here (e.g. --concurrency 16) reach the\n"
            "workers through their environment; stdout and stderr are shared.\n"
            "\n"
            "Agents list (--agents, or one entry per line in --agents-file; # comments):\n"
            "  code_analyzer=2,data_processor=1,coordinator=1,learning=1,monitoring=1\n"
            "  Counts 0..64; an agent left out runs 0 processes.\n"
            "\n"
            "Signals:\n"
            "  SIGTERM, SIGINT  stop: SIGTERM to every worker (they finish or hand back their\n"
            "                   jobs), SIGKILL to those still running after --stop-timeout,\n"
            "                   exit 0; a second signal SIGKILLs every worker at once, exit 1\n"
            "  SIGHUP           re-read --agents-file and scale to it (extra workers get SIGTERM,\n"
            "                   highest slot first); an invalid file is logged and ignored\n"
            "\n"
            "Exit codes: 0 stopped gracefully; 1 forced stop, every worker failed fatally, or\n"
            "a system error; 2 invalid settings (nothing was started).\n"
            "\n"
            "Modes:\n"
            "  --show-config         print the effective settings (secrets redacted) and exit\n"
            "  --version             print the version and exit\n"
            "  --help                this text\n"
            "\n");
    config_print_help(cfg, out);
}

/* The directory holding this executable, for the default --agent-dir. */
static int own_dir(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0 || (size_t)n >= len - 1)
        return -1;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash)
        return -1;
    if (slash == buf)
        slash[1] = '\0'; /* "/" itself */
    else
        *slash = '\0';
    return 0;
}

/* The agents list from --agents-file when set, else --agents. Prints the error naming
 * the setting. */
static int load_agents(const struct config *cfg, struct agents *out)
{
    char err[512];
    const char *file = config_str(cfg, CFG_AGENTS_FILE);
    if (file[0]) {
        if (agents_read_file(file, out, err, sizeof(err)) < 0) {
            fprintf(stderr, PROG ": invalid --agents-file (FLOWSTATE_AGENTS_FILE) %s: %s\n", file,
                    err);
            return -1;
        }
        return 0;
    }
    if (agents_parse(config_str(cfg, CFG_AGENTS), out, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG ": invalid --agents (FLOWSTATE_AGENTS): %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int mode = CLI_RUN;
    char err[512], dir[PATH_MAX];
    int rc = CLI_EXIT_USAGE;
    struct pool *pool = NULL;
    struct config *cfg = config_new(CONFIG_POOL | CONFIG_WORKER);
    if (!cfg) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (config_load_env(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto done;
    }
    for (int i = 1; i < argc; i++)
        if (cli_flag(cfg, PROG, true, argc, argv, &i, &mode) < 0)
            goto done;

    cli_apply_log_level(cfg);

    if (mode == CLI_HELP) {
        usage(cfg, stdout);
        rc = 0;
        goto done;
    }
    if (cli_print_info(cfg, PROG, mode)) {
        rc = 0;
        goto done;
    }

    struct agents want;
    if (load_agents(cfg, &want) < 0)
        goto done;
    const char *agent_dir = config_str(cfg, CFG_AGENT_DIR);
    if (!agent_dir[0]) {
        if (own_dir(dir, sizeof(dir)) < 0) {
            fprintf(stderr, PROG ": cannot find the directory of " PROG "; set --agent-dir\n");
            goto done;
        }
        agent_dir = dir;
    }
    if (agents_check_executables(agent_dir, &want, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG ": --agent-dir (FLOWSTATE_AGENT_DIR) %s: %s\n", agent_dir, err);
        goto done;
    }
    const char *url = config_str(cfg, CFG_DATABASE_URL);
    if (url[0]) {
        char *perr = NULL;
        PQconninfoOption *parsed = PQconninfoParse(url, &perr);
        if (!parsed) {
            fprintf(stderr, PROG ": invalid --database-url (DATABASE_URL): %s",
                    perr ? perr : "out of memory\n");
            PQfreemem(perr);
            goto done;
        }
        PQconninfoFree(parsed);
    }
    rc = 1;
    /* Worker settings given to the pool as flags reach the children as variables. */
    if (config_export_env(cfg, CONFIG_WORKER) < 0) {
        fprintf(stderr, PROG ": cannot export the worker settings: %s\n", strerror(errno));
        goto done;
    }
    struct pool_options opt = {
        .agent_dir = agent_dir,
        .agents_file = config_str(cfg, CFG_AGENTS_FILE),
        .database_url = config_str(cfg, CFG_DATABASE_URL),
        .stop_timeout_ms = config_int(cfg, CFG_STOP_TIMEOUT) * 1000,
        .respawn_max_ms = config_int(cfg, CFG_RESPAWN_MAX_MS),
    };
    pool = pool_new(&opt, &want);
    if (!pool) {
        fprintf(stderr, PROG ": out of memory\n");
        goto done;
    }
    rc = pool_run(pool);
done:
    pool_free(pool);
    config_free(cfg);
    return rc;
}
