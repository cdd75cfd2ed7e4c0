/* workerid — conventions shared by the supervisor and the worker processes it runs: the
 * exit code that means "do not restart me", and the worker id ("host:pid") that claims
 * store in job_queue.locked_by, so the supervisor can release a dead child's jobs. */
#ifndef FLOWSTATE_WORKERID_H
#define FLOWSTATE_WORKERID_H

#include <stddef.h>
#include <sys/types.h>

/* A worker exits with this (EX_CONFIG) when restarting cannot help: bad settings, a
 * rejected API key. The supervisor then leaves it stopped. */
#define WORKER_EXIT_FATAL 78

/* Writes "host:pid" for pid on this machine into buf. Returns buf. */
char *worker_id(pid_t pid, char *buf, size_t len);

#endif
