/* log: log_redact_url (URLs, conninfo, URL query), log_quote escaping and truncation, level
 * names, and the logfmt line log_msg writes to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/unit/harness.h"

/* ---- log_redact_url ------------------------------------------------------------------ */

struct redact_case {
    const char *label;
    const char *url;
    const char *want;
};

static const struct redact_case redact_cases[] = {
    {"URL with password", "postgresql://u:secret@h/db", "postgresql://u:***@h/db"},
    {"URL with password, port and query",
     "postgres://flow:s3cret@db:5432/flowstate?sslmode=require",
     "postgres://flow:***@db:5432/flowstate?sslmode=require"},
    {"URL with password, no path", "postgresql://u:secret@h", "postgresql://u:***@h"},
    {"URL with empty password", "postgresql://u:@h/db", "postgresql://u:***@h/db"},
    {"URL without password", "postgresql://u@h/db", "postgresql://u@h/db"},
    {"URL without user", "postgresql://h:5432/db", "postgresql://h:5432/db"},
    {"URL host only", "postgresql://h", "postgresql://h"},
    {"URL with @ only after the path", "postgresql://h/db?application_name=a:b@c",
     "postgresql://h/db?application_name=a:b@c"},
    {"URL query password", "postgresql://u@h/db?password=x", "postgresql://u@h/db?password=***"},
    {"URL query password then more", "postgresql://u@h/db?password=x&sslmode=require",
     "postgresql://u@h/db?password=***&sslmode=require"},
    {"URL query password after others", "postgresql://u@h/db?sslmode=require&password=x",
     "postgresql://u@h/db?sslmode=require&password=***"},
    {"URL password and query password", "postgresql://u:a@h/db?password=b",
     "postgresql://u:***@h/db?password=***"},
    {"conninfo password first", "password=x host=y", "password=*** host=y"},
    {"conninfo password last", "host=y password=x", "host=y password=***"},
    {"conninfo password between", "host=y password=x dbname=z", "host=y password=*** dbname=z"},
    {"conninfo without password", "host=y dbname=z user=u", "host=y dbname=z user=u"},
    {"conninfo sslpassword", "host=y sslpassword=x", "host=y sslpassword=***"},
    /* libpq skips blanks after "=", so the value here is "dbname=z": hidden */
    {"conninfo blank after =", "host=y password= dbname=z", "host=y password= ***"},
    {"empty", "", ""},
    {"plain text", "not a url", "not a url"},
};

static void redact_case_run(const void *arg)
{
    const struct redact_case *c = arg;
    char buf[512];
    const char *out = log_redact_url(c->url, buf, sizeof(buf));
    CHECK(out == buf);
    CHECK_STR(buf, c->want);
}

/* The secret must not appear anywhere in the redacted text. */
struct leak_case {
    const char *label;
    const char *url;
    const char *secret;
};

static const struct leak_case leak_cases[] = {
    {"URL", "postgresql://u:hunter2@h/db", "hunter2"},
    {"URL, no path", "postgresql://u:hunter2@h", "hunter2"},
    {"URL query", "postgresql://u@h/db?password=hunter2&sslmode=require", "hunter2"},
    {"conninfo", "host=y password=hunter2", "hunter2"},
    {"conninfo, quoted", "host=y password='hunter2' dbname=z", "hunter2"},
    /* libpq accepts quoted values with spaces: only up to the space is hidden */
    {"conninfo, quoted with a space", "host=y password='correct horse' dbname=z", "horse"},
    /* libpq accepts blanks around '=': nothing is hidden */
    {"conninfo, spaces around =", "host=y password = hunter2 dbname=z", "hunter2"},
    /* only the first password= is hidden */
    {"conninfo, password twice", "password=a host=y password=hunter2", "hunter2"},
    {"URL query, password twice", "postgresql://u@h/db?password=a&password=hunter2", "hunter2"},
};

static void leak_case_run(const void *arg)
{
    const struct leak_case *c = arg;
    char buf[512];
    CHECK_LACKS(log_redact_url(c->url, buf, sizeof(buf)), c->secret);
}

static void redact_null(const void *arg)
{
    (void)arg;
    char buf[16];
    memset(buf, '#', sizeof(buf));
    CHECK_STR(log_redact_url(NULL, buf, sizeof(buf)), "");
}

/* A buffer too small for the whole URL gets a NUL-terminated prefix, and nothing past len
 * is written, whatever the length. */
