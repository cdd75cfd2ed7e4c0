/* config — the settings table and everything driven by it: environment and flag parsing,
 * validation with the setting's name in every error, --help, --show-config, Markdown. */
#include "common/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/embed.h"
#include "common/log.h"

extern char **environ;

enum config_type { TYPE_INT, TYPE_BOOL, TYPE_STRING, TYPE_CHOICE };
enum config_secret { NOT_SECRET, SECRET_URL, SECRET_ALL };

struct config_def {
    const char *flag; /* --flag */
    const char *env;  /* environment variable */
    enum config_type type;
    const char *def;     /* default, as text */
    long min, max;       /* TYPE_INT bounds */
    const char *choices; /* TYPE_CHOICE: "a|b|c" */
    unsigned scope;
    enum config_secret secret;
    const char *help;
};

#define GW CONFIG_GATEWAY
#define WK CONFIG_WORKER
#define PL CONFIG_POOL

/* clang-format off */
static const struct config_def defs[CFG__COUNT] = {
    [CFG_HOST] = {"host", "FLOWSTATE_HOST", TYPE_STRING, "127.0.0.1", 0, 0, NULL, GW, NOT_SECRET,
                  "Address the gateway listens on (0.0.0.0 for all interfaces)."},
    [CFG_PORT] = {"port", "PORT", TYPE_INT, "3001", 1, 65535, NULL, GW, NOT_SECRET,
                  "TCP port the gateway listens on."},
    [CFG_DATABASE_URL] = {"database-url", "DATABASE_URL", TYPE_STRING, "", 0, 0, NULL, GW | WK | PL,
                          SECRET_URL, "PostgreSQL connection string (URL or key=value). Required by the gateway and workers."},
    [CFG_DB_POOL_SIZE] = {"db-pool-size", "FLOWSTATE_DB_POOL_SIZE", TYPE_INT, "4", 1, 64, NULL, GW,
                          NOT_SECRET, "Database connections in the gateway's pool."},
    [CFG_DB_QUEUE_MAX] = {"db-queue-max", "FLOWSTATE_DB_QUEUE_MAX", TYPE_INT, "10000", 1, 1000000,
                          NULL, GW, NOT_SECRET,
                          "Queries that may wait for a free connection before new ones get 503."},
    [CFG_DB_WAIT] = {"db-wait", "FLOWSTATE_DB_WAIT", TYPE_INT, "30", 0, 3600, NULL, GW | WK,
                     NOT_SECRET, "Seconds start-up waits for the database to accept connections."},
    [CFG_STATEMENT_TIMEOUT] = {"statement-timeout", "FLOWSTATE_STATEMENT_TIMEOUT", TYPE_INT,
                               "30000", 0, 3600000, NULL, GW, NOT_SECRET,
                               "Milliseconds a gateway query may run before PostgreSQL cancels it (0: no limit)."},
    [CFG_MIGRATE_ON_START] = {"migrate-on-start", "FLOWSTATE_MIGRATE_ON_START", TYPE_BOOL, "on", 0,
                              0, NULL, GW, NOT_SECRET,
                              "Apply pending migrations when the gateway starts."},
    [CFG_AUTH] = {"auth", "FLOWSTATE_AUTH", TYPE_BOOL, "on", 0, 0, NULL, GW, NOT_SECRET,
                  "Require an API key (Authorization: Bearer). Only 'off' when explicitly set."},
    [CFG_KEY_CACHE_TTL] = {"key-cache-ttl", "FLOWSTATE_KEY_CACHE_TTL", TYPE_INT, "30", 0, 3600,
                           NULL, GW, NOT_SECRET,
                           "Seconds a verified API key is cached. A revocation reaches every gateway within about a second (each polls api_key_changes); this bounds it only while a gateway cannot poll."},
    [CFG_KEY_CACHE_MAX] = {"key-cache-max", "FLOWSTATE_KEY_CACHE_MAX", TYPE_INT, "1000", 1, 1000000,
                           NULL, GW, NOT_SECRET,
                           "Valid API keys the key cache holds (a random one makes room past this)."},
    [CFG_KEY_CACHE_UNKNOWN_MAX] = {"key-cache-unknown-max", "FLOWSTATE_KEY_CACHE_UNKNOWN_MAX", TYPE_INT,
                                   "10000", 1, 1000000, NULL, GW, NOT_SECRET,
                                   "Unknown or revoked keys remembered for 5 s, apart from valid ones (a flood of them evicts only its own kind)."},
    [CFG_BODY_LIMIT] = {"body-limit", "FLOWSTATE_BODY_LIMIT", TYPE_INT, "1048576", 256, 67108864,
                        NULL, GW, NOT_SECRET, "Largest request body in bytes (413 above)."},
    [CFG_RESPONSE_BUDGET] = {"response-budget", "FLOWSTATE_RESPONSE_BUDGET", TYPE_INT, "4194304",
                             65536, 1073741824, NULL, GW, NOT_SECRET,
                             "Most bytes of rows in one list page: a page of large rows ends early, with nextCursor (one row larger than this is still sent, alone)."},
    [CFG_HTTP_TIMEOUT] = {"http-timeout", "FLOWSTATE_HTTP_TIMEOUT", TYPE_INT, "60", 1, 3600, NULL,
                          GW, NOT_SECRET, "Seconds an idle or slow client connection is kept."},
    [CFG_BATCH_MAX] = {"batch-max", "FLOWSTATE_BATCH_MAX", TYPE_INT, "1000", 1, 10000, NULL, GW,
                       NOT_SECRET, "Most job inserts written together by one group commit."},
    [CFG_BATCH_INFLIGHT] = {"batch-inflight", "FLOWSTATE_BATCH_INFLIGHT", TYPE_INT, "1", 1, 16,
                            NULL, GW, NOT_SECRET,
                            "Group commits of each kind in flight at once; 1 is fastest, as each commit that NOTIFYs holds a database-wide lock until its WAL is flushed."},
    [CFG_SHUTDOWN_TIMEOUT] = {"shutdown-timeout", "FLOWSTATE_SHUTDOWN_TIMEOUT", TYPE_INT, "30", 1,
                              3600, NULL, GW | WK, NOT_SECRET,
                              "Seconds a graceful shutdown waits for in-flight work (workers then hand jobs back)."},
    [CFG_LOG_LEVEL] = {"log-level", "FLOWSTATE_LOG_LEVEL", TYPE_CHOICE, "info", 0, 0,
                       "debug|info|warn|error", GW | WK | PL, NOT_SECRET, "Lowest level logged."},
    [CFG_BACKEND_API_URL] = {"backend-api-url", "BACKEND_API_URL", TYPE_STRING,
                             "http://127.0.0.1:3001", 0, 0, NULL, WK, NOT_SECRET,
                             "Gateway URL workers report to."},
    [CFG_API_KEY] = {"api-key", "FLOWSTATE_API_KEY", TYPE_STRING, "", 0, 0, NULL, WK, SECRET_ALL,
                     "API key (role agent) workers send to the gateway."},
    [CFG_RETRY_BASE_MS] = {"retry-base-ms", "FLOWSTATE_RETRY_BASE_MS", TYPE_INT, "1000", 1,
                           3600000, NULL, GW, NOT_SECRET,
                           "Backoff before the first retry of a failed job; doubles per attempt, with jitter."},
    [CFG_RETRY_MAX_MS] = {"retry-max-ms", "FLOWSTATE_RETRY_MAX_MS", TYPE_INT, "300000", 1,
                          86400000, NULL, GW, NOT_SECRET, "Longest backoff between retries."},
    [CFG_SWEEP_INTERVAL_MS] = {"sweep-interval-ms", "FLOWSTATE_SWEEP_INTERVAL_MS", TYPE_INT, "1000",
                               0, 600000, NULL, GW, NOT_SECRET,
                               "How often the sweeper requeues expired leases, prunes, wakes due retries and fires workflow timers (sleeps, wait and run timeouts; 0: never)."},
    [CFG_RETENTION] = {"retention", "FLOWSTATE_RETENTION", TYPE_INT, "604800", 0, 315360000, NULL,
                       GW, NOT_SECRET,
                       "Seconds finished jobs, events and workflow runs are kept before the sweeper deletes them (0: forever)."},
    [CFG_WAIT_MAX] = {"wait-max", "FLOWSTATE_WAIT_MAX", TYPE_INT, "300", 1, 3600, NULL, GW,
                      NOT_SECRET, "Longest GET /api/jobs/:id?wait=N long-poll, in seconds."},
    [CFG_WAITERS_MAX] = {"waiters-max", "FLOWSTATE_WAITERS_MAX", TYPE_INT, "10000", 1, 1000000, NULL,
                         GW, NOT_SECRET,
                         "Most long-poll waiters (?wait=N) held at once; more get 503 at once."},
    [CFG_WAITERS_PER_KEY] = {"waiters-per-key", "FLOWSTATE_WAITERS_PER_KEY", TYPE_INT, "1000", 1,
                             1000000, NULL, GW, NOT_SECRET,
                             "Most long-poll waiters one API key (with auth off: one client address) holds at once; more get 429 at once."},
    [CFG_EVENT_RETENTION] = {"event-retention", "FLOWSTATE_EVENT_RETENTION", TYPE_INT, "600", 1,
                             315360000, NULL, GW, NOT_SECRET,
                             "Seconds an event stream client may stay away and still resume from its Last-Event-ID without missing anything (older ids get a reset event); at most retention unless retention is 0."},
    [CFG_EVENT_HEARTBEAT] = {"event-heartbeat", "FLOWSTATE_EVENT_HEARTBEAT", TYPE_INT, "15", 1, 3600,
                             NULL, GW, NOT_SECRET,
                             "Seconds between the comment lines (: keep-alive) an event stream sends so that proxies keep an idle stream open."},
    [CFG_EVENT_POLL_MS] = {"event-poll-ms", "FLOWSTATE_EVENT_POLL_MS", TYPE_INT, "1000", 10, 600000,
                           NULL, GW, NOT_SECRET,
                           "While event streams are open, how often the gateway reads new events without a notification (a fallback: NOTIFY wakes it at once)."},
    [CFG_EVENT_BUFFER_MAX] = {"event-buffer-max", "FLOWSTATE_EVENT_BUFFER_MAX", TYPE_INT, "1048576",
                              1024, 1073741824, NULL, GW, NOT_SECRET,
                              "Bytes of unsent output an event stream client may leave behind; beyond it the gateway sends an overflow event and closes the stream (the client resumes with Last-Event-ID)."},
    [CFG_EVENT_SUBSCRIBERS_MAX] = {"event-subscribers-max", "FLOWSTATE_EVENT_SUBSCRIBERS_MAX", TYPE_INT,
                                   "10000", 1, 1000000, NULL, GW, NOT_SECRET,
                                   "Most event streams open at once on a gateway; more get 503 at once."},
    [CFG_EVENT_SUBSCRIBERS_PER_KEY] = {"event-subscribers-per-key",
                                       "FLOWSTATE_EVENT_SUBSCRIBERS_PER_KEY", TYPE_INT, "1000", 1,
                                       1000000, NULL, GW, NOT_SECRET,
                                       "Most event streams one API key (with auth off: one client address) holds at once; more get 429 at once."},
    [CFG_MAX_CONNECTIONS] = {"max-connections", "FLOWSTATE_MAX_CONNECTIONS", TYPE_INT, "0", 0,
                             10000000, NULL, GW, NOT_SECRET,
                             "Most client connections open at once; further ones wait in the listen queue (0: the open-files limit, raised to its hard limit at start, minus db-pool-size and 64 kept for the database, logs and listeners)."},
    [CFG_HEAD_TIMEOUT] = {"head-timeout", "FLOWSTATE_HEAD_TIMEOUT", TYPE_INT, "10", 1, 3600, NULL, GW,
                          NOT_SECRET,
                          "Seconds a client has to send a request's whole head (request line and headers) from its first byte, however it trickles in; also the grace before body-min-rate applies."},
    [CFG_BODY_MIN_RATE] = {"body-min-rate", "FLOWSTATE_BODY_MIN_RATE", TYPE_INT, "1024", 0, 1073741824,
                           NULL, GW, NOT_SECRET,
                           "Bytes per second a request body must average from the end of its head, once head-timeout has passed (slower: the connection is closed; 0: no minimum)."},
    [CFG_EMBED_PROVIDER] = {"embed-provider", "FLOWSTATE_EMBED_PROVIDER", TYPE_CHOICE, "local", 0,
                            0, "local|hash|openai|ollama", GW, NOT_SECRET,
                            "Embedding provider for memory search (local: built-in, offline, relates words by meaning through WordNet, model local-wordnet-v1-512; hash: built-in, offline, hashes words, model local-hash-v1-256; openai: an OpenAI-compatible /v1/embeddings; ollama: Ollama's /api/embed)."},
    [CFG_EMBED_URL] = {"embed-url", "FLOWSTATE_EMBED_URL", TYPE_STRING, "", 0, 0, NULL, GW, SECRET_URL,
                       "Base URL of a remote embedding provider (empty: https://api.openai.com for openai, http://127.0.0.1:11434 for ollama)."},
    [CFG_EMBED_MODEL] = {"embed-model", "FLOWSTATE_EMBED_MODEL", TYPE_STRING, "", 0, 0, NULL, GW,
                         NOT_SECRET,
                         "Model a remote embedding provider runs (required for openai and ollama; stored as provider:model)."},
    [CFG_EMBED_API_KEY] = {"embed-api-key", "FLOWSTATE_EMBED_API_KEY", TYPE_STRING, "", 0, 0, NULL,
                           GW, SECRET_ALL, "Bearer key sent to a remote embedding provider (empty: none)."},
    [CFG_EMBED_DIMS] = {"embed-dims", "FLOWSTATE_EMBED_DIMS", TYPE_INT, "0", 0, EMBED_DIMS_MAX, NULL, GW,
                        NOT_SECRET,
                        "Dimension of a remote model's vectors (required for openai and ollama; answers of another size fail)."},
    [CFG_EMBED_TIMEOUT_MS] = {"embed-timeout-ms", "FLOWSTATE_EMBED_TIMEOUT_MS", TYPE_INT, "10000",
                              100, 600000, NULL, GW, NOT_SECRET,
                              "Milliseconds one remote embedding may take, retries on 429/5xx included."},
    [CFG_HYBRID_KEYWORD_WEIGHT] = {"hybrid-keyword-weight", "FLOWSTATE_HYBRID_KEYWORD_WEIGHT",
                                   TYPE_INT, "1", 0, 100, NULL, GW, NOT_SECRET,
                                   "Default weight of the keyword rank in hybrid search (wKeyword)."},
    [CFG_HYBRID_SEMANTIC_WEIGHT] = {"hybrid-semantic-weight", "FLOWSTATE_HYBRID_SEMANTIC_WEIGHT",
                                    TYPE_INT, "1", 0, 100, NULL, GW, NOT_SECRET,
                                    "Default weight of the semantic rank in hybrid search (wSemantic)."},
    [CFG_CLUSTER_MAX_DOCS] = {"cluster-max-docs", "FLOWSTATE_CLUSTER_MAX_DOCS", TYPE_INT, "2000", 10,
                              20000, NULL, GW, NOT_SECRET,
                              "Most memories POST /api/documents/cluster accepts (more: 400)."},
    [CFG_VECTOR_CACHE] = {"vector-cache", "FLOWSTATE_VECTOR_CACHE", TYPE_BOOL, "on", 0, 0, NULL, GW,
                          NOT_SECRET,
                          "Cache embeddings in the gateway for semantic search (off: exact scan in SQL)."},
    [CFG_VECTOR_CACHE_MAX] = {"vector-cache-max", "FLOWSTATE_VECTOR_CACHE_MAX", TYPE_INT, "1000000",
                              0, 10000000, NULL, GW, NOT_SECRET,
                              "Most embeddings the vector cache holds (532 bytes each at the default 512 dims; more: cache off)."},
    [CFG_WORK_THREADS] = {"work-threads", "FLOWSTATE_WORK_THREADS", TYPE_INT, "0", 0, 256, NULL, GW,
                          NOT_SECRET,
                          "Threads running CPU-heavy requests (clustering, large vector-cache scans) off the event loop (0: one per CPU)."},
    [CFG_WORK_QUEUE_MAX] = {"work-queue-max", "FLOWSTATE_WORK_QUEUE_MAX", TYPE_INT, "16", 0, 10000,
                            NULL, GW, NOT_SECRET,
                            "CPU-heavy requests that may wait for a work thread while all are busy (more: 503)."},
    [CFG_WORK_SCAN_MIN] = {"work-scan-min", "FLOWSTATE_WORK_SCAN_MIN", TYPE_INT, "20000", 0,
                           100000000, NULL, GW, NOT_SECRET,
                           "Vectors a vector-cache scan must cover to run on a work thread (smaller scans run inline; 0: every scan)."},
    [CFG_CONCURRENCY] = {"concurrency", "FLOWSTATE_CONCURRENCY", TYPE_INT, "16", 1, 1024, NULL, WK,
                         NOT_SECRET, "Jobs one worker process runs at once (its executor threads)."},
    [CFG_CLAIM_BATCH] = {"claim-batch", "FLOWSTATE_CLAIM_BATCH", TYPE_INT, "auto", 1, 1000, NULL,
                         WK, NOT_SECRET,
                         "Most jobs one claim statement takes. auto: half the prefetch, at least the concurrency, at most 500; a number pins it."},
    [CFG_PREFETCH] = {"prefetch", "FLOWSTATE_PREFETCH", TYPE_INT, "auto", 0, 10000, NULL, WK, NOT_SECRET,
                      "Claimed jobs a worker keeps queued beyond its running ones. auto: sized from observed throughput, run times and claim round trips (none for jobs of 100 ms or more, up to 1000 for a backlog of short ones; docs/workers.md); a number pins it (0: claim only for idle executors)."},
    [CFG_POLL_INTERVAL_MS] = {"poll-interval-ms", "FLOWSTATE_POLL_INTERVAL_MS", TYPE_INT, "1000",
                              10, 600000, NULL, WK, NOT_SECRET,
                              "Idle workers look for jobs this often even without a NOTIFY."},
    [CFG_LEASE] = {"lease", "FLOWSTATE_LEASE", TYPE_INT, "30", 2, 86400, NULL, WK, NOT_SECRET,
                   "Seconds a claim holds a job (a job's timeoutSeconds wins); renewed while it runs."},
    [CFG_HEARTBEAT] = {"heartbeat", "FLOWSTATE_HEARTBEAT", TYPE_INT, "10", 1, 3600, NULL, WK,
                       NOT_SECRET, "Seconds between a worker's heartbeats to the gateway."},
    [CFG_REPORT_BATCH] = {"report-batch", "FLOWSTATE_REPORT_BATCH", TYPE_INT, "500", 1, 10000,
                          NULL, WK, NOT_SECRET, "Most outcomes sent to the gateway in one request."},
    [CFG_REPORT_DELAY_MS] = {"report-delay-ms", "FLOWSTATE_REPORT_DELAY_MS", TYPE_INT, "2", 0, 1000,
                             NULL, WK, NOT_SECRET,
                             "While other jobs are still running, milliseconds an outcome may wait to share a report with theirs."},
    [CFG_ALERT_WEBHOOKS] = {"alert-webhooks", "FLOWSTATE_ALERT_WEBHOOKS", TYPE_STRING, "", 0, 0, NULL,
                            WK, SECRET_ALL,
                            "Comma-separated webhook URLs the monitoring agent's send_alert POSTs each alert to."},
    [CFG_LLM_PROVIDER] = {"llm-provider", "FLOWSTATE_LLM_PROVIDER", TYPE_CHOICE, "off", 0, 0,
                          "off|openai|ollama", WK, NOT_SECRET,
                          "LLM agents may consult (openai: an OpenAI-compatible /v1/chat/completions; ollama: /api/chat; off: none)."},
    [CFG_LLM_URL] = {"llm-url", "FLOWSTATE_LLM_URL", TYPE_STRING, "", 0, 0, NULL, WK, SECRET_URL,
                     "Base URL of the LLM provider (empty: https://api.openai.com for openai, http://127.0.0.1:11434 for ollama)."},
    [CFG_LLM_MODEL] = {"llm-model", "FLOWSTATE_LLM_MODEL", TYPE_STRING, "", 0, 0, NULL, WK,
                       NOT_SECRET, "Model the LLM provider runs (required unless llm-provider is off)."},
    [CFG_LLM_API_KEY] = {"llm-api-key", "FLOWSTATE_LLM_API_KEY", TYPE_STRING, "", 0, 0, NULL, WK,
                         SECRET_ALL, "Bearer key sent to the LLM provider (empty: none)."},
    [CFG_LLM_TIMEOUT_MS] = {"llm-timeout-ms", "FLOWSTATE_LLM_TIMEOUT_MS", TYPE_INT, "30000", 100,
                            600000, NULL, WK, NOT_SECRET, "Milliseconds one LLM call may take."},
    [CFG_AGENTS] = {"agents", "FLOWSTATE_AGENTS", TYPE_STRING,
                    "code_analyzer=1,data_processor=1,coordinator=1,learning=1,monitoring=1", 0, 0,
                    NULL, PL, NOT_SECRET, "Agent executables to run and how many processes of each."},
    [CFG_AGENTS_FILE] = {"agents-file", "FLOWSTATE_AGENTS_FILE", TYPE_STRING, "", 0, 0, NULL, PL,
                         NOT_SECRET,
                         "File holding the --agents list; when set it wins, and SIGHUP re-reads it."},
    [CFG_AGENT_DIR] = {"agent-dir", "FLOWSTATE_AGENT_DIR", TYPE_STRING, "", 0, 0, NULL, PL,
                       NOT_SECRET, "Directory of the agent executables; empty means the directory flowstate-pool is in."},
    [CFG_STOP_TIMEOUT] = {"stop-timeout", "FLOWSTATE_STOP_TIMEOUT", TYPE_INT, "45", 1, 3600, NULL,
                          PL, NOT_SECRET,
                          "Seconds the pool waits for stopping workers before SIGKILL."},
    [CFG_RESPAWN_MAX_MS] = {"respawn-max-ms", "FLOWSTATE_RESPAWN_MAX_MS", TYPE_INT, "30000", 100,
                            3600000, NULL, PL, NOT_SECRET,
                            "Longest wait before restarting a worker that keeps failing."},
};
/* clang-format on */

