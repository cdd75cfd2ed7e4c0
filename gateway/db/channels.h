/* channels — the gateway's LISTEN connection, subscribed to a NOTIFY channel only while a
 * part of the gateway needs it: fs_jobs while long-poll waiters wait, fs_documents once the
 * vector cache is in use, fs_events while event streams are open.
 *
 * Why not always: PostgreSQL (up to 18) wakes every backend that listens to anything in a
 * database for every NOTIFY committed in it, whatever the channel, and every job insert,
 * claim and completion notifies. A gateway that listened from its start made its listening
 * backend wake (and forward fs_jobs to it) for each of those statements: POST /api/jobs at
 * 32 connections ran about 9% faster without it (two runs of 6 and 8 alternated pairs).
 * Listening to any channel at all costs that wake, so what must reach every gateway all the
 * time is polled instead: API key changes (api_key_changes, read once a second by
 * gateway/http/auth.c while keys are cached).
 *
 * A channel that is wanted is LISTENed at once; once the LISTEN has taken effect the
 * channel's ready hook runs, so its owner re-reads whatever may have changed before (the
 * same hook runs after every reconnect, when notifications may have been lost). A channel
 * no longer wanted is UNLISTENed after CHANNELS_LINGER_S, so a trickle of waiters does not
 * subscribe and unsubscribe for each one. One LISTEN or UNLISTEN is in flight at a time. */
#ifndef FLOWSTATE_CHANNELS_H
#define FLOWSTATE_CHANNELS_H

#include <event2/event.h>
#include <stdbool.h>

#define CHANNELS_LINGER_S 5.0

enum channel { CHANNEL_JOBS, CHANNEL_DOCUMENTS, CHANNEL_EVENTS, CHANNEL__COUNT };

/* A notification on the channel (payload never NULL; valid only during the call). */
typedef void (*channel_notify_cb)(const char *payload, void *arg);
/* The channel's LISTEN took effect: again is true when it follows a lost connection. */
typedef void (*channel_ready_cb)(bool again, void *arg);
/* The connection finished its session set-up (first connect or reconnect). */
typedef void (*channels_connect_cb)(void *arg);

struct channels;

/* The LISTEN connection (it connects in the background, subscribed to nothing). NULL on
 * allocation failure. */
struct channels *channels_new(struct event_base *base, const char *conninfo);
/* Closes the connection. Accepts NULL. */
void channels_free(struct channels *c);

/* Sets a channel's hooks (either may be NULL), before the loop runs. */
void channels_set_hooks(struct channels *c, enum channel ch, channel_notify_cb on_notify,
                        channel_ready_cb on_ready, void *arg);
/* Sets the hook called on every (re)connect, before the loop runs. */
void channels_on_connect(struct channels *c, channels_connect_cb cb, void *arg);

/* Whether some part of the gateway needs the channel now. */
void channels_want(struct channels *c, enum channel ch, bool want);

#endif
