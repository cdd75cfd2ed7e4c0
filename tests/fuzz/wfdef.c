/* wfdef — workflow definitions (the "definition" of POST /api/workflows/runs and of a
 * template) to wfdef_validate, the whole check before anything is stored.
 *
 * Checks: a refusal names a field under "definition" and says what is wrong; the verdict and
 * its message do not change when the same definition is checked again, nor when it is printed
 * and parsed back (the text the gateway stores); an accepted definition has 1 to
 * WFDEF_STEPS_MAX steps with distinct keys, and its dependsOn edges name steps of the
 * definition and form no cycle (the SQL engine trusts all of that). */
#include "tests/fuzz/fuzz.h"

#include "gateway/workflows/wfdef.h"

static int step_index(const cJSON *steps, const char *key)
{
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, steps)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
            return i;
        i++;
    }
    return -1;
}

/* True when the accepted definition's steps can be ordered parents first (Kahn's
 * algorithm, quadratic: the harness's inputs are small). */
static bool acyclic(const cJSON *steps, int n)
{
    bool *done = calloc((size_t)n, sizeof(*done));
    if (!done)
        abort();
    int finished = 0;
    for (bool progress = true; progress;) {
        progress = false;
        int i = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, steps)
        {
            if (!done[i]) {
                bool ready = true;
                const cJSON *d;
                cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(s, "dependsOn"))
                {
                    int j = step_index(steps, d->valuestring);
                    FUZZ_CHECK(j >= 0, "step %d depends on an unknown step '%s'", i,
                               d->valuestring);
                    ready = ready && done[j];
                }
                if (ready) {
                    done[i] = true;
                    finished++;
                    progress = true;
                }
            }
            i++;
        }
    }
    free(done);
    return finished == n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_ERROR);
    char *text = fuzz_cstring(data, size);
    cJSON *def = cJSON_Parse(text);
    free(text);
    if (!def)
        return 0;
    struct field_error err, again;
    memset(&err, 0, sizeof(err));
    memset(&again, 0, sizeof(again));
    int rc = wfdef_validate(def, &err);
    FUZZ_CHECK(wfdef_validate(def, &again) == rc, "the verdict changed on a second check");
    char *printed = cJSON_PrintUnformatted(def);
    cJSON *back = printed ? cJSON_Parse(printed) : NULL;
    if (back) {
        struct field_error third;
        memset(&third, 0, sizeof(third));
        FUZZ_CHECK(wfdef_validate(back, &third) == rc,
                   "the printed definition got another verdict");
        if (rc < 0)
            FUZZ_CHECK(strcmp(third.message, err.message) == 0,
                       "the printed definition got another message: %s / %s", err.message,
                       third.message);
    }
    if (rc < 0) {
        FUZZ_CHECK(strcmp(err.message, again.message) == 0, "the message changed: %s / %s",
                   err.message, again.message);
        FUZZ_CHECK(strncmp(err.field, "definition", 10) == 0, "the field is %s", err.field);
        FUZZ_CHECK(err.message[0] != '\0', "a refusal without a message");
    } else {
        const cJSON *steps = cJSON_GetObjectItemCaseSensitive(def, "steps");
        int n = cJSON_GetArraySize(steps);
        FUZZ_CHECK(cJSON_IsArray(steps) && n >= 1 && n <= WFDEF_STEPS_MAX, "%d steps", n);
        int i = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, steps)
        {
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, "key");
            FUZZ_CHECK(cJSON_IsString(k), "step %d has no key", i);
            FUZZ_CHECK(step_index(steps, k->valuestring) == i, "key '%s' twice", k->valuestring);
            i++;
        }
        FUZZ_CHECK(acyclic(steps, n), "an accepted definition has a cycle");
    }
    cJSON_Delete(back);
    free(printed);
    cJSON_Delete(def);
    return 0;
}