struct config {
    unsigned scope;
    char *str[CFG__COUNT];
    long num[CFG__COUNT];
};

static int parse_value(struct config *cfg, enum config_id id, const char *value, const char *source,
                       char *err, size_t errlen)
{
    const struct config_def *d = &defs[id];
    switch (d->type) {
    case TYPE_INT: {
        if (strcmp(d->def, "auto") == 0 && strcmp(value, "auto") == 0) {
            cfg->num[id] = CONFIG_AUTO;
            break;
        }
        char *end = NULL;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || v < d->min || v > d->max) {
            snprintf(err, errlen, "invalid %s=%s: must be %san integer from %ld to %ld", source,
                     value, strcmp(d->def, "auto") == 0 ? "auto or " : "", d->min, d->max);
            return -1;
        }
        cfg->num[id] = v;
        break;
    }
    case TYPE_BOOL:
        if (!strcasecmp(value, "on") || !strcasecmp(value, "true") || !strcmp(value, "1") ||
            !strcasecmp(value, "yes")) {
            cfg->num[id] = 1;
        } else if (!strcasecmp(value, "off") || !strcasecmp(value, "false") ||
                   !strcmp(value, "0") || !strcasecmp(value, "no")) {
            cfg->num[id] = 0;
        } else {
            snprintf(err, errlen, "invalid %s=%s: must be on or off", source, value);
            return -1;
        }
        break;
    case TYPE_CHOICE: {
        size_t n = strlen(value);
        const char *c = d->choices;
        bool ok = false;
        while (*c && !ok) {
            size_t len = strcspn(c, "|");
            ok = len == n && n > 0 && strncmp(c, value, n) == 0;
            c += len + (c[len] == '|');
        }
        if (!ok) {
            snprintf(err, errlen, "invalid %s=%s: must be one of %s", source, value, d->choices);
            return -1;
        }
        break;
    }
    case TYPE_STRING: break;
    }
    char *copy = strdup(value);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(cfg->str[id]);
    cfg->str[id] = copy;
    return 0;
}

