/* json — request bodies as the gateway reads them: request_parse_body (UTF-8 check, the strict
 * scan, cJSON, object only) on an in-process request, then the job body checks every job
 * route shares (jobs_row_from_body) and json_print, which writes stored JSON back out.
 *
 * Checks: a refused body is answered with invalid_json; an accepted one printed by json_print
 * parses again and prints the same text (a fixpoint), and a row jobs_row_from_body renders
 * is a JSON object's members (the statement reads it as one). */
#include "tests/fuzz/fuzz.h"

#include "common/json.h"
#include "common/json_print.h"
#include "gateway/handlers.h"

/* The text json_print writes for text[0..len), which must parse as an object; NULL-safe. */
static char *reprint(const char *text, size_t len)
{
    struct field_error err;
    cJSON *tree = json_parse_object(text, len, &err);
    FUZZ_CHECK(tree != NULL, "json_print wrote JSON the parser refuses (%s): %s", err.message,
               text);
    char *again = json_print(tree);
    cJSON_Delete(tree);
    FUZZ_CHECK(again != NULL, "json_print failed on a parsed tree");
    return again;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_answer answer = {0};
    struct request *r = fuzz_request_new((const char *)data, size, &answer);
    if (!request_parse_body(r)) {
        FUZZ_CHECK(answer.text && strstr(answer.text, "\"invalid_json\""),
                   "a refused body got no invalid_json answer: %s",
                   answer.text ? answer.text : "(none)");
        fuzz_answer_free(&answer);
        return 0;
    }
    FUZZ_CHECK(answer.text == NULL, "an accepted body was answered: %s", answer.text);
    FUZZ_CHECK(json_is_utf8((const char *)data, size), "accepted a body that is not UTF-8");

    char *printed = json_print(r->body);
    FUZZ_CHECK(printed != NULL, "json_print failed on a parsed body");
    char *again = reprint(printed, strlen(printed));
    FUZZ_CHECK(strcmp(printed, again) == 0, "json_print is not a fixpoint:\n%s\n%s", printed,
               again);
    free(again);
    free(printed);

    size_t len = 0;
    struct field_error err = {{0}, {0}};
    char *row = jobs_row_from_body(r->body, &len, &err);
    if (row) {
        FUZZ_CHECK(strlen(row) == len, "a row's length is wrong");
        struct strbuf object = {0};
        if (strbuf_add(&object, "{", 1) < 0 || strbuf_add(&object, row, len) < 0)
            abort();
        free(reprint(object.p, object.len));
        free(object.p);
        free(row);
    } else {
        FUZZ_CHECK(err.field[0] && err.message[0], "a refused job body names no field");
        FUZZ_CHECK(strncmp(err.message, err.field, strlen(err.field)) == 0,
                   "an error message does not start with its field: %s / %s", err.field,
                   err.message);
    }
    fuzz_request_free(r);
    return 0;
}
