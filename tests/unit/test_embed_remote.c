/* Unit tests for the remote providers' wire formats: common/embed_remote (OpenAI-compatible
 * and Ollama embedding requests and answers: vectors found, normalised, dimension checked,
 * malformed answers refused) and worker/runtime/llm (chat requests and answers). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/embed_remote.h"
#include "common/http_status.h"
#include "tests/unit/harness.h"
#include "worker/runtime/llm.h"

struct request_row {
    enum embed_api api;
    const char *path, *want; /* the exact body */
};

static const struct request_row request_rows[] = {
    {EMBED_API_OPENAI, "/v1/embeddings", "{\"model\":\"m1\",\"input\":[\"a \\\"b\\\"\\n\"]}"},
    {EMBED_API_OLLAMA, "/api/embed", "{\"model\":\"m1\",\"input\":[\"a \\\"b\\\"\\n\"]}"},
    {EMBED_API_OLLAMA_LEGACY, "/api/embeddings",
     "{\"model\":\"m1\",\"prompt\":\"a \\\"b\\\"\\n\"}"},
};

static void request_case(const void *arg)
{
    const struct request_row *row = arg;
    const char *text = "a \"b\"\nIGNORED";
    char *body = embed_remote_request(row->api, "m1", text, 6);
    REQUIRE(body != NULL);
    CHECK_STR(body, row->want);
    CHECK_STR(embed_remote_path(row->api), row->path);
    free(body);
}

struct parse_row {
    enum embed_api api;
    const char *body;
    int dims;
    int rc;
    const char *err; /* a substring of the reason, when rc is -1 */
};

static const struct parse_row parse_rows[] = {
    {EMBED_API_OPENAI,
     "{\"object\":\"list\",\"data\":[{\"index\":0,\"embedding\":[3,4,0]}],\"model\":\"x\"}", 3, 0,
     NULL},
    {EMBED_API_OLLAMA, "{\"model\":\"x\",\"embeddings\":[[3,4,0]]}", 3, 0, NULL},
    {EMBED_API_OLLAMA_LEGACY, "{\"embedding\":[3,4,0]}", 3, 0, NULL},
    {EMBED_API_OPENAI, "{\"data\":[{\"embedding\":[3,4,0]}]}", 4, -1,
     "3 dimensions, embed-dims is 4"},
    {EMBED_API_OLLAMA, "{\"embeddings\":[[1,2]]}", 3, -1, "2 dimensions"},
    {EMBED_API_OPENAI, "{\"data\":[]}", 3, -1, "no data[0].embedding"},
    {EMBED_API_OPENAI, "{\"embeddings\":[[3,4,0]]}", 3, -1, "no data[0].embedding"},
    {EMBED_API_OLLAMA, "{\"embedding\":[3,4,0]}", 3, -1, "no embeddings[0]"},
    {EMBED_API_OLLAMA_LEGACY, "{\"embedding\":[]}", 3, -1, "no embedding"},
    {EMBED_API_OPENAI, "{\"data\":[{\"embedding\":[3,\"4\",0]}]}", 3, -1, "dimension 1"},
    {EMBED_API_OPENAI, "not json", 3, -1, "not JSON"},
    {EMBED_API_OLLAMA, "{\"embeddings\":[[3,4,0]", 3, -1, "not JSON"},
    {EMBED_API_OPENAI, "{\"data\":[{\"embedding\":[0,0,0]}]}", 3, 0, NULL},
};

static void parse_case(const void *arg)
{
    const struct parse_row *row = arg;
    float v[8] = {0};
    char err[256] = "";
    int rc =
        embed_remote_parse(row->api, row->body, strlen(row->body), row->dims, v, err, sizeof(err));
    CHECK_LONG(rc, row->rc);
    if (row->rc < 0) {
        CHECK_CONTAINS(err, row->err);
        return;
    }
    double n = 0;
    for (int i = 0; i < row->dims; i++)
        n += (double)v[i] * v[i];
    if (strstr(row->body, "[0,0,0]")) {
        CHECK(n == 0); /* the zero vector stays zero */
    } else {
        CHECK(fabs(n - 1) < 1e-6); /* normalised: 3,4,0 -> 0.6,0.8,0 */
        CHECK(fabsf(v[0] - 0.6f) < 1e-6f && fabsf(v[1] - 0.8f) < 1e-6f);
    }
}