static void redact_small_buffers(const void *arg)
{
    (void)arg;
    static const char *const urls[] = {
        "postgresql://u:secret@h/db?password=x&sslmode=require",
        "host=y password=secret dbname=z",
    };
    for (size_t u = 0; u < COUNT_OF(urls); u++) {
        for (size_t len = 1; len < 64; len++) {
            char buf[80];
            memset(buf, '#', sizeof(buf));
            log_redact_url(urls[u], buf, len);
            if (!CHECK(memchr(buf, '\0', len) != NULL) || !CHECK(buf[len] == '#'))
                return;
            CHECK(strlen(buf) < len);
        }
    }
}

/* ---- log_quote ----------------------------------------------------------------------- */

struct quote_case {
    const char *label;
    const char *s;
    size_t len;
    const char *want;
};

static const struct quote_case quote_cases[] = {
    {"plain", "hello", 64, "\"hello\""},
    {"empty", "", 64, "\"\""},
    {"NULL", NULL, 64, "\"\""},
    {"space", "a b", 64, "\"a b\""},
    {"double quotes", "say \"hi\"", 64, "\"say \\\"hi\\\"\""},
    {"backslash", "back\\slash", 64, "\"back\\\\slash\""},
    {"newline", "line1\nline2", 64, "\"line1\\nline2\""},
    {"tab becomes space", "tab\there", 64, "\"tab here\""},
    {"CR becomes space", "cr\r", 64, "\"cr \""},
    {"DEL becomes space",
     "a\x7f"
     "b",
     64, "\"a b\""},
    {"control becomes space",
     "a\x01\x1f"
     "b",
     64, "\"a  b\""},
    {"escape becomes space", "\x1b[31mred", 64, "\" [31mred\""},
    {"UTF-8 kept", "caf\xc3\xa9", 64, "\"caf\xc3\xa9\""},
    {"key=value kept", "a=b", 64, "\"a=b\""},
    {"len 3: quotes only", "abc", 3, "\"\""},
    {"len 2: empty", "abc", 2, ""},
    {"len 1: empty", "abc", 1, ""},
    {"room to spare", "abc", 7, "\"abc\""},
    {"cut to fit", "abcdef", 6, "\"abc\""},
    {"escape kept whole", "a\"b", 6, "\"a\\\"\""},
    {"escape dropped whole", "a\"b", 5, "\"a\""},
    /* "\"abc\"" needs exactly 6 bytes, but the last character is dropped */
    {"exact fit", "abc", 6, "\"abc\""},
};

static void quote_case_run(const void *arg)
{
    const struct quote_case *c = arg;
    char buf[80];
    memset(buf, '#', sizeof(buf));
    const char *out = log_quote(c->s, buf, c->len);
    CHECK(out == buf);
    CHECK_STR(buf, c->want);
    CHECK(buf[c->len] == '#');
}

static void quote_len_zero(const void *arg)
{
    (void)arg;
    char buf[4] = "###";
    CHECK(log_quote("abc", buf, 0) == buf);
    CHECK_STR(buf, "###");
}

/* Truncation keeps the value quoted and never splits an escape, for every length. */
static void quote_truncation(const void *arg)
{
    (void)arg;
    static const char input[] = "a\"b\\c\nd\"\"\\\\efgh";
    char full[128];
    log_quote(input, full, sizeof(full));
    CHECK_STR(full, "\"a\\\"b\\\\c\\nd\\\"\\\"\\\\\\\\efgh\"");
    size_t body_len = strlen(full) - 2;
    for (size_t len = 3; len < sizeof(full); len++) {
        char buf[128 + 1];
        memset(buf, '#', sizeof(buf));
        log_quote(input, buf, len);
        size_t n = strlen(buf);
        if (!CHECK(n < len) || !CHECK(n >= 2) || !CHECK(buf[0] == '"') ||
            !CHECK(buf[n - 1] == '"') || !CHECK(buf[len] == '#'))
            return;
        size_t body = n - 2;
        /* the body is a prefix of the full body, ending on a whole escape */
        CHECK(body <= body_len && memcmp(buf + 1, full + 1, body) == 0);
        size_t backslashes = 0;
        for (size_t i = body; i > 0 && buf[i] == '\\'; i--)
            backslashes++;
        CHECK(backslashes % 2 == 0);
        /* with room to spare the whole value is kept (the exact fit is a known bug) */
        if (len >= strlen(full) + 2)
            CHECK_STR(buf, full);
    }
}

/* ---- levels -------------------------------------------------------------------------- */

struct level_case {
    const char *name;
    int rc;
    enum log_level level;
};

static const struct level_case level_cases[] = {
    {"debug", 0, LOG_DEBUG}, {"info", 0, LOG_INFO},     {"warn", 0, LOG_WARN},
    {"error", 0, LOG_ERROR}, {"DEBUG", -1, LOG_INFO},   {"warning", -1, LOG_INFO},
    {"", -1, LOG_INFO},      {"verbose", -1, LOG_INFO}, {"info ", -1, LOG_INFO},
};

