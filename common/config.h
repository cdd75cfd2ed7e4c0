/* config — every setting of every Flowstate program in one table (name, env var, type,
 * default, bounds, help). The same table drives environment and flag parsing, --help,
 * --show-config and docs, so they cannot drift. Unknown or invalid settings stop start-up
 * with the setting's name. */
#ifndef FLOWSTATE_CONFIG_H
#define FLOWSTATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Which programs read a setting. A program rejects flags outside its scope but accepts
 * environment variables of other scopes silently (one environment serves them all). */
enum config_scope { CONFIG_GATEWAY = 1u << 0, CONFIG_WORKER = 1u << 1, CONFIG_POOL = 1u << 2 };

enum config_id {
    CFG_HOST,
    CFG_PORT,
    CFG_DATABASE_URL,
    CFG_DB_POOL_SIZE,
    CFG_DB_QUEUE_MAX,
    CFG_DB_WAIT,
    CFG_STATEMENT_TIMEOUT,
    CFG_MIGRATE_ON_START,
    CFG_AUTH,
    CFG_KEY_CACHE_TTL,
    CFG_KEY_CACHE_MAX,
    CFG_KEY_CACHE_UNKNOWN_MAX,
    CFG_BODY_LIMIT,
    CFG_RESPONSE_BUDGET,
    CFG_HTTP_TIMEOUT,
    CFG_BATCH_MAX,
    CFG_BATCH_INFLIGHT,
    CFG_SHUTDOWN_TIMEOUT,
    CFG_LOG_LEVEL,
    CFG_BACKEND_API_URL,
    CFG_API_KEY,
    CFG_RETRY_BASE_MS,
    CFG_RETRY_MAX_MS,
    CFG_SWEEP_INTERVAL_MS,
    CFG_RETENTION,
    CFG_WAIT_MAX,
    CFG_WAITERS_MAX,
    CFG_WAITERS_PER_KEY,
    CFG_EVENT_RETENTION,
    CFG_EVENT_HEARTBEAT,
    CFG_EVENT_POLL_MS,
    CFG_EVENT_BUFFER_MAX,
    CFG_EVENT_SUBSCRIBERS_MAX,
    CFG_EVENT_SUBSCRIBERS_PER_KEY,
    CFG_MAX_CONNECTIONS,
    CFG_HEAD_TIMEOUT,
    CFG_BODY_MIN_RATE,
    CFG_EMBED_PROVIDER,
    CFG_EMBED_URL,
    CFG_EMBED_MODEL,
    CFG_EMBED_API_KEY,
    CFG_EMBED_DIMS,
    CFG_EMBED_TIMEOUT_MS,
    CFG_HYBRID_KEYWORD_WEIGHT,
    CFG_HYBRID_SEMANTIC_WEIGHT,
    CFG_CLUSTER_MAX_DOCS,
    CFG_VECTOR_CACHE,
    CFG_VECTOR_CACHE_MAX,
    CFG_WORK_THREADS,
    CFG_WORK_QUEUE_MAX,
    CFG_WORK_SCAN_MIN,
    CFG_CONCURRENCY,
    CFG_CLAIM_BATCH,
    CFG_PREFETCH,
    CFG_POLL_INTERVAL_MS,
    CFG_LEASE,
    CFG_HEARTBEAT,
    CFG_REPORT_BATCH,
    CFG_REPORT_DELAY_MS,
    CFG_ALERT_WEBHOOKS,
    CFG_LLM_PROVIDER,
    CFG_LLM_URL,
    CFG_LLM_MODEL,
    CFG_LLM_API_KEY,
    CFG_LLM_TIMEOUT_MS,
    CFG_AGENTS,
    CFG_AGENTS_FILE,
    CFG_AGENT_DIR,
    CFG_STOP_TIMEOUT,
    CFG_RESPAWN_MAX_MS,
    CFG__COUNT
};

struct config;

/* What config_int returns for an integer setting left at "auto": a setting whose default is
 * "auto" accepts that word besides its numbers, and the program sizes the value itself. */
#define CONFIG_AUTO (-1)

/* Builds a config holding every default. NULL on allocation failure. */
struct config *config_new(unsigned scope);
void config_free(struct config *cfg);

/* Reads the environment: each setting's variable, and rejects FLOWSTATE_* variables that
 * are not in the table. Returns 0, or -1 with a message naming the setting in err. */
int config_load_env(struct config *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Sets a setting from a command-line flag name without its dashes ("port", "db-pool-size").
 * Returns 0, -1 (bad value; message in err), or -2 (no such setting for this program). */
int config_set_flag(struct config *cfg, const char *name, const char *value, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/* True when the flag names a boolean setting (so "--auth" alone may mean on). */
bool config_flag_is_bool(const struct config *cfg, const char *name);

long config_int(const struct config *cfg, enum config_id id);
bool config_bool(const struct config *cfg, enum config_id id);
/* The string value; never NULL (empty when unset). Owned by cfg. */
const char *config_str(const struct config *cfg, enum config_id id);

/* Prints one block per setting of this program's scope: flag, env var, default, bounds, help. */
void config_print_help(const struct config *cfg, FILE *out);
/* Puts every setting of scope into the environment (setenv) with this config's values, so
 * a supervisor's flags reach the programs it execs. Returns 0 or -1 (errno set). */
int config_export_env(const struct config *cfg, unsigned scope);

/* Prints "NAME=value" per setting with secrets redacted. */
void config_show(const struct config *cfg, FILE *out);
/* Prints the settings table as Markdown (the README's configuration table). */
void config_print_markdown(FILE *out);

#endif
