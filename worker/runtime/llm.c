/* llm — the LLM provider's wire format (see llm.h) and task_llm (agent.h): one blocking
 * call from an executor thread over that thread's own keep-alive connection, an llm.call
 * event through POST /api/events for every call, and -1 (never a failed job) on any
 * failure. */
#include "worker/runtime/llm.h"
#include "common/clock.h"
#include "common/json_print.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/log.h"
#include "worker/runtime/shared.h"

enum llm_api llm_api_from_name(const char *name)
{
    if (strcmp(name, "openai") == 0)
        return LLM_API_OPENAI;
    if (strcmp(name, "ollama") == 0)
        return LLM_API_OLLAMA;
    return LLM_API_OFF;
}

const char *llm_path(enum llm_api api)
{
    return api == LLM_API_OLLAMA ? "/api/chat" : "/v1/chat/completions";
}

static bool add_message(cJSON *messages, const char *role, const char *content)
{
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddItemToArray(messages, m)) {
        cJSON_Delete(m);
        return false;
    }
    return cJSON_AddStringToObject(m, "role", role) &&
           cJSON_AddStringToObject(m, "content", content);
}

char *llm_request(enum llm_api api, const char *model, const char *system, const char *prompt)
{
    char *body = NULL;
    cJSON *root = cJSON_CreateObject(), *messages;
    if (!root || !cJSON_AddStringToObject(root, "model", model) ||
        !(messages = cJSON_AddArrayToObject(root, "messages")) ||
        (system && !add_message(messages, "system", system)) ||
        !add_message(messages, "user", prompt))
        goto done;
    if (api == LLM_API_OLLAMA && !cJSON_AddFalseToObject(root, "stream"))
        goto done;
    body = json_print(root);
done:
    cJSON_Delete(root);
    return body;
}

int llm_parse(enum llm_api api, const char *body, size_t len, char *out, size_t outlen, char *err,
              size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        snprintf(err, errlen, "the answer is not JSON");
        return -1;
    }
    const cJSON *msg =
        api == LLM_API_OLLAMA
            ? cJSON_GetObjectItemCaseSensitive(root, "message")
            : cJSON_GetObjectItemCaseSensitive(
                  cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0),
                  "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    if (!cJSON_IsString(content) || !content->valuestring[0]) {
        snprintf(err, errlen, "the answer has no %s",
                 api == LLM_API_OLLAMA ? "message.content" : "choices[0].message.content");
        cJSON_Delete(root);
        return -1;
    }
    size_t n = strlen(content->valuestring);
    if (n >= outlen) {
        n = outlen - 1;
        while (n > 0 && ((unsigned char)content->valuestring[n] & 0xC0) == 0x80)
            n--; /* do not split a UTF-8 sequence */
    }
    memcpy(out, content->valuestring, n);
    out[n] = '\0';
    cJSON_Delete(root);
    return 0;
}

bool task_llm_enabled(const struct task_ctx *ctx)
{
    return ctx && ctx->rt &&
           llm_api_from_name(config_str(ctx->rt->cfg, CFG_LLM_PROVIDER)) != LLM_API_OFF &&
           config_str(ctx->rt->cfg, CFG_LLM_MODEL)[0];
}

static pthread_key_t llm_key;
static pthread_once_t llm_key_once = PTHREAD_ONCE_INIT;

static void free_client(void *hc) { http_client_free(hc); }

static void make_key(void) { pthread_key_create(&llm_key, free_client); }

/* This executor thread's connection to the provider (NULL on allocation failure). */
static struct http_client *llm_client(const struct config *cfg, enum llm_api api)
{
    pthread_once(&llm_key_once, make_key);
    struct http_client *hc = pthread_getspecific(llm_key);
    if (hc)
        return hc;
    const char *url = config_str(cfg, CFG_LLM_URL);
    if (!url[0])
        url = api == LLM_API_OPENAI ? "https://api.openai.com" : "http://127.0.0.1:11434";
    hc =
        http_client_new(url, config_str(cfg, CFG_LLM_API_KEY), config_int(cfg, CFG_LLM_TIMEOUT_MS));
    if (hc && pthread_setspecific(llm_key, hc) != 0) {
        http_client_free(hc);
        hc = NULL;
    }
    return hc;
}

/* Writes the llm.call event; a failure to write it is only logged. */
static void record(const struct task_ctx *ctx, const char *provider, const char *model, double ms,
                   int status, const char *error)
{
    cJSON *ev = cJSON_CreateObject(), *data;
    if (!ev || !cJSON_AddStringToObject(ev, "type", "llm.call") ||
        !cJSON_AddStringToObject(ev, "severity", error ? "warning" : "info") ||
        !cJSON_AddStringToObject(ev, "agentName", ctx->agent) ||
        (ctx->job_id > 0 && !cJSON_AddNumberToObject(ev, "jobId", (double)ctx->job_id)) ||
        !(data = cJSON_AddObjectToObject(ev, "data"))) {
        cJSON_Delete(ev);
        return;
    }
    cJSON_AddStringToObject(data, "provider", provider);
    cJSON_AddStringToObject(data, "model", model);
    cJSON_AddNumberToObject(data, "durationMs", (double)(long)(ms + 0.5));
    cJSON_AddStringToObject(data, "outcome", error ? "error" : "ok");
    if (status)
        cJSON_AddNumberToObject(data, "status", status);
    if (error)
        cJSON_AddStringToObject(data, "error", error);
    struct task_outcome scratch = {0};
    int st = 0;
    cJSON *answer = task_gateway_json(ctx, "POST", "/api/events", ev, &st, &scratch);
    if (st != 201)
        log_warn("msg=\"cannot record an llm.call event\" job=%lld status=%d error=\"%s\"",
                 ctx->job_id, st, st ? "" : scratch.error);
    cJSON_Delete(answer);
    cJSON_Delete(ev);
}

int task_llm(const struct task_ctx *ctx, const char *system, const char *prompt, char *out,
             size_t outlen)
{
    if (outlen == 0)
        return -1;
    if (!task_llm_enabled(ctx)) {
        snprintf(out, outlen, "no LLM provider is configured");
        return -1;
    }
    const struct config *cfg = ctx->rt->cfg;
    const char *provider = config_str(cfg, CFG_LLM_PROVIDER),
               *model = config_str(cfg, CFG_LLM_MODEL);
    enum llm_api api = llm_api_from_name(provider);
    char err[512] = "";
    int status = 0;
    double start = clock_now() * 1e3;
    struct http_client *hc = llm_client(cfg, api);
    char *body = hc ? llm_request(api, model, system, prompt) : NULL;
    if (!body) {
        snprintf(err, sizeof(err), "out of memory");
    } else {
        struct http_response resp;
        status = http_client_send(hc, "POST", llm_path(api), body, &resp);
        if (status == 0)
            snprintf(err, sizeof(err), "no answer from %s: %s", provider, resp.error);
        else if (status != 200)
            snprintf(err, sizeof(err), "%s answered HTTP %d: %.200s", provider, status, resp.body);
        else
            llm_parse(api, resp.body, resp.body_len, out, outlen, err,
                      sizeof(err)); /* err: why not */
    }
    free(body);
    double ms = clock_now() * 1e3 - start;
    record(ctx, provider, model, ms, status, err[0] ? err : NULL);
    if (err[0]) {
        log_warn("msg=\"llm call failed\" job=%lld provider=%s model=%s ms=%.0f error=\"%s\"",
                 ctx->job_id, provider, model, ms, err);
        snprintf(out, outlen, "%s", err);
        return -1;
    }
    return 0;
}
