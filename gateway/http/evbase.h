/* evbase — how the gateway configures its event loop and libevent's log. Its own module so that the
 * benchmark's evhttp ceilings (tests/bench/evserver.h) link this very code and always run
 * the loop the gateway runs. */
#ifndef FLOWSTATE_EVBASE_H
#define FLOWSTATE_EVBASE_H

struct event_base;

/* The gateway's event loop: epoll with libevent's changelist, which folds the changes made
 * to one socket during a loop iteration into at most one epoll_ctl. evhttp turns a
 * connection's read and write interest off and on around every request, so without it each
 * request costs four epoll_ctl calls (strace: 4.0 a POST without it, 3.0 with it). Safe
 * here because no socket is ever dup()ed, the one case the changelist mishandles; a socket
 * closed and reopened under the same number is retried as an add. NULL on failure. */
struct event_base *gateway_event_base(void);

/* Routes libevent's own messages through our log, at most ten a second (the rest are counted
 * in the next line): one failing call repeated in a loop must not flood the log. */
void gateway_event_log(void);

#endif
