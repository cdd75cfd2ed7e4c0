/* evfilter — which events a stream or a listing wants: the query parameters channel (seed
 * 002's channel names), type, agent, jobId, runId and conversationId, parsed once and then
 * matched against each event (the stream filters in C; the listing passes the same filter to
 * SQL, whose fs_event_type_matches matches types the same way). Every parameter given must
 * match (AND); the names inside channel= or type= are alternatives (OR). */
#ifndef FLOWSTATE_EVFILTER_H
#define FLOWSTATE_EVFILTER_H

#include <stdbool.h>
#include <stddef.h>

#define EVFILTER_PATTERNS_MAX 16
#define EVFILTER_TYPE_MAX 64   /* as POST /api/events accepts */
#define EVFILTER_ID_MAX 128    /* runId, conversationId */
#define EVFILTER_AGENT_MAX 100 /* AGENT_NAME_MAX */

/* The raw query parameters (NULL: absent). */
struct evfilter_params {
    const char *channel, *type, *agent, *job_id, *run_id, *conversation_id;
};

/* A parsed filter. Type patterns are a type, or a prefix ending in '*' ("job.*"). */
struct evfilter {
    int nchannel; /* channel patterns (0 with has_channel: only agent-{id} channels) */
    bool has_channel;
    const char *channel_patterns[EVFILTER_PATTERNS_MAX];
    int ntype;
    char type_patterns[EVFILTER_PATTERNS_MAX][EVFILTER_TYPE_MAX + 2];
    char agent[EVFILTER_AGENT_MAX + 1]; /* "" : any */
    long long job_id;                   /* 0: any */
    char run_id[EVFILTER_ID_MAX + 1];   /* "" : any */
    char conversation_id[EVFILTER_ID_MAX + 1];
};

/* One event's filterable fields (NULL or 0: the event has none). */
struct evfilter_event {
    const char *type, *agent, *run_id, *conversation_id;
    long long job_id;
};

/* Why a parameter was refused: its name and a message. */
struct evfilter_error {
    const char *field;
    char message[200];
};

/* Parses p into f. Returns 0, or -1 with err set (a name that is not a channel, a bad type
 * pattern, a job id that is not a positive integer, too many patterns, two agents). */
int evfilter_parse(struct evfilter *f, const struct evfilter_params *p, struct evfilter_error *err);

/* Whether e passes f. */
bool evfilter_match(const struct evfilter *f, const struct evfilter_event *e);

/* Writes f's channel (which=0) or type (which=1) patterns as a PostgreSQL text[] literal into
 * buf ("{...}"), or returns NULL when f has none of them (no filter). NULL also when buf is too
 * small, which cannot happen with EVFILTER_ARRAY_MAX bytes. */
#define EVFILTER_ARRAY_MAX (EVFILTER_PATTERNS_MAX * (EVFILTER_TYPE_MAX + 5) + 4)
const char *evfilter_sql_array(const struct evfilter *f, int which, char *buf, size_t len);

#endif
