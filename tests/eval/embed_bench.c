/* embed-bench — how long the built-in embedders take per memory: the memories of a fixture
 * (tests/fixtures/retrieval.json) embedded once with empty word caches (cold: every word
 * looked up in WordNet), then again (warm), and the same for a longer text made of them all.
 * Prints one line per provider; `make eval-retrieval` runs it. Figures, not assertions. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/embed.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
        buf[n] = '\0';
    else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* Microseconds per text for one pass over texts. */
static double pass(const struct embed_provider *p, char **texts, int n, float *v)
{
    double t0 = now_us();
    for (int i = 0; i < n; i++)
        if (embed_text(p, texts[i], strlen(texts[i]), v) < 0) {
            fprintf(stderr, "embed-bench: %s failed\n", p->name);
            exit(1);
        }
    return (now_us() - t0) / n;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "tests/fixtures/retrieval.json";
    char *json = read_file(path);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    cJSON *mems = cJSON_GetObjectItem(root, "memories");
    int n = cJSON_GetArraySize(mems);
    if (n == 0) {
        fprintf(stderr, "embed-bench: no memories in %s\n", path);
        return 1;
    }
    char **texts = calloc((size_t)n, sizeof(*texts));
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        texts[i] = cJSON_GetObjectItem(cJSON_GetArrayItem(mems, i), "content")->valuestring;
        total += strlen(texts[i]) + 1;
    }
    char *all = malloc(total + 1), *w = all;
    for (int i = 0; i < n; i++)
        w += sprintf(w, "%s ", texts[i]);
    static float v[EMBED_DIMS_MAX];
    for (const struct embed_provider *p = embed_provider_next(NULL); p;
         p = embed_provider_next(p)) {
        char err[256];
        double t0 = now_us();
        if (embed_provider_check(p, err, sizeof(err)) < 0) {
            fprintf(stderr, "embed-bench: %s\n", err);
            return 1;
        }
        double open_ms = (now_us() - t0) / 1e3;
        double cold = pass(p, texts, n, v), warm = pass(p, texts, n, v);
        for (int i = 0; i < 20; i++)
            warm = i ? (warm + pass(p, texts, n, v)) / 2 : warm;
        double long_us = pass(p, &all, 1, v);
        printf("%-6s %-22s %d memories of %zu bytes on average: cold %.0f us/memory, warm %.1f "
               "us/memory; all of them as one %zu-byte text: %.0f us; opening: %.1f ms\n",
               p->name, p->model, n, total / (size_t)n, cold, warm, strlen(all), long_us, open_ms);
    }
    free(all);
    free(texts);
    cJSON_Delete(root);
    free(json);
    return 0;
}
