/* agent — what one agent executable declares (its name, capabilities and task handlers)
 * and what a task handler may use while it runs. Each file under worker/agents/ defines an
 * agent_def and a main() that calls runtime_main; the shared runtime does everything else:
 * registration, claims, leases, reporting, shutdown. */
#ifndef FLOWSTATE_AGENT_H
#define FLOWSTATE_AGENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/http_client.h"

struct runtime;

/* What a running task knows about its job. */
struct task_ctx {
    const char *agent;  /* agent name */
    const char *worker; /* "host:pid" of this process */
    long long job_id;
    int attempt;
    const volatile bool *stop; /* set when the job is cancelled, its lease lost, or at shutdown */
    struct runtime *rt;        /* for task_gateway */
};

/* True once the job should stop (cancelled, lease lost, shutdown deadline). Long tasks check
 * it between steps; their outcome is then discarded. */
bool task_should_stop(const struct task_ctx *ctx);
/* Sleeps ms milliseconds, returning early (false) when the job should stop. */
bool task_sleep(const struct task_ctx *ctx, long ms);

/* Calls the gateway as this worker (BACKEND_API_URL, with its key): e.g. to store a memory
 * or create a job for another agent. body is JSON or NULL. Returns the HTTP status, or 0
 * when no answer came (resp->error says why). resp->body stays valid until the calling
 * thread's next task_gateway call. Each executor thread keeps its own keep-alive
 * connection. */
int task_gateway(const struct task_ctx *ctx, const char *method, const char *path, const char *body,
                 struct http_response *resp);

/* The worker's settings (common/config.h: config_int, config_str), for tasks that read
 * their own (FLOWSTATE_ALERT_WEBHOOKS) or the worker's (FLOWSTATE_LEASE). Owned by the
 * runtime; valid while the task runs. */
struct config;
const struct config *task_config(const struct task_ctx *ctx);

/* Asks the configured LLM (llm-provider: an OpenAI-compatible chat completions endpoint or
 * Ollama's /api/chat) for one answer to prompt, with an optional system message (NULL:
 * none). Blocks up to llm-timeout-ms. Returns 0 with the text in out (outlen bytes,
 * NUL-terminated, cut when longer), or -1 with the reason in out: no provider configured,
 * no answer, an HTTP error, an answer without text. Every call made is recorded as an
 * llm.call event (POST /api/events: provider, model, durationMs, outcome). A failure is
 * the task's to report; it must never fail the job. task_llm_enabled says whether a
 * provider is configured (so the task can skip building a prompt). */
int task_llm(const struct task_ctx *ctx, const char *system, const char *prompt, char *out,
             size_t outlen);
bool task_llm_enabled(const struct task_ctx *ctx);

struct task_outcome;
/* task_gateway with a cJSON body (NULL: none) and a parsed answer: returns the answer
 * (caller frees; NULL when the body is not JSON) and sets *status. When no answer came,
 * *status is 0 and out->error says why, with out->retryable set. */
cJSON *task_gateway_json(const struct task_ctx *ctx, const char *method, const char *path,
                         const cJSON *body, int *status, struct task_outcome *out);

/* A task's outcome: on success set result (ownership passes to the runtime); on failure
 * write error and say whether another attempt could succeed. */
struct task_outcome {
    cJSON *result;
    char error[1024];
    bool retryable;
};

/* Helpers for handlers. task_fail fills out->error and out->retryable and returns -1.
 * task_data is payload.data, or an empty object when it is absent (never NULL).
 * task_refused describes a gateway answer other than the one expected (what: e.g. "GET
 * /api/stats/jobs", with the answer's error message when it has one), retryable when
 * http_status_retryable says so (408, 429, 5xx); returns -1. */
int task_fail(struct task_outcome *out, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const cJSON *task_data(const cJSON *payload);
int task_refused(struct task_outcome *out, const char *what, int status, const cJSON *answer);

/* Returns 0 on success, -1 on failure (outcome->error filled). payload is the job's whole
 * payload object. */
typedef int (*task_fn)(struct task_ctx *ctx, const cJSON *payload, struct task_outcome *outcome);

struct task_def {
    const char *name; /* payload.taskType */
    task_fn run;
};

struct agent_def {
    const char *name;
    const char *const *capabilities; /* NULL-terminated */
    const struct task_def *tasks;
    size_t ntasks;
};

/* Runs an agent process: settings from the environment and flags, then serves until
 * SIGTERM. Returns the process exit code (WORKER_EXIT_FATAL for unrecoverable set-up). */
int runtime_main(const struct agent_def *agent, int argc, char **argv);

#endif
