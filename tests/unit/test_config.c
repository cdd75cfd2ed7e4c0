/* config: defaults, environment and flag parsing, scopes, --show-config redaction, --help.
 * Every case that reads the environment runs with the config variables cleared and puts
 * the caller's environment back afterwards. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/config.h"
#include "tests/unit/harness.h"

/* ---- environment isolation ---------------------------------------------------------- */

#define MAX_SAVED 64

static char *saved_env[MAX_SAVED];
static size_t nsaved;

static bool config_var(const char *entry)
{
    static const char *const plain[] = {"PORT=", "DATABASE_URL=", "BACKEND_API_URL="};
    if (strncmp(entry, "FLOWSTATE_", 10) == 0)
        return true;
    for (size_t i = 0; i < COUNT_OF(plain); i++)
        if (strncmp(entry, plain[i], strlen(plain[i])) == 0)
            return true;
    return false;
}

/* Unsets every config variable; with save, keeps copies of them for env_restore(). */
static void env_clear(bool save)
{
    char *names[MAX_SAVED];
    size_t n = 0;
    for (char **e = environ; *e && n < MAX_SAVED; e++) {
        if (!config_var(*e) || !strchr(*e, '='))
            continue;
        names[n] = strndup(*e, (size_t)(strchr(*e, '=') - *e));
        if (save && nsaved < MAX_SAVED)
            saved_env[nsaved++] = strdup(*e);
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
}

static void env_isolate(void)
{
    nsaved = 0;
    env_clear(true);
}

static void env_restore(void)
{
    env_clear(false);
    for (size_t i = 0; i < nsaved; i++) {
        char *eq = strchr(saved_env[i], '=');
        *eq = '\0';
        setenv(saved_env[i], eq + 1, 1);
        free(saved_env[i]);
    }
    nsaved = 0;
}

/* Sets "NAME=value". */
static void env_put(const char *assignment)
{
    char name[128];
    const char *eq = strchr(assignment, '=');
    snprintf(name, sizeof(name), "%.*s", (int)(eq - assignment), assignment);
    setenv(name, eq + 1, 1);
}

/* ---- defaults ------------------------------------------------------------------------ */

enum want_kind { WANT_INT, WANT_BOOL, WANT_STR };

struct default_case {
    enum config_id id;
    const char *label;
    enum want_kind kind;
    long num;
    const char *str;
};

/* clang-format off */
static const struct default_case default_cases[] = {
    {CFG_HOST, "HOST", WANT_STR, 0, "127.0.0.1"},
    {CFG_PORT, "PORT", WANT_INT, 3001, "3001"},
    {CFG_DATABASE_URL, "DATABASE_URL", WANT_STR, 0, ""},
    {CFG_DB_POOL_SIZE, "DB_POOL_SIZE", WANT_INT, 4, "4"},
    {CFG_DB_QUEUE_MAX, "DB_QUEUE_MAX", WANT_INT, 10000, "10000"},
    {CFG_DB_WAIT, "DB_WAIT", WANT_INT, 30, "30"},
    {CFG_STATEMENT_TIMEOUT, "STATEMENT_TIMEOUT", WANT_INT, 30000, "30000"},
    {CFG_MIGRATE_ON_START, "MIGRATE_ON_START", WANT_BOOL, 1, "on"},
    {CFG_AUTH, "AUTH", WANT_BOOL, 1, "on"},
    {CFG_KEY_CACHE_TTL, "KEY_CACHE_TTL", WANT_INT, 30, "30"},
    {CFG_KEY_CACHE_MAX, "KEY_CACHE_MAX", WANT_INT, 1000, "1000"},
    {CFG_KEY_CACHE_UNKNOWN_MAX, "KEY_CACHE_UNKNOWN_MAX", WANT_INT, 10000, "10000"},
    {CFG_BODY_LIMIT, "BODY_LIMIT", WANT_INT, 1048576, "1048576"},
    {CFG_HTTP_TIMEOUT, "HTTP_TIMEOUT", WANT_INT, 60, "60"},
    {CFG_BATCH_MAX, "BATCH_MAX", WANT_INT, 1000, "1000"},
    {CFG_BATCH_INFLIGHT, "BATCH_INFLIGHT", WANT_INT, 1, "1"},
    {CFG_SHUTDOWN_TIMEOUT, "SHUTDOWN_TIMEOUT", WANT_INT, 30, "30"},
    {CFG_LOG_LEVEL, "LOG_LEVEL", WANT_STR, 0, "info"},
    {CFG_BACKEND_API_URL, "BACKEND_API_URL", WANT_STR, 0, "http://127.0.0.1:3001"},
    {CFG_API_KEY, "API_KEY", WANT_STR, 0, ""},
};
/* clang-format on */

static void check_value(const struct config *cfg, enum config_id id, enum want_kind kind, long num,
                        const char *str)
{
    switch (kind) {
    case WANT_INT: CHECK_LONG(config_int(cfg, id), num); break;
    case WANT_BOOL: CHECK(config_bool(cfg, id) == (num != 0)); break;
    case WANT_STR: break;
    }
    if (str)
        CHECK_STR(config_str(cfg, id), str);
}

static void default_case_run(const void *arg)
{
    const struct default_case *c = arg;
    env_isolate();
    struct config *cfg = config_new(CONFIG_GATEWAY);
    char err[256] = "";
    if (CHECK(cfg != NULL)) {
        /* An empty environment changes nothing. */
        CHECK(config_load_env(cfg, err, sizeof(err)) == 0);
        check_value(cfg, c->id, c->kind, c->num, c->str);
    }
    config_free(cfg);
    env_restore();
}

/* ---- environment parsing ------------------------------------------------------------- */

struct env_case {
    const char *label;
    unsigned scope;
    const char *env[4]; /* "NAME=value" assignments */
    int rc;
    const char *err_has; /* rc -1: the message names the setting */
    enum config_id id;   /* rc 0: the setting to check */
    enum want_kind kind;
    long num;
    const char *str; /* NULL: do not check the text */
};

#define GW CONFIG_GATEWAY
#define WK CONFIG_WORKER
#define PL CONFIG_POOL

/* clang-format off */
#define ENV_OK(lbl, sc, e, i, k, n, s) {lbl, sc, e, 0, NULL, i, k, n, s}
#define ENV_BAD(lbl, sc, e, has) {lbl, sc, e, -1, has, CFG_PORT, WANT_STR, 0, NULL}
#define E1(a) {a, NULL, NULL, NULL}
#define E2(a, b) {a, b, NULL, NULL}
/* clang-format on */

/* clang-format off */
static const struct env_case env_cases[] = {
    /* integers and their bounds */
    ENV_OK("PORT=8080", GW, E1("PORT=8080"), CFG_PORT, WANT_INT, 8080, "8080"),
    ENV_OK("PORT=1 (min)", GW, E1("PORT=1"), CFG_PORT, WANT_INT, 1, NULL),
    ENV_OK("PORT=65535 (max)", GW, E1("PORT=65535"), CFG_PORT, WANT_INT, 65535, NULL),
    ENV_BAD("PORT=0", GW, E1("PORT=0"), "PORT"),
    ENV_BAD("PORT=70000", GW, E1("PORT=70000"), "PORT"),
    ENV_BAD("PORT=65536", GW, E1("PORT=65536"), "PORT"),
    ENV_BAD("PORT=-1", GW, E1("PORT=-1"), "PORT"),
    ENV_BAD("PORT=abc", GW, E1("PORT=abc"), "PORT"),
    ENV_BAD("PORT= (empty)", GW, E1("PORT="), "PORT"),
    ENV_BAD("PORT=80x", GW, E1("PORT=80x"), "PORT"),
    ENV_BAD("PORT=80.5", GW, E1("PORT=80.5"), "PORT"),
    ENV_BAD("PORT=huge", GW, E1("PORT=99999999999999999999999"), "PORT"),
    ENV_BAD("PORT=abc names the range", GW, E1("PORT=abc"), "1 to 65535"),
    ENV_OK("DB_POOL_SIZE=64", GW, E1("FLOWSTATE_DB_POOL_SIZE=64"), CFG_DB_POOL_SIZE, WANT_INT,
           64, NULL),
    ENV_BAD("DB_POOL_SIZE=65", GW, E1("FLOWSTATE_DB_POOL_SIZE=65"), "FLOWSTATE_DB_POOL_SIZE"),
    ENV_OK("STATEMENT_TIMEOUT=0", GW, E1("FLOWSTATE_STATEMENT_TIMEOUT=0"),
           CFG_STATEMENT_TIMEOUT, WANT_INT, 0, NULL),
    ENV_BAD("BODY_LIMIT=255", GW, E1("FLOWSTATE_BODY_LIMIT=255"), "FLOWSTATE_BODY_LIMIT"),
    ENV_OK("BODY_LIMIT=256", GW, E1("FLOWSTATE_BODY_LIMIT=256"), CFG_BODY_LIMIT, WANT_INT, 256,
           NULL),
    /* "auto" for the integers whose default it is, and only for them */
    ENV_OK("PREFETCH=auto", WK, E1("FLOWSTATE_PREFETCH=auto"), CFG_PREFETCH, WANT_INT, CONFIG_AUTO,
           "auto"),
    ENV_OK("PREFETCH=0 pins it", WK, E1("FLOWSTATE_PREFETCH=0"), CFG_PREFETCH, WANT_INT, 0, "0"),
    ENV_OK("CLAIM_BATCH=auto", WK, E1("FLOWSTATE_CLAIM_BATCH=auto"), CFG_CLAIM_BATCH, WANT_INT,
           CONFIG_AUTO, NULL),
    ENV_OK("CLAIM_BATCH=500", WK, E1("FLOWSTATE_CLAIM_BATCH=500"), CFG_CLAIM_BATCH, WANT_INT, 500,
           NULL),
    ENV_BAD("CLAIM_BATCH=0", WK, E1("FLOWSTATE_CLAIM_BATCH=0"), "must be auto or an integer from 1 to 1000"),
    ENV_BAD("PREFETCH=Auto", WK, E1("FLOWSTATE_PREFETCH=Auto"), "FLOWSTATE_PREFETCH"),
    ENV_BAD("CONCURRENCY=auto (not its default)", WK, E1("FLOWSTATE_CONCURRENCY=auto"),
            "FLOWSTATE_CONCURRENCY"),
    /* booleans */
    ENV_OK("AUTH=on", GW, E1("FLOWSTATE_AUTH=on"), CFG_AUTH, WANT_BOOL, 1, NULL),
    ENV_OK("AUTH=off", GW, E1("FLOWSTATE_AUTH=off"), CFG_AUTH, WANT_BOOL, 0, NULL),
    ENV_OK("AUTH=true", GW, E1("FLOWSTATE_AUTH=true"), CFG_AUTH, WANT_BOOL, 1, NULL),
    ENV_OK("AUTH=false", GW, E1("FLOWSTATE_AUTH=false"), CFG_AUTH, WANT_BOOL, 0, NULL),
    ENV_OK("AUTH=1", GW, E1("FLOWSTATE_AUTH=1"), CFG_AUTH, WANT_BOOL, 1, NULL),
    ENV_OK("AUTH=0", GW, E1("FLOWSTATE_AUTH=0"), CFG_AUTH, WANT_BOOL, 0, NULL),
    ENV_OK("AUTH=yes", GW, E1("FLOWSTATE_AUTH=yes"), CFG_AUTH, WANT_BOOL, 1, NULL),
    ENV_OK("AUTH=no", GW, E1("FLOWSTATE_AUTH=no"), CFG_AUTH, WANT_BOOL, 0, NULL),
    ENV_OK("AUTH=OFF", GW, E1("FLOWSTATE_AUTH=OFF"), CFG_AUTH, WANT_BOOL, 0, NULL),
    ENV_OK("MIGRATE_ON_START=no", GW, E1("FLOWSTATE_MIGRATE_ON_START=no"), CFG_MIGRATE_ON_START,
           WANT_BOOL, 0, NULL),
    ENV_BAD("AUTH=maybe", GW, E1("FLOWSTATE_AUTH=maybe"), "FLOWSTATE_AUTH"),
    ENV_BAD("AUTH= (empty)", GW, E1("FLOWSTATE_AUTH="), "FLOWSTATE_AUTH"),
    ENV_BAD("AUTH=2", GW, E1("FLOWSTATE_AUTH=2"), "FLOWSTATE_AUTH"),
    /* choices */
    ENV_OK("LOG_LEVEL=debug", GW, E1("FLOWSTATE_LOG_LEVEL=debug"), CFG_LOG_LEVEL, WANT_STR, 0,
           "debug"),
    ENV_OK("LOG_LEVEL=warn", GW, E1("FLOWSTATE_LOG_LEVEL=warn"), CFG_LOG_LEVEL, WANT_STR, 0,
           "warn"),
    ENV_OK("LOG_LEVEL=error", GW, E1("FLOWSTATE_LOG_LEVEL=error"), CFG_LOG_LEVEL, WANT_STR, 0,
           "error"),
    ENV_BAD("LOG_LEVEL=verbose", GW, E1("FLOWSTATE_LOG_LEVEL=verbose"), "FLOWSTATE_LOG_LEVEL"),
    ENV_BAD("LOG_LEVEL=verbose lists choices", GW, E1("FLOWSTATE_LOG_LEVEL=verbose"),
            "debug|info|warn|error"),
    ENV_BAD("LOG_LEVEL= (empty)", GW, E1("FLOWSTATE_LOG_LEVEL="), "FLOWSTATE_LOG_LEVEL"),
    ENV_BAD("LOG_LEVEL=inf (prefix)", GW, E1("FLOWSTATE_LOG_LEVEL=inf"), "FLOWSTATE_LOG_LEVEL"),
    ENV_BAD("LOG_LEVEL=infos (longer)", GW, E1("FLOWSTATE_LOG_LEVEL=infos"),
            "FLOWSTATE_LOG_LEVEL"),
    ENV_BAD("LOG_LEVEL=info|warn", GW, E1("FLOWSTATE_LOG_LEVEL=info|warn"),
            "FLOWSTATE_LOG_LEVEL"),
    /* strings */
    ENV_OK("HOST=0.0.0.0", GW, E1("FLOWSTATE_HOST=0.0.0.0"), CFG_HOST, WANT_STR, 0, "0.0.0.0"),
    ENV_OK("DATABASE_URL", GW, E1("DATABASE_URL=postgresql://u:p@db/flow"), CFG_DATABASE_URL,
           WANT_STR, 0, "postgresql://u:p@db/flow"),
    /* unknown FLOWSTATE_* variables stop start-up, naming the variable */
    ENV_BAD("unknown FLOWSTATE_BOGUS", GW, E1("FLOWSTATE_BOGUS=1"), "FLOWSTATE_BOGUS"),
    ENV_BAD("unknown FLOWSTATE_PORT", GW, E1("FLOWSTATE_PORT=8080"), "FLOWSTATE_PORT"),
    ENV_BAD("unknown FLOWSTATE_AUTHX", GW, E1("FLOWSTATE_AUTHX=on"), "FLOWSTATE_AUTHX"),
    ENV_BAD("unknown, worker scope too", WK, E1("FLOWSTATE_BOGUS=1"), "FLOWSTATE_BOGUS"),
    ENV_BAD("unknown beside a valid one", GW, E2("PORT=8080", "FLOWSTATE_TYPO=x"),
            "FLOWSTATE_TYPO"),
    /* other programs' variables: accepted silently, value ignored */
    ENV_OK("worker FLOWSTATE_API_KEY ignored by gateway", GW, E1("FLOWSTATE_API_KEY=fsk_x"),
           CFG_API_KEY, WANT_STR, 0, ""),
    ENV_OK("worker BACKEND_API_URL ignored by gateway", GW, E1("BACKEND_API_URL=http://gw:1"),
           CFG_BACKEND_API_URL, WANT_STR, 0, "http://127.0.0.1:3001"),
    ENV_OK("worker reads BACKEND_API_URL", WK, E1("BACKEND_API_URL=http://gw:1"),
           CFG_BACKEND_API_URL, WANT_STR, 0, "http://gw:1"),
    ENV_OK("gateway PORT=abc ignored by worker", WK, E1("PORT=abc"), CFG_PORT, WANT_INT, 3001,
           NULL),
    ENV_OK("gateway AUTH=maybe ignored by worker", WK, E1("FLOWSTATE_AUTH=maybe"), CFG_AUTH,
           WANT_BOOL, 1, NULL),
    /* several at once */
    ENV_OK("PORT and AUTH together (PORT)", GW, E2("PORT=8080", "FLOWSTATE_AUTH=off"), CFG_PORT,
           WANT_INT, 8080, NULL),
    ENV_OK("PORT and AUTH together (AUTH)", GW, E2("PORT=8080", "FLOWSTATE_AUTH=off"), CFG_AUTH,
           WANT_BOOL, 0, NULL),
};
/* clang-format on */

static void env_case_run(const void *arg)
{
    const struct env_case *c = arg;
    env_isolate();
    for (size_t i = 0; i < COUNT_OF(c->env) && c->env[i]; i++)
        env_put(c->env[i]);
    struct config *cfg = config_new(c->scope);
    if (CHECK(cfg != NULL)) {
        char err[256] = "";
        int rc = config_load_env(cfg, err, sizeof(err));
        CHECK_LONG(rc, c->rc);
        if (c->rc == 0 && rc == 0)
            check_value(cfg, c->id, c->kind, c->num, c->str);
        if (c->rc < 0)
            CHECK_CONTAINS(err, c->err_has);
    }
    config_free(cfg);
    env_restore();
}

/* ---- flags --------------------------------------------------------------------------- */

struct flag_case {
    unsigned scope;
    const char *flag, *value;
    int rc;
    const char *err_has;
    enum config_id id;
    enum want_kind kind;
    long num;
    const char *str;
};

/* clang-format off */
#define FLAG_OK(sc, f, v, i, k, n, s) {sc, f, v, 0, NULL, i, k, n, s}
#define FLAG_BAD(sc, f, v, rc, has) {sc, f, v, rc, has, CFG_PORT, WANT_STR, 0, NULL}
/* clang-format on */

/* clang-format off */
static const struct flag_case flag_cases[] = {
    FLAG_OK(GW, "port", "8080", CFG_PORT, WANT_INT, 8080, "8080"),
    FLAG_BAD(GW, "port", "70000", -1, "--port"),
    FLAG_BAD(GW, "port", "abc", -1, "--port"),
    FLAG_BAD(GW, "port", "", -1, "--port"),
    FLAG_OK(GW, "db-pool-size", "64", CFG_DB_POOL_SIZE, WANT_INT, 64, NULL),
    FLAG_BAD(GW, "db-pool-size", "0", -1, "--db-pool-size"),
    FLAG_OK(GW, "auth", "off", CFG_AUTH, WANT_BOOL, 0, NULL),
    FLAG_OK(GW, "auth", "yes", CFG_AUTH, WANT_BOOL, 1, NULL),
    FLAG_BAD(GW, "auth", "maybe", -1, "--auth"),
    FLAG_OK(GW, "log-level", "debug", CFG_LOG_LEVEL, WANT_STR, 0, "debug"),
    FLAG_BAD(GW, "log-level", "verbose", -1, "--log-level"),
    FLAG_OK(GW, "database-url", "host=db", CFG_DATABASE_URL, WANT_STR, 0, "host=db"),
    FLAG_BAD(GW, "nope", "1", -2, "nope"),
    FLAG_BAD(GW, "PORT", "1", -2, "PORT"),
    FLAG_BAD(GW, "--port", "1", -2, "port"),
    FLAG_BAD(GW, "", "1", -2, "--"),
    /* worker-only flags are not the gateway's, and the other way round */
    FLAG_BAD(GW, "backend-api-url", "http://x", -2, "backend-api-url"),
    FLAG_BAD(GW, "api-key", "fsk_x", -2, "api-key"),
    FLAG_OK(WK, "backend-api-url", "http://x", CFG_BACKEND_API_URL, WANT_STR, 0, "http://x"),
    FLAG_BAD(WK, "port", "8080", -2, "port"),
    FLAG_OK(WK, "log-level", "warn", CFG_LOG_LEVEL, WANT_STR, 0, "warn"),
};
/* clang-format on */

static void flag_case_run(const void *arg)
{
    const struct flag_case *c = arg;
    struct config *cfg = config_new(c->scope);
    REQUIRE(cfg != NULL);
    char err[256] = "";
    int rc = config_set_flag(cfg, c->flag, c->value, err, sizeof(err));
    CHECK_LONG(rc, c->rc);
    if (c->rc == 0 && rc == 0)
        check_value(cfg, c->id, c->kind, c->num, c->str);
    if (c->rc < 0)
        CHECK_CONTAINS(err, c->err_has);
    config_free(cfg);
}

/* A bad value leaves the previous one in place. */
static void flag_bad_value_keeps_old(const void *arg)
{
    (void)arg;
    struct config *cfg = config_new(GW);
    REQUIRE(cfg != NULL);
    char err[256];
    CHECK(config_set_flag(cfg, "port", "8080", err, sizeof(err)) == 0);
    CHECK(config_set_flag(cfg, "port", "0", err, sizeof(err)) == -1);
    CHECK_LONG(config_int(cfg, CFG_PORT), 8080);
    CHECK_STR(config_str(cfg, CFG_PORT), "8080");
    config_free(cfg);
}

/* cli_flag over a whole command line, as the programs loop: the mode the line asks for, the
 * port it sets, or where it fails. */
static const struct cli_case {
    const char *label;
    bool version;        /* whether the program has --version */
    const char *argv[5]; /* after the program name; NULL-terminated */
    int rc, mode;
    long port; /* 0: not checked */
} cli_cases[] = {
    {"nothing", true, {NULL}, 0, CLI_RUN, 3001},
    {"--help", true, {"--help", NULL}, 0, CLI_HELP, 0},
    {"-h", true, {"-h", NULL}, 0, CLI_HELP, 0},
    {"--version", true, {"--version", NULL}, 0, CLI_VERSION, 0},
    {"--version without one", false, {"--version", NULL}, -1, CLI_RUN, 0},
    {"--show-config", true, {"--show-config", NULL}, 0, CLI_SHOW_CONFIG, 0},
    {"the last mode wins", true, {"--show-config", "--help", "--version", NULL}, 0, CLI_VERSION, 0},
    {"a setting with its value apart",
     true,
     {"--port", "8080", "--show-config", NULL},
     0,
     CLI_SHOW_CONFIG,
     8080},
    {"a setting with =", true, {"--port=8081", NULL}, 0, CLI_RUN, 8081},
    {"a bad setting", true, {"--port=0", "--help", NULL}, -1, CLI_RUN, 3001},
    {"an unknown setting", true, {"--no-such-setting=1", NULL}, -1, CLI_RUN, 0},
    {"a bare argument", true, {"--help", "serve", NULL}, -1, CLI_HELP, 0},
};

static void cli_case_run(const void *arg)
{
    const struct cli_case *c = arg;
    struct config *cfg = config_new(GW);
    REQUIRE(cfg != NULL);
    char args[6][32] = {"flowstate-test"}, *argv[6] = {args[0]};
    int argc = 1;
    for (; c->argv[argc - 1]; argc++) {
        snprintf(args[argc], sizeof(args[argc]), "%s", c->argv[argc - 1]);
        argv[argc] = args[argc];
    }
    /* the failures print their message to stderr: keep it out of the test's output */
    fflush(stderr);
    int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
    dup2(null, STDERR_FILENO);
    int mode = CLI_RUN, rc = 0;
    for (int i = 1; i < argc && rc == 0; i++)
        rc = cli_flag(cfg, "flowstate-test", c->version, argc, argv, &i, &mode);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(null);
    CHECK_LONG(rc, c->rc);
    CHECK_LONG(mode, c->mode);
    if (c->port)
        CHECK_LONG(config_int(cfg, CFG_PORT), c->port);
    config_free(cfg);
}

/* Flags are applied after the environment and win over it. */
static void flag_wins_over_env(const void *arg)
{
    (void)arg;
    env_isolate();
    setenv("PORT", "4000", 1);
    struct config *cfg = config_new(GW);
    if (CHECK(cfg != NULL)) {
        char err[256];
        CHECK(config_load_env(cfg, err, sizeof(err)) == 0);
        CHECK_LONG(config_int(cfg, CFG_PORT), 4000);
        CHECK(config_set_flag(cfg, "port", "5000", err, sizeof(err)) == 0);
        CHECK_LONG(config_int(cfg, CFG_PORT), 5000);
    }
    config_free(cfg);
    env_restore();
}

struct bool_flag_case {
    unsigned scope;
    const char *flag;
    bool want;
};

/* clang-format off */
static const struct bool_flag_case bool_flag_cases[] = {
    {GW, "auth", true},          {GW, "migrate-on-start", true}, {GW, "port", false},
    {GW, "log-level", false},    {GW, "database-url", false},    {GW, "nope", false},
    {GW, "api-key", false},      {WK, "auth", false},
};
/* clang-format on */

static void bool_flag_case_run(const void *arg)
{
    const struct bool_flag_case *c = arg;
    struct config *cfg = config_new(c->scope);
    REQUIRE(cfg != NULL);
    CHECK(config_flag_is_bool(cfg, c->flag) == c->want);
    config_free(cfg);
}

/* ---- --show-config ------------------------------------------------------------------- */

/* Runs config_show on a config of scope after loading env, into a malloc'd string. */
static char *show_with_env(unsigned scope, const char *const *env, size_t nenv)
{
    env_isolate();
    for (size_t i = 0; i < nenv; i++)
        env_put(env[i]);
    char *text = NULL;
    size_t size = 0;
    struct config *cfg = config_new(scope);
    char err[256] = "";
    if (cfg && config_load_env(cfg, err, sizeof(err)) == 0) {
        FILE *f = open_memstream(&text, &size);
        if (f) {
            config_show(cfg, f);
            fclose(f);
        }
    }
    config_free(cfg);
    env_restore();
    return text;
}

struct show_case {
    const char *label;
    unsigned scope;
    const char *env;
    const char *want_line; /* a whole line, with its newline */
    const char *secret;    /* must not appear anywhere; NULL: nothing to hide */
};

/* clang-format off */
static const struct show_case show_cases[] = {
    {"URL password redacted", GW, "DATABASE_URL=postgresql://flow:s3cret@db:5432/flowstate",
     "DATABASE_URL=postgresql://flow:***@db:5432/flowstate\n", "s3cret"},
    {"conninfo password redacted", GW, "DATABASE_URL=host=db password=s3cret dbname=flow",
     "DATABASE_URL=host=db password=*** dbname=flow\n", "s3cret"},
    {"URL query password redacted", GW,
     "DATABASE_URL=postgresql://flow@db/flowstate?password=s3cret&sslmode=require",
     "DATABASE_URL=postgresql://flow@db/flowstate?password=***&sslmode=require\n", "s3cret"},
    {"URL without password shown whole", GW, "DATABASE_URL=postgresql://flow@db/flowstate",
     "DATABASE_URL=postgresql://flow@db/flowstate\n", NULL},
    {"defaults shown", GW, "PORT=3001", "PORT=3001\n", NULL},
    {"auth shown as set", GW, "FLOWSTATE_AUTH=off", "FLOWSTATE_AUTH=off\n", NULL},
    {"worker API key hidden", WK, "FLOWSTATE_API_KEY=fsk_topsecretkey",
     "FLOWSTATE_API_KEY=***\n", "topsecret"},
    {"worker URL password redacted", WK, "DATABASE_URL=postgres://w:pw12345@db/f",
     "DATABASE_URL=postgres://w:***@db/f\n", "pw12345"},
};
/* clang-format on */

static void show_case_run(const void *arg)
{
    const struct show_case *c = arg;
    char *text = show_with_env(c->scope, &c->env, 1);
    REQUIRE(text != NULL);
    CHECK_CONTAINS(text, c->want_line);
    if (c->secret)
        CHECK_LACKS(text, c->secret);
    free(text);
}

/* The gateway shows only its own settings; an unset key shows empty, not "***". */
static void show_scope(const void *arg)
{
    (void)arg;
    char *gw = show_with_env(GW, NULL, 0);
    char *wk = show_with_env(WK, NULL, 0);
    if (CHECK(gw != NULL) && CHECK(wk != NULL)) {
        CHECK(strncmp(gw, "FLOWSTATE_HOST=127.0.0.1\nPORT=3001\n", 35) == 0);
        CHECK_LACKS(gw, "BACKEND_API_URL");
        CHECK_LACKS(gw, "FLOWSTATE_API_KEY");
        CHECK_CONTAINS(gw, "\nDATABASE_URL=\n");
        CHECK_CONTAINS(wk, "\nFLOWSTATE_API_KEY=\n");
        CHECK_CONTAINS(wk, "BACKEND_API_URL=http://127.0.0.1:3001\n");
        CHECK_LACKS(wk, "PORT=");
    }
    free(gw);
    free(wk);
}

/* ---- --help -------------------------------------------------------------------------- */

struct setting_row {
    const char *flag, *env, *def;
    unsigned scope;
};

/* Every setting, as the --help of each program must list it. */
/* clang-format off */
static const struct setting_row settings[] = {
    {"host", "FLOWSTATE_HOST", "127.0.0.1", GW},
    {"port", "PORT", "3001", GW},
    {"database-url", "DATABASE_URL", "none", GW | WK | PL},
    {"db-pool-size", "FLOWSTATE_DB_POOL_SIZE", "4", GW},
    {"db-queue-max", "FLOWSTATE_DB_QUEUE_MAX", "10000", GW},
    {"db-wait", "FLOWSTATE_DB_WAIT", "30", GW | WK},
    {"statement-timeout", "FLOWSTATE_STATEMENT_TIMEOUT", "30000", GW},
    {"migrate-on-start", "FLOWSTATE_MIGRATE_ON_START", "on", GW},
    {"auth", "FLOWSTATE_AUTH", "on", GW},
    {"key-cache-ttl", "FLOWSTATE_KEY_CACHE_TTL", "30", GW},
    {"key-cache-max", "FLOWSTATE_KEY_CACHE_MAX", "1000", GW},
    {"key-cache-unknown-max", "FLOWSTATE_KEY_CACHE_UNKNOWN_MAX", "10000", GW},
    {"body-limit", "FLOWSTATE_BODY_LIMIT", "1048576", GW},
    {"response-budget", "FLOWSTATE_RESPONSE_BUDGET", "4194304", GW},
    {"http-timeout", "FLOWSTATE_HTTP_TIMEOUT", "60", GW},
    {"batch-max", "FLOWSTATE_BATCH_MAX", "1000", GW},
    {"batch-inflight", "FLOWSTATE_BATCH_INFLIGHT", "1", GW},
    {"shutdown-timeout", "FLOWSTATE_SHUTDOWN_TIMEOUT", "30", GW | WK},
    {"log-level", "FLOWSTATE_LOG_LEVEL", "info", GW | WK | PL},
    {"backend-api-url", "BACKEND_API_URL", "http://127.0.0.1:3001", WK},
    {"api-key", "FLOWSTATE_API_KEY", "none", WK},
    {"retry-base-ms", "FLOWSTATE_RETRY_BASE_MS", "1000", GW},
    {"retry-max-ms", "FLOWSTATE_RETRY_MAX_MS", "300000", GW},
    {"sweep-interval-ms", "FLOWSTATE_SWEEP_INTERVAL_MS", "1000", GW},
    {"retention", "FLOWSTATE_RETENTION", "604800", GW},
    {"wait-max", "FLOWSTATE_WAIT_MAX", "300", GW},
    {"waiters-max", "FLOWSTATE_WAITERS_MAX", "10000", GW},
    {"waiters-per-key", "FLOWSTATE_WAITERS_PER_KEY", "1000", GW},
    {"event-retention", "FLOWSTATE_EVENT_RETENTION", "600", GW},
    {"event-heartbeat", "FLOWSTATE_EVENT_HEARTBEAT", "15", GW},
    {"event-poll-ms", "FLOWSTATE_EVENT_POLL_MS", "1000", GW},
    {"event-buffer-max", "FLOWSTATE_EVENT_BUFFER_MAX", "1048576", GW},
    {"event-subscribers-max", "FLOWSTATE_EVENT_SUBSCRIBERS_MAX", "10000", GW},
    {"event-subscribers-per-key", "FLOWSTATE_EVENT_SUBSCRIBERS_PER_KEY", "1000", GW},
    {"max-connections", "FLOWSTATE_MAX_CONNECTIONS", "0", GW},
    {"head-timeout", "FLOWSTATE_HEAD_TIMEOUT", "10", GW},
    {"body-min-rate", "FLOWSTATE_BODY_MIN_RATE", "1024", GW},
    {"embed-provider", "FLOWSTATE_EMBED_PROVIDER", "local", GW},
    {"embed-url", "FLOWSTATE_EMBED_URL", "none", GW},
    {"embed-model", "FLOWSTATE_EMBED_MODEL", "none", GW},
    {"embed-api-key", "FLOWSTATE_EMBED_API_KEY", "none", GW},
    {"embed-dims", "FLOWSTATE_EMBED_DIMS", "0", GW},
    {"embed-timeout-ms", "FLOWSTATE_EMBED_TIMEOUT_MS", "10000", GW},
    {"hybrid-keyword-weight", "FLOWSTATE_HYBRID_KEYWORD_WEIGHT", "1", GW},
    {"hybrid-semantic-weight", "FLOWSTATE_HYBRID_SEMANTIC_WEIGHT", "1", GW},
    {"cluster-max-docs", "FLOWSTATE_CLUSTER_MAX_DOCS", "2000", GW},
    {"vector-cache", "FLOWSTATE_VECTOR_CACHE", "on", GW},
    {"vector-cache-max", "FLOWSTATE_VECTOR_CACHE_MAX", "1000000", GW},
    {"work-threads", "FLOWSTATE_WORK_THREADS", "0", GW},
    {"work-queue-max", "FLOWSTATE_WORK_QUEUE_MAX", "16", GW},
    {"work-scan-min", "FLOWSTATE_WORK_SCAN_MIN", "20000", GW},
    {"concurrency", "FLOWSTATE_CONCURRENCY", "16", WK},
    {"claim-batch", "FLOWSTATE_CLAIM_BATCH", "auto", WK},
    {"prefetch", "FLOWSTATE_PREFETCH", "auto", WK},
    {"poll-interval-ms", "FLOWSTATE_POLL_INTERVAL_MS", "1000", WK},
    {"lease", "FLOWSTATE_LEASE", "30", WK},
    {"heartbeat", "FLOWSTATE_HEARTBEAT", "10", WK},
    {"report-batch", "FLOWSTATE_REPORT_BATCH", "500", WK},
    {"alert-webhooks", "FLOWSTATE_ALERT_WEBHOOKS", "none", WK},
    {"llm-provider", "FLOWSTATE_LLM_PROVIDER", "off", WK},
    {"llm-url", "FLOWSTATE_LLM_URL", "none", WK},
    {"llm-model", "FLOWSTATE_LLM_MODEL", "none", WK},
    {"llm-api-key", "FLOWSTATE_LLM_API_KEY", "none", WK},
    {"llm-timeout-ms", "FLOWSTATE_LLM_TIMEOUT_MS", "30000", WK},
    {"agents", "FLOWSTATE_AGENTS",
     "code_analyzer=1,data_processor=1,coordinator=1,learning=1,monitoring=1", PL},
    {"agents-file", "FLOWSTATE_AGENTS_FILE", "none", PL},
    {"agent-dir", "FLOWSTATE_AGENT_DIR", "none", PL},
    {"stop-timeout", "FLOWSTATE_STOP_TIMEOUT", "45", PL},
    {"respawn-max-ms", "FLOWSTATE_RESPAWN_MAX_MS", "30000", PL},
};
/* clang-format on */

static char *help_text(unsigned scope)
{
    struct config *cfg = config_new(scope);
    if (!cfg)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (f) {
        config_print_help(cfg, f);
        fclose(f);
    }
    config_free(cfg);
    return text;
}

/* The "--flag ENV" head of a setting's block (flag and env padded as --help prints them). */
static void help_head(const struct setting_row *s, char *buf, size_t len)
{
    snprintf(buf, len, "  --%-20s %-28s ", s->flag, s->env);
}

static void help_case_run(const void *arg)
{
    const struct setting_row *s = arg;
    char *gw = help_text(GW), *wk = help_text(WK), *pl = help_text(PL);
    if (CHECK(gw != NULL) && CHECK(wk != NULL) && CHECK(pl != NULL)) {
        char head[128], def[160];
        help_head(s, head, sizeof(head));
        snprintf(def, sizeof(def), "(default: %s)\n", s->def);
        if (s->scope & GW)
            CHECK_CONTAINS(gw, head);
        else
            CHECK_LACKS(gw, head);
        if (s->scope & WK)
            CHECK_CONTAINS(wk, head);
        else
            CHECK_LACKS(wk, head);
        if (s->scope & PL)
            CHECK_CONTAINS(pl, head);
        else
            CHECK_LACKS(pl, head);
        /* The default follows on the setting's help line. */
        const char *block = strstr((s->scope & GW) ? gw : (s->scope & WK) ? wk : pl, head);
        if (CHECK(block != NULL)) {
            const char *nl = strchr(block, '\n');
            CHECK(nl != NULL && strstr(nl + 1, def) != NULL &&
                  strchr(nl + 1, '\n') == strstr(nl + 1, def) + strlen(def) - 1);
        }
    }
    free(gw);
    free(wk);
    free(pl);
}

/* Exactly one block (two lines) per gateway setting after the heading. */
static void help_block_count(const void *arg)
{
    (void)arg;
    char *gw = help_text(GW);
    REQUIRE(gw != NULL);
    size_t lines = 0, want = 0;
    for (const char *p = gw; *p; p++)
        lines += *p == '\n';
    for (size_t i = 0; i < COUNT_OF(settings); i++)
        want += (settings[i].scope & GW) != 0;
    CHECK_LONG(lines, 1 + 2 * want);
    CHECK(strncmp(gw, "Settings", 8) == 0);
    free(gw);
}

/* The Markdown table has a row for every setting. */
static void markdown_rows(const void *arg)
{
    (void)arg;
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    REQUIRE(f != NULL);
    config_print_markdown(f);
    fclose(f);
    REQUIRE(text != NULL);
    for (size_t i = 0; i < COUNT_OF(settings); i++) {
        char cell[96];
        snprintf(cell, sizeof(cell), "| `%s` | `--%s` |", settings[i].env, settings[i].flag);
        CHECK_CONTAINS(text, cell);
    }
    CHECK_CONTAINS(text, "debug/info/warn/error"); /* no bare | inside a cell */
    CHECK_CONTAINS(text, "| gateway, workers, pool |");
    CHECK_CONTAINS(text, "| workers |");
    free(text);
}

/* ---- registration -------------------------------------------------------------------- */

void register_config_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(default_cases); i++)
        test_addf(default_case_run, &default_cases[i], "config default %s", default_cases[i].label);
    for (size_t i = 0; i < COUNT_OF(env_cases); i++)
        test_addf(env_case_run, &env_cases[i], "config env %s", env_cases[i].label);
    for (size_t i = 0; i < COUNT_OF(flag_cases); i++)
        test_addf(flag_case_run, &flag_cases[i], "config flag %s --%s=%s",
                  flag_cases[i].scope == GW ? "gateway" : "worker", flag_cases[i].flag,
                  flag_cases[i].value);
    test_add("config flag bad value keeps the old one", flag_bad_value_keeps_old, NULL);
    test_add("config flag wins over env", flag_wins_over_env, NULL);
    for (size_t i = 0; i < COUNT_OF(cli_cases); i++)
        test_addf(cli_case_run, &cli_cases[i], "cli flags: %s", cli_cases[i].label);
    for (size_t i = 0; i < COUNT_OF(bool_flag_cases); i++)
        test_addf(bool_flag_case_run, &bool_flag_cases[i], "config flag_is_bool %s %s",
                  bool_flag_cases[i].scope == GW ? "gateway" : "worker", bool_flag_cases[i].flag);
    for (size_t i = 0; i < COUNT_OF(show_cases); i++)
        test_addf(show_case_run, &show_cases[i], "config show %s", show_cases[i].label);
    test_add("config show lists only the program's settings", show_scope, NULL);
    for (size_t i = 0; i < COUNT_OF(settings); i++)
        test_addf(help_case_run, &settings[i], "config help lists --%s", settings[i].flag);
    test_add("config help has one block per gateway setting", help_block_count, NULL);
    test_add("config markdown has a row per setting", markdown_rows, NULL);
}