static void level_case_run(const void *arg)
{
    const struct level_case *c = arg;
    enum log_level l = LOG_INFO;
    CHECK_LONG(log_level_parse(c->name, &l), c->rc);
    CHECK_LONG(l, c->level);
}

/* ---- log_msg ------------------------------------------------------------------------- */

/* Runs fn with stderr sent to a temporary file; returns what was written (malloc'd). */
static char *capture_stderr(void (*fn)(void))
{
    FILE *tmp = tmpfile();
    if (!tmp)
        return NULL;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    if (saved < 0 || dup2(fileno(tmp), STDERR_FILENO) < 0) {
        fclose(tmp);
        return NULL;
    }
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t size = lseek(fileno(tmp), 0, SEEK_END);
    char *text = NULL;
    if (size >= 0 && (text = malloc((size_t)size + 1)) != NULL) {
        rewind(tmp);
        size_t got = fread(text, 1, (size_t)size, tmp);
        text[got] = '\0';
    }
    fclose(tmp);
    return text;
}

static void emit_levels(void)
{
    enum log_level old = log_get_level();
    log_set_level(LOG_INFO);
    log_debug("msg=hidden n=%d", 1);
    log_info("msg=shown n=%d", 2);
    log_warn("msg=warned");
    log_error("msg=failed err=%s", "\"x\"");
    log_set_level(LOG_ERROR);
    log_warn("msg=hidden2");
    log_set_level(old);
}

static void msg_format_and_levels(const void *arg)
{
    (void)arg;
    char *text = capture_stderr(emit_levels);
    REQUIRE(text != NULL);
    CHECK_LACKS(text, "hidden");
    char *lines[8];
    int n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < 8;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    CHECK_LONG(n, 3);
    static const char *const tails[] = {"level=info msg=shown n=2", "level=warn msg=warned",
                                        "level=error msg=failed err=\"x\""};
    for (int i = 0; i < n && i < 3; i++) {
        /* ts=YYYY-MM-DDTHH:MM:SS.mmmZ level=… */
        const char *l = lines[i];
        CHECK(strncmp(l, "ts=", 3) == 0 && strlen(l) > 28 && l[7] == '-' && l[10] == '-' &&
              l[13] == 'T' && l[16] == ':' && l[19] == ':' && l[22] == '.' && l[26] == 'Z' &&
              l[27] == ' ');
        CHECK_STR(l + 28, tails[i]);
    }
    free(text);
}

static void emit_long(void)
{
    static char big[10000];
    memset(big, 'x', sizeof(big) - 1);
    log_error("msg=%s", big);
}

/* A line longer than the buffer is cut but still ends with its newline. */
static void msg_long_line(const void *arg)
{
    (void)arg;
    char *text = capture_stderr(emit_long);
    REQUIRE(text != NULL);
    size_t n = strlen(text);
    CHECK(n > 4000 && n <= 4096);
    CHECK(n > 0 && text[n - 1] == '\n');
    CHECK(strchr(text, '\n') == text + n - 1);
    free(text);
}

static void level_set_get(const void *arg)
{
    (void)arg;
    enum log_level old = log_get_level();
    log_set_level(LOG_DEBUG);
    CHECK_LONG(log_get_level(), LOG_DEBUG);
    log_set_level(LOG_ERROR);
    CHECK_LONG(log_get_level(), LOG_ERROR);
    log_set_level(old);
}

/* ---- registration -------------------------------------------------------------------- */

void register_log_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(redact_cases); i++)
        test_addf(redact_case_run, &redact_cases[i], "log redact_url %s", redact_cases[i].label);
    for (size_t i = 0; i < COUNT_OF(leak_cases); i++)
        test_addf(leak_case_run, &leak_cases[i], "log redact_url hides the secret: %s",
                  leak_cases[i].label);
    test_add("log redact_url NULL", redact_null, NULL);
    test_add("log redact_url small buffers", redact_small_buffers, NULL);
    for (size_t i = 0; i < COUNT_OF(quote_cases); i++)
        test_addf(quote_case_run, &quote_cases[i], "log quote %s", quote_cases[i].label);
    test_add("log quote len 0", quote_len_zero, NULL);
    test_add("log quote truncation", quote_truncation, NULL);
    for (size_t i = 0; i < COUNT_OF(level_cases); i++)
        test_addf(level_case_run, &level_cases[i], "log level_parse \"%s\"", level_cases[i].name);
    test_add("log level set/get", level_set_get, NULL);
    test_add("log msg format and level filter", msg_format_and_levels, NULL);
    test_add("log msg long line", msg_long_line, NULL);
}
