/* pool — the supervisor's process table and event loop, after nginx's master process: one
 * slot per (agent, index) with its pid and state, children started with spawn_agent,
 * reaped with waitpid(-1, WNOHANG), restarted with a growing delay unless they exit with
 * WORKER_EXIT_FATAL, their jobs released the moment they are gone (release.h). Signals
 * are read from a signalfd in a poll loop whose timeout is the next timer (a restart, a
 * SIGKILL deadline, a release retry):
 *   SIGTERM, SIGINT  stop: SIGTERM to every child, SIGKILL after the stop timeout, exit 0;
 *                    a second one SIGKILLs every child at once and exits 1
 *   SIGHUP           re-read the agents file and scale to its counts */
#ifndef FLOWSTATE_POOL_POOL_H
#define FLOWSTATE_POOL_POOL_H

#include "worker/pool/agents.h"

struct pool;

struct pool_options {
    const char *agent_dir;    /* where the agent executables are */
    const char *agents_file;  /* re-read on SIGHUP; "" when the counts came from --agents */
    const char *database_url; /* for crash release; "" skips it */
    long stop_timeout_ms;     /* SIGTERM to SIGKILL */
    long respawn_max_ms;      /* longest restart delay */
};

/* Copies what it needs from opt; want is the initial agents list (executables already
 * checked). Starts nothing yet. NULL on allocation failure. */
struct pool *pool_new(const struct pool_options *opt, const struct agents *want);
void pool_free(struct pool *p);

/* Blocks the pool's signals, starts the children and supervises them until a stop.
 * Returns the exit code: 0 after a graceful stop, 1 after a forced one (second signal),
 * when every worker failed fatally, or when the loop could not be set up (logged). */
int pool_run(struct pool *p);

#endif
