/* flowstate-gateway — command line: settings from the environment and flags, the
 * one-shot modes (--migrate, --create-key, --show-config, --help) and serving. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/apikey.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/log.h"
#include "common/migrate.h"
#include "gateway/db/queries.h"
#include "gateway/gateway.h"

#define EXIT_USAGE CLI_EXIT_USAGE

static void usage(const struct config *cfg, FILE *out)
{
    fprintf(out,
            "Usage: flowstate-gateway [MODE] [--setting VALUE ...]\n"
            "\n"
            "The Flowstate REST gateway: agents, jobs and documents over HTTP/JSON,\n"
            "stored in PostgreSQL (DATABASE_URL).\n"
            "\n"
            "Modes (default: serve):\n"
            "  --migrate             apply pending database migrations and exit\n"
            "  --create-key ROLE     create an API key (admin, operator, agent, viewer); the key\n"
            "                        is printed alone on the last line of stdout\n"
            "  --key-name NAME       a label for --create-key\n"
            "  --show-config         print the effective settings (secrets redacted) and exit\n"
            "  --config-markdown     print the settings table as Markdown and exit\n"
            "  --version             print the version and exit\n"
            "  --help                this text\n"
            "\n");
    config_print_help(cfg, out);
}

/* Opens a blocking connection and applies migrations; for the one-shot modes and start-up,
 * before any event loop exists. NULL on failure (logged). */
static PGconn *connect_and_migrate(const struct config *cfg)
{
    char err[1024];
    PGconn *conn = migrate_connect(config_str(cfg, CFG_DATABASE_URL),
                                   (int)config_int(cfg, CFG_DB_WAIT), err, sizeof(err));
    char quoted[1100];
    if (!conn) {
        log_error("msg=\"cannot connect to the database\" error=%s",
                  log_quote(err, quoted, sizeof(quoted)));
        return NULL;
    }
    if (migrate_apply(conn, err, sizeof(err)) < 0) {
        log_error("msg=\"migration failed\" error=%s", log_quote(err, quoted, sizeof(quoted)));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

static int create_key(const struct config *cfg, const char *role_name, const char *label)
{
    enum role role;
    if (apikey_role_parse(role_name, &role) < 0) {
        fprintf(
            stderr,
            "flowstate-gateway: --create-key: unknown role '%s' (admin, operator, agent, viewer)\n",
            role_name);
        return EXIT_USAGE;
    }
    PGconn *conn = connect_and_migrate(cfg);
    if (!conn)
        return 1;
    char key[APIKEY_LEN + 1], hash[APIKEY_HASH_HEX_LEN + 1], prefix[APIKEY_SHOWN_PREFIX_LEN + 1];
    if (apikey_generate(key) < 0) {
        log_error("msg=\"no randomness available\"");
        PQfinish(conn);
        return 1;
    }
    apikey_hash(key, strlen(key), hash);
    apikey_shown_prefix(key, prefix);
    const char *params[4] = {label, role_name, hash, prefix};
    PGresult *res = PQexecParams(conn, queries[Q_KEY_INSERT].sql, 4, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char quoted[512];
        log_error("msg=\"cannot store the key\" error=%s",
                  log_quote(PQresultErrorMessage(res), quoted, sizeof(quoted)));
        rc = 1;
    } else {
        fprintf(stderr, "created %s key %s… (%s)\n", role_name, prefix,
                label[0] ? label : "no name");
        printf("%s\n", key);
        fflush(stdout);
    }
    PQclear(res);
    PQfinish(conn);
    return rc;
}

static int serve(const struct config *cfg)
{
    if (config_bool(cfg, CFG_MIGRATE_ON_START)) {
        PGconn *conn = connect_and_migrate(cfg);
        if (!conn)
            return 1;
        PQfinish(conn);
    }
    struct gateway gw;
    int rc = 1;
    if (gateway_open(&gw, cfg) == 0)
        rc = gateway_run(&gw);
    gateway_close(&gw);
    return rc;
}

int main(int argc, char **argv)
{
    enum { MIGRATE = CLI_OWN_MODES, CREATE_KEY, MARKDOWN };
    int mode = CLI_RUN;
    const char *role = NULL, *label = "";
    char err[512];
    int rc = 1;
    struct config *cfg = config_new(CONFIG_GATEWAY);
    if (!cfg) {
        fprintf(stderr, "flowstate-gateway: out of memory\n");
        return 1;
    }
    if (config_load_env(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "flowstate-gateway: %s\n", err);
        rc = EXIT_USAGE;
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--migrate")) {
            mode = MIGRATE;
        } else if (!strcmp(arg, "--config-markdown")) {
            mode = MARKDOWN;
        } else if (!strcmp(arg, "--create-key") || !strcmp(arg, "--key-name")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "flowstate-gateway: %s needs a value\n", arg);
                rc = EXIT_USAGE;
                goto done;
            }
            if (!strcmp(arg, "--create-key")) {
                mode = CREATE_KEY;
                role = argv[++i];
            } else {
                label = argv[++i];
            }
        } else if (cli_flag(cfg, "flowstate-gateway", true, argc, argv, &i, &mode) < 0) {
            rc = EXIT_USAGE;
            goto done;
        }
    }

    cli_apply_log_level(cfg);

    if (mode == CLI_HELP) {
        usage(cfg, stdout);
        rc = 0;
        goto done;
    }
    if (cli_print_info(cfg, "flowstate-gateway", mode)) {
        rc = 0;
        goto done;
    }
    if (mode == MARKDOWN) {
        config_print_markdown(stdout);
        rc = 0;
        goto done;
    }
    if (!config_str(cfg, CFG_DATABASE_URL)[0]) {
        fprintf(stderr,
                "flowstate-gateway: DATABASE_URL is required (e.g. postgresql://user@host/db)\n");
        rc = EXIT_USAGE;
        goto done;
    }
    switch (mode) {
    case MIGRATE: {
        PGconn *conn = connect_and_migrate(cfg);
        rc = conn ? 0 : 1;
        PQfinish(conn);
        break;
    }
    case CREATE_KEY: rc = create_key(cfg, role, label); break;
    default: rc = serve(cfg); break;
    }
done:
    config_free(cfg);
    return rc;
}
