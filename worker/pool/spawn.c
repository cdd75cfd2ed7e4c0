/* spawn — fork and exec of one agent process (see spawn.h).
 *
 * Why a process group of its own: Ctrl-C in a terminal signals the whole foreground
 * group. The pool turns its SIGINT into one SIGTERM per child; had the children received
 * the SIGINT as well, that second signal would make them drop their jobs at once instead
 * of draining. */
#include "worker/pool/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"

/* In the child, between fork and exec: only async-signal-safe calls that cannot fail in
 * a way worth handling (log_msg formats into a stack buffer and write()s once). */
static void child_prepare(pid_t parent)
{
    setpgid(0, 0);
    /* The pool's SIGKILL must not leave orphans running without a supervisor. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1); /* the pool died before prctl took effect */

    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP, RT gaps */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO); /* dup2 clears close-on-exec on the copy */
        if (fd != STDIN_FILENO)
            close(fd);
    }
}

pid_t spawn_agent(const char *path, const char *name)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        /* Also from this side, so the group exists whichever process runs first. */
        setpgid(pid, pid);
        return pid;
    }
    child_prepare(parent);
    char arg0[256], quoted[4200];
    snprintf(arg0, sizeof(arg0), "%s", name);
    char *const argv[] = {arg0, NULL};
    execv(path, argv);
    int e = errno;
    log_error("msg=\"cannot start agent\" agent=%s path=%s error=\"%s\"", name,
              log_quote(path, quoted, sizeof(quoted)), strerror(e));
    _exit(SPAWN_EXEC_FAILED);
}
