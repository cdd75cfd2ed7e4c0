/* queries — every SQL statement the gateway runs, prepared on each pooled connection.
 * Most return one row with one column: the response body, built by the fs_*_json
 * functions from sql/, so the API's JSON shape is defined in one place. The exception is
 * the plain group-commit insert, whose new jobs are printed from their columns by
 * gateway/jobs/jobjson.c; a test holds that text to fs_job_json's, byte for byte. */
#ifndef FLOWSTATE_QUERIES_H
#define FLOWSTATE_QUERIES_H

#include "gateway/db/pgpool.h"

enum query_id {
    Q_PING,
    Q_AUTH_LOOKUP,
    Q_AUTH_CHANGES,
    Q_JOBS_INSERT,
    Q_JOBS_INSERT_PLAIN,
    Q_JOBS_INSERT_BATCH,
    Q_JOB_GET,
    Q_JOBS_LIST,
    Q_JOBS_PENDING,
    Q_JOB_SET_STATUS,
    Q_JOBS_COMPLETE,
    Q_JOBS_FAIL,
    Q_JOB_CANCEL,
    Q_JOB_RETRY,
    Q_JOBS_GET_MANY,
    Q_SWEEP,
    Q_AGENT_REGISTER,
    Q_AGENTS_LIST,
    Q_AGENT_GET,
    Q_AGENT_UPDATE,
    Q_DOCUMENT_INSERT,
    Q_DOCUMENT_GET,
    Q_DOCUMENTS_SEARCH,
    Q_DOCUMENTS_LIST,
    Q_DOCUMENTS_SEMANTIC,
    Q_DOCUMENTS_HYBRID,
    Q_DOCUMENT_SIMILAR,
    Q_DOCUMENTS_EMBEDDINGS,
    Q_DOCUMENTS_FILTER_IDS,
    Q_DOCUMENTS_SEMANTIC_IDS,
    Q_DOCUMENTS_HYBRID_IDS,
    Q_DOCUMENT_SIMILAR_IDS,
    Q_VECTORS_PAGE,
    Q_VECTORS_FETCH,
    Q_PGVECTOR_PROBE,
    Q_KEY_INSERT,
    Q_KEYS_LIST,
    Q_KEY_REVOKE,
    Q_MESSAGE_SEND,
    Q_MESSAGE_GET,
    Q_MESSAGES_LIST,
    Q_SHARED_GET,
    Q_SHARED_PUT,
    Q_SHARED_DELETE,
    Q_SHARED_LIST,
    Q_WORKER_AGENTS,
    Q_WORKER_AGENT_STATUS,
    Q_SYSTEM_HEALTH,
    Q_JOB_STATS,
    Q_EVENT_INSERT,
    Q_EVENTS_READ,
    Q_EVENTS_TAIL,
    Q_EVENT_POSITION,
    Q_EVENTS_LIST,
    Q_WF_TEMPLATE_CREATE,
    Q_WF_TEMPLATE_PUT,
    Q_WF_TEMPLATE_GET,
    Q_WF_TEMPLATE_DELETE,
    Q_WF_TEMPLATES_LIST,
    Q_WF_RUN_START,
    Q_WF_RUN_START_TEMPLATE,
    Q_WF_RUN_GET,
    Q_WF_RUNS_LIST,
    Q_WF_RUN_CONTROL,
    Q_WF_RUN_SIGNAL,
    Q_WF_TICK,
    Q_WF_SEED_START,
    Q_WF_SEED_GET,
    Q_WF_SEED_CONTROL,
    Q_WF_MESSAGE_SEND,
    Q_WF_MESSAGES_LIST,
    Q__COUNT
};

extern const struct pgpool_stmt queries[Q__COUNT];

/* Run on every new connection before the statements are prepared. */
#define QUERIES_SESSION_SQL                                                                        \
    "SET TimeZone = 'UTC'; SET application_name = 'flowstate-gateway';"                            \
    " SET hnsw.ef_search = 200; SET hnsw.iterative_scan = strict_order"
/* (The hnsw.* settings are for the pgvector path, pgvector.c: a hybrid search asks HNSW for
 * 100 neighbours, more than the default ef_search of 40 returns; iterative scans (pgvector
 * 0.8+) keep looking when filters remove neighbours. Without pgvector they are inert
 * placeholders; an older pgvector drops the unknown one with a warning.) */
/* The LISTEN connection's session set-up: it runs no other statement than the LISTENs and
 * UNLISTENs of channels.c. */
#define QUERIES_LISTEN_SQL "SET application_name = 'flowstate-gateway-listen'"

#endif
