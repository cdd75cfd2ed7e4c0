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
 * while any wait. NULL on allocation failure. */
struct jobwait *jobwait_new(struct event_base *base, struct pgpool *pool,
                            struct channels *channels);
/* Frees every waiter without answering (their requests are freed): only after the loop
 * has stopped and the pools are freed. Accepts NULL. */
void jobwait_free(struct jobwait *jw);

/* Takes r over: answers 200 with job id once it is finished, or after seconds with its
 * current state (status r->ok_status), 404 when there is no such job, 503 when the database
 * cannot be read. While the gateway drains, answers at once. */
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