struct config *config_new(unsigned scope)
{
    struct config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return NULL;
    cfg->scope = scope;
    char err[256];
    for (int i = 0; i < CFG__COUNT; i++) {
        if (parse_value(cfg, (enum config_id)i, defs[i].def, defs[i].env, err, sizeof(err)) < 0) {
            config_free(cfg);
            return NULL;
        }
    }
    return cfg;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < CFG__COUNT; i++)
        free(cfg->str[i]);
    free(cfg);
}

static int find_env(const char *name, size_t len)
{
    for (int i = 0; i < CFG__COUNT; i++)
        if (strlen(defs[i].env) == len && strncmp(defs[i].env, name, len) == 0)
            return i;
    return -1;
}

int config_load_env(struct config *cfg, char *err, size_t errlen)
{
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, "FLOWSTATE_", 10) != 0)
            continue;
        if (find_env(*e, (size_t)(eq - *e)) < 0) {
            snprintf(err, errlen, "unknown setting %.*s in the environment (see --help)",
                     (int)(eq - *e), *e);
            return -1;
        }
    }
    for (int i = 0; i < CFG__COUNT; i++) {
        const char *v = getenv(defs[i].env);
        if (!v || !(defs[i].scope & cfg->scope))
            continue;
        if (parse_value(cfg, (enum config_id)i, v, defs[i].env, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int find_flag(const struct config *cfg, const char *name)
{
    for (int i = 0; i < CFG__COUNT; i++)
        if ((defs[i].scope & cfg->scope) && strcmp(defs[i].flag, name) == 0)
            return i;
    return -1;
}

int config_set_flag(struct config *cfg, const char *name, const char *value, char *err,
                    size_t errlen)
{
    int i = find_flag(cfg, name);
    if (i < 0) {
        snprintf(err, errlen, "unknown option --%s (see --help)", name);
        return -2;
    }
    char source[80];
    snprintf(source, sizeof(source), "--%s", name);
    return parse_value(cfg, (enum config_id)i, value, source, err, errlen);
}

bool config_flag_is_bool(const struct config *cfg, const char *name)
{
    int i = find_flag(cfg, name);
    return i >= 0 && defs[i].type == TYPE_BOOL;
}

long config_int(const struct config *cfg, enum config_id id) { return cfg->num[id]; }

bool config_bool(const struct config *cfg, enum config_id id) { return cfg->num[id] != 0; }

const char *config_str(const struct config *cfg, enum config_id id)
{
    return cfg->str[id] ? cfg->str[id] : "";
}

static void describe_bounds(const struct config_def *d, char *buf, size_t len)
{
    switch (d->type) {
    case TYPE_INT:
        snprintf(buf, len, "%s%ld..%ld", strcmp(d->def, "auto") == 0 ? "auto|" : "", d->min,
                 d->max);
        break;
    case TYPE_BOOL: snprintf(buf, len, "on|off"); break;
    case TYPE_CHOICE: snprintf(buf, len, "%s", d->choices); break;
    case TYPE_STRING: snprintf(buf, len, "text"); break;
    }
}

void config_print_help(const struct config *cfg, FILE *out)
{
    fprintf(out, "Settings (flag, environment variable; flags win over the environment):\n");
    for (int i = 0; i < CFG__COUNT; i++) {
        const struct config_def *d = &defs[i];
        if (!(d->scope & cfg->scope))
            continue;
        char bounds[64];
        describe_bounds(d, bounds, sizeof(bounds));
        fprintf(out, "  --%-20s %-28s %s\n  %-22s %s (default: %s)\n", d->flag, d->env, bounds, "",
                d->help, d->def[0] ? d->def : "none");
    }
}

int config_export_env(const struct config *cfg, unsigned scope)
{
    for (int i = 0; i < CFG__COUNT; i++)
        if ((defs[i].scope & scope) &&
            setenv(defs[i].env, config_str(cfg, (enum config_id)i), 1) < 0)
            return -1;
    return 0;
}

void config_show(const struct config *cfg, FILE *out)
{
    char buf[1024];
    for (int i = 0; i < CFG__COUNT; i++) {
        const struct config_def *d = &defs[i];
        if (!(d->scope & cfg->scope))
            continue;
        const char *v = config_str(cfg, (enum config_id)i);
        if (d->secret == SECRET_URL)
            v = log_redact_url(v, buf, sizeof(buf));
        else if (d->secret == SECRET_ALL && v[0])
            v = "***";
        fprintf(out, "%s=%s\n", d->env, v);
    }
}

void config_print_markdown(FILE *out)
{
    fprintf(out, "| variable | flag | default | range | programs | meaning |\n"
                 "|---|---|---|---|---|---|\n");
    for (int i = 0; i < CFG__COUNT; i++) {
        const struct config_def *d = &defs[i];
        char bounds[64];
        describe_bounds(d, bounds, sizeof(bounds));
        for (char *p = bounds; *p; p++)
            if (*p == '|')
                *p = '/'; /* a bare | would split the Markdown cell */
        char programs[64];
        snprintf(programs, sizeof(programs), "%s%s%s%s%s", d->scope & GW ? "gateway" : "",
                 (d->scope & GW) && (d->scope & (WK | PL)) ? ", " : "",
                 d->scope & WK ? "workers" : "", (d->scope & WK) && (d->scope & PL) ? ", " : "",
                 d->scope & PL ? "pool" : "");
        fprintf(out, "| `%s` | `--%s` | %s%s%s | %s | %s | %s |\n", d->env, d->flag,
                d->def[0] ? "`" : "", d->def[0] ? d->def : "—", d->def[0] ? "`" : "", bounds,
                programs, d->help);
    }
}
