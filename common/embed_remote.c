/* embed_remote — request bodies, answer parsing and the blocking call with retries for the
 * remote embedding providers (see embed_remote.h). */
#include "common/embed_remote.h"
#include "common/clock.h"
#include "common/http_status.h"
#include "common/json_print.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

const char *embed_remote_path(enum embed_api api)
{
    switch (api) {
    case EMBED_API_OPENAI: return "/v1/embeddings";
    case EMBED_API_OLLAMA: return "/api/embed";
    case EMBED_API_OLLAMA_LEGACY: return "/api/embeddings";
    case EMBED_API_LOCAL: break;
    }
    return "";
}

char *embed_remote_request(enum embed_api api, const char *model, const char *text, size_t len)
{
    char *copy = NULL, *body = NULL;
    cJSON *root = cJSON_CreateObject(), *input = NULL;
    if (len > EMBED_TEXT_MAX)
        len = EMBED_TEXT_MAX;
    if (!root || !(copy = strndup(text, len)) || !cJSON_AddStringToObject(root, "model", model))
        goto done;
    if (api == EMBED_API_OLLAMA_LEGACY) {
        if (!cJSON_AddStringToObject(root, "prompt", copy))
            goto done;
    } else {
        if (!(input = cJSON_AddArrayToObject(root, "input")))
            goto done;
        cJSON *item = cJSON_CreateString(copy);
        if (!item || !cJSON_AddItemToArray(input, item)) {
            cJSON_Delete(item);
            goto done;
        }
    }
    body = json_print(root);
done:
    free(copy);
    cJSON_Delete(root);
    return body;
}

/* The vector array in an answer: data[0].embedding, embeddings[0] or embedding. */
static const cJSON *answer_vector(enum embed_api api, const cJSON *root)
{
    if (api == EMBED_API_OPENAI) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
        return cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(data, 0), "embedding");
    }
    if (api == EMBED_API_OLLAMA)
        return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "embeddings"), 0);
    return cJSON_GetObjectItemCaseSensitive(root, "embedding");
}

int embed_remote_parse(enum embed_api api, const char *body, size_t len, int dims, float *out,
                       char *err, size_t errlen)
{
    int rc = -1;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        snprintf(err, errlen, "the answer is not JSON");
        return -1;
    }
    const cJSON *vec = answer_vector(api, root);
    int n = cJSON_GetArraySize(vec);
    if (!cJSON_IsArray(vec) || n == 0) {
        snprintf(err, errlen, "the answer has no %s",
                 api == EMBED_API_OPENAI   ? "data[0].embedding"
                 : api == EMBED_API_OLLAMA ? "embeddings[0]"
                                           : "embedding");
        goto done;
    }
    if (n != dims) {
        snprintf(err, errlen, "the answer has %d dimensions, embed-dims is %d", n, dims);
        goto done;
    }
    double norm = 0;
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, vec)
    {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
            snprintf(err, errlen, "dimension %d of the answer is not a finite number", i);
            goto done;
        }
        out[i] = (float)x->valuedouble;
        norm += (double)out[i] * out[i];
        i++;
    }
    if (norm > 0) {
        float inv = (float)(1.0 / sqrt(norm));
        for (i = 0; i < dims; i++)
            out[i] *= inv;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* An error answer's message: OpenAI's error.message, Ollama's error, else the body start. */
static void answer_error(const struct http_response *resp, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(resp->body, resp->body_len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
    if (cJSON_IsString(m))
        snprintf(err, errlen, "HTTP %d: %.200s", resp->status, m->valuestring);
    else
        snprintf(err, errlen, "HTTP %d: %.120s", resp->status, resp->body);
    cJSON_Delete(root);
}

int embed_remote_embed(struct http_client *hc, enum embed_api api, const char *model, int dims,
                       const char *text, size_t len, int attempts, long deadline_ms, float *out,
                       struct embed_call *call)
{
    double start = clock_now() * 1e3;
    long backoff = BACKOFF_FIRST_MS;
    char *body = embed_remote_request(api, model, text, len);
    memset(call, 0, sizeof(*call));
    if (!body) {
        snprintf(call->error, sizeof(call->error), "out of memory");
        return -1;
    }
    int rc = -1;
    for (;;) {
        long left = deadline_ms - (long)(clock_now() * 1e3 - start);
        if (left <= 0) {
            if (!call->error[0])
                snprintf(call->error, sizeof(call->error), "timed out after %ld ms", deadline_ms);
            break;
        }
        http_client_set_timeout(hc, left);
        struct http_response resp;
        call->attempts++;
        call->status = http_client_send(hc, "POST", embed_remote_path(api), body, &resp);
        if (call->status == 200) {
            rc = embed_remote_parse(api, resp.body, resp.body_len, dims, out, call->error,
                                    sizeof(call->error));
            break; /* a malformed answer is not retried: the next one would be the same */
        }
        if (call->status == 404 && api == EMBED_API_OLLAMA) {
            /* an Ollama older than /api/embed: the one-prompt endpoint */
            api = EMBED_API_OLLAMA_LEGACY;
            free(body);
            if (!(body = embed_remote_request(api, model, text, len))) {
                snprintf(call->error, sizeof(call->error), "out of memory");
                break;
            }
            continue;
        }
        if (call->status == 0)
            snprintf(call->error, sizeof(call->error), "%s", resp.error);
        else
            answer_error(&resp, call->error, sizeof(call->error));
        if (!http_status_retryable(call->status) || call->attempts >= attempts)
            break;
        left = deadline_ms - (long)(clock_now() * 1e3 - start);
        if (left <= backoff)
            break;
        sleep_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    if (rc == 0)
        call->error[0] = '\0';
    call->ms = clock_now() * 1e3 - start;
    free(body);
    return rc;
}