static void dims_case(const void *arg)
{
    (void)arg;
    /* a 3072-dimension answer (text-embedding-3-large) fits EMBED_DIMS_MAX */
    int dims = 3072;
    cJSON *root = cJSON_CreateObject(), *outer = cJSON_AddArrayToObject(root, "embeddings");
    cJSON *vec = cJSON_CreateArray();
    for (int i = 0; i < dims; i++)
        cJSON_AddItemToArray(vec, cJSON_CreateNumber(i % 7 - 3));
    cJSON_AddItemToArray(outer, vec);
    char *body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    REQUIRE(body != NULL);
    float *v = malloc(sizeof(float) * EMBED_DIMS_MAX);
    char err[256];
    CHECK(dims <= EMBED_DIMS_MAX);
    CHECK_LONG(embed_remote_parse(EMBED_API_OLLAMA, body, strlen(body), dims, v, err, sizeof(err)),
               0);
    free(v);
    free(body);
}

struct retry_row {
    int status;
    bool retry;
};

static const struct retry_row retry_rows[] = {
    {0, true},   {200, false}, {400, false}, {401, false}, {404, false},
    {429, true}, {500, true},  {502, true},  {503, true},
};

static void retry_case(const void *arg)
{
    const struct retry_row *row = arg;
    CHECK(http_status_retryable(row->status) == row->retry);
}

struct llm_row {
    enum llm_api api;
    const char *system, *want;
};

static const struct llm_row llm_request_rows[] = {
    {LLM_API_OPENAI, "be brief",
     "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
     "{\"role\":\"user\",\"content\":\"hi\"}]}"},
    {LLM_API_OPENAI, NULL,
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"},
    {LLM_API_OLLAMA, "be brief",
     "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
     "{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":false}"},
};

static void llm_request_case(const void *arg)
{
    const struct llm_row *row = arg;
    char *body = llm_request(row->api, "m", row->system, "hi");
    REQUIRE(body != NULL);
    CHECK_STR(body, row->want);
    free(body);
}

struct llm_parse_row {
    enum llm_api api;
    const char *body;
    int rc;
    const char *want; /* the text, or a substring of the reason */
};

static const struct llm_parse_row llm_parse_rows[] = {
    {LLM_API_OPENAI,
     "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Looks fine.\"}}]}",
     0, "Looks fine."},
    {LLM_API_OLLAMA,
     "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"Split f.\"},\"done\":true}",
     0, "Split f."},
    {LLM_API_OPENAI, "{\"message\":{\"content\":\"x\"}}", -1, "choices[0].message.content"},
    {LLM_API_OLLAMA, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}", -1, "message.content"},
    {LLM_API_OLLAMA, "{\"message\":{\"content\":\"\"}}", -1, "message.content"},
    {LLM_API_OPENAI, "<html>", -1, "not JSON"},
    {LLM_API_OLLAMA, "{\"message\":{\"content\":\"0123456789\\u00e9\\u00e9\"}}", 0, "0123456789"},
};

static void llm_parse_case(const void *arg)
{
    const struct llm_parse_row *row = arg;
    char out[12], err[256] = "";
    int rc = llm_parse(row->api, row->body, strlen(row->body), out, sizeof(out), err, sizeof(err));
    CHECK_LONG(rc, row->rc);
    if (rc == 0)
        CHECK_STR(out, row->want); /* the last row is cut before the split "é" */
    else
        CHECK_CONTAINS(err, row->want);
}

static void llm_names_case(const void *arg)
{
    (void)arg;
    CHECK(llm_api_from_name("openai") == LLM_API_OPENAI);
    CHECK(llm_api_from_name("ollama") == LLM_API_OLLAMA);
    CHECK(llm_api_from_name("off") == LLM_API_OFF);
    CHECK_STR(llm_path(LLM_API_OPENAI), "/v1/chat/completions");
    CHECK_STR(llm_path(LLM_API_OLLAMA), "/api/chat");
}

void register_embed_remote_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(request_rows); i++)
        test_addf(request_case, &request_rows[i], "embed remote request %s", request_rows[i].path);
    for (size_t i = 0; i < COUNT_OF(parse_rows); i++)
        test_addf(parse_case, &parse_rows[i], "embed remote parse %zu", i);
    test_add("embed remote 3072 dims", dims_case, NULL);
    for (size_t i = 0; i < COUNT_OF(retry_rows); i++)
        test_addf(retry_case, &retry_rows[i], "embed remote retryable %d", retry_rows[i].status);
    for (size_t i = 0; i < COUNT_OF(llm_request_rows); i++)
        test_addf(llm_request_case, &llm_request_rows[i], "llm request %zu", i);
    for (size_t i = 0; i < COUNT_OF(llm_parse_rows); i++)
        test_addf(llm_parse_case, &llm_parse_rows[i], "llm parse %zu", i);
    test_add("llm provider names", llm_names_case, NULL);
}
