/* services — what a running task may ask of the rest of Flowstate: calls to the gateway
 * over a keep-alive connection owned by the calling executor thread. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
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
