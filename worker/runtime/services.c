/* services — what a running task may ask of the rest of Flowstate: calls to the gateway
 * over a keep-alive connection owned by the calling executor thread. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/http_status.h"
#include "common/json_print.h"
#include "worker/runtime/shared.h"

#define TASK_HTTP_TIMEOUT_MS 30000

static pthread_key_t client_key;
static pthread_once_t client_key_once = PTHREAD_ONCE_INIT;

static void free_client(void *hc) { http_client_free(hc); }

static void make_key(void) { pthread_key_create(&client_key, free_client); }

int task_gateway(const struct task_ctx *ctx, const char *method, const char *path, const char *body,
                 struct http_response *resp)
{
    pthread_once(&client_key_once, make_key);
    struct http_client *hc = pthread_getspecific(client_key);
    if (!hc) {
        const struct config *cfg = ctx->rt->cfg;
        hc = http_client_new(config_str(cfg, CFG_BACKEND_API_URL), config_str(cfg, CFG_API_KEY),
                             TASK_HTTP_TIMEOUT_MS);
        if (!hc || pthread_setspecific(client_key, hc) != 0) {
            http_client_free(hc);
            memset(resp, 0, sizeof(*resp));
            resp->body = "";
            snprintf(resp->error, sizeof(resp->error), "out of memory");
            return 0;
        }
    }
    return http_client_send(hc, method, path, body, resp);
}

const struct config *task_config(const struct task_ctx *ctx) { return ctx->rt->cfg; }

cJSON *task_gateway_json(const struct task_ctx *ctx, const char *method, const char *path,
                         const cJSON *body, int *status, struct task_outcome *out)
{
    char *text = NULL;
    if (body && !(text = json_print(body))) {
        *status = 0;
        snprintf(out->error, sizeof(out->error), "out of memory");
        out->retryable = true;
        return NULL;
    }
    struct http_response resp;
    *status = task_gateway(ctx, method, path, text, &resp);
    free(text);
    if (*status == 0) {
        snprintf(out->error, sizeof(out->error), "cannot reach the gateway for %s %s: %s", method,
                 path, resp.error);
        out->retryable = true;
        return NULL;
    }
    return cJSON_ParseWithLength(resp.body, resp.body_len);
}

int task_fail(struct task_outcome *out, bool retryable, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof(out->error), fmt, ap);
    va_end(ap);
    out->retryable = retryable;
    return -1;
}

const cJSON *task_data(const cJSON *payload)
{
    static const cJSON empty = {.type = cJSON_Object};
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(payload, "data");
    return cJSON_IsObject(d) ? d : &empty;
}

int task_refused(struct task_outcome *out, const char *what, int status, const cJSON *answer)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(answer, "error"), "message");
    bool has = cJSON_IsString(m);
    return task_fail(out, http_status_retryable(status), "%s failed (HTTP %d)%s%s", what, status,
                     has ? ": " : "", has ? m->valuestring : "");
}
