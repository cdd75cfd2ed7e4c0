/* spawn — starts one agent process for the pool: fork, then in the child a clean slate
 * (default signal dispositions, nothing blocked, its own process group, stdin from
 * /dev/null, SIGTERM if the pool dies) and exec of the agent's executable with argv[0] set
 * to the agent's name. The environment and stdout/stderr are inherited. */
#ifndef FLOWSTATE_POOL_SPAWN_H
#define FLOWSTATE_POOL_SPAWN_H

#include <sys/types.h>

/* Returns the child's pid, or -1 when fork failed (errno set). A failed exec shows up as
 * the child exiting with SPAWN_EXEC_FAILED (logged by the child). */
pid_t spawn_agent(const char *path, const char *name);

#define SPAWN_EXEC_FAILED 127

#endif
