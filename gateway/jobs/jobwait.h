/* jobwait — long polls: GET /api/jobs/:id?wait=N holds its request until the job is
 * finished (completed, failed or cancelled) or N seconds pass, then answers with the job.
 * Waiters are woken by the NOTIFYs on channel fs_jobs that the gateway's LISTEN connection
 * receives while anyone waits, never by polling. */
#ifndef FLOWSTATE_JOBWAIT_H
#define FLOWSTATE_JOBWAIT_H

#include <event2/event.h>
#include <stdbool.h>

struct request;
struct jobwait;
struct pgpool;
struct channels;

/* Waiters timed on base, reading jobs through pool and subscribing to fs_jobs on channels
 * while any wait; at most max_total at once, max_per_key of them for one caller
 * (jobwait_admit). NULL on allocation failure. */
struct jobwait *jobwait_new(struct event_base *base, struct pgpool *pool, struct channels *channels,
                            int max_total, int max_per_key);
/* Frees every waiter without answering (their requests are freed): only after the loop
 * has stopped and the pools are freed. Accepts NULL. */
void jobwait_free(struct jobwait *jw);

/* Whether r may wait: true, or false having answered 429 (its caller holds max_per_key waiters:
 * the API key, or with auth off the client address) or 503 (max_total are waiting), both
 * with Retry-After. Asked before anything is changed, so a refused request changes nothing. */
bool jobwait_admit(struct jobwait *jw, struct request *r);

/* Takes r over (whether or not jobwait_admit was asked): answers 200 with job id once it is
 * finished, or after seconds with its current state (status r->ok_status), 404 when there is no
 * such job, 503 when the database cannot be read. While the gateway drains, answers at once. */
void jobwait_add(struct jobwait *jw, struct request *r, long long id, int seconds);

/* The fs_jobs channel's hooks (channels.h; arg is the jobwait). A notification wakes the
 * waiters of the jobs it lists as finished; the LISTEN taking effect (again: after a lost
 * connection) wakes them all, since what changed before it was not notified to us. */
void jobwait_notify(const char *payload, void *arg);
void jobwait_resync(bool again, void *arg);

/* Graceful shutdown: every waiter is answered now with its job's current state. */
void jobwait_drain(struct jobwait *jw);

/* Requests waiting (for tests and logs). */
int jobwait_count(const struct jobwait *jw);

/* Parses an fs_jobs payload ({"<status>":[ids…],…} or {"truncated":true}) and calls each(id,
 * arg) for every job it lists under completed, failed or cancelled. Returns 0, or -1 when
 * every waiter must re-read instead: truncated, or a payload it does not understand. */
int jobwait_parse_payload(const char *payload, void (*each)(long long id, void *arg), void *arg);

#endif
