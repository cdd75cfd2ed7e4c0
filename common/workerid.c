/* workerid — the "host:pid" id of a worker process (see workerid.h). */
#include "common/workerid.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

char *worker_id(pid_t pid, char *buf, size_t len)
{
    char host[256];
    if (gethostname(host, sizeof(host)) < 0)
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = '\0';
    snprintf(buf, len, "%s:%ld", host, (long)pid);
    return buf;
}
