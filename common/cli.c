/* cli — the shared command-line flags over the config table (see cli.h). */
#include "common/cli.h"

#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/version.h"

int cli_setting_flag(struct config *cfg, const char *prog, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    char name[64], err[512];
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    snprintf(name, sizeof(name), "%.*s", (int)len, arg + 2);
    const char *value = eq ? eq + 1 : NULL;
    if (!value && config_flag_is_bool(cfg, name) &&
        (*i + 1 >= argc || !strncmp(argv[*i + 1], "--", 2)))
        value = "on";
    if (!value && *i + 1 < argc)
        value = argv[++*i];
    if (!value) {
        fprintf(stderr, "%s: --%s needs a value\n", prog, name);
        return -1;
    }
    if (config_set_flag(cfg, name, value, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    return 0;
}

int cli_flag(struct config *cfg, const char *prog, bool version, int argc, char **argv, int *i,
             int *mode)
{
    const char *arg = argv[*i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
        *mode = CLI_HELP;
    } else if (version && !strcmp(arg, "--version")) {
        *mode = CLI_VERSION;
    } else if (!strcmp(arg, "--show-config")) {
        *mode = CLI_SHOW_CONFIG;
    } else if (!strncmp(arg, "--", 2)) {
        return cli_setting_flag(cfg, prog, argc, argv, i);
    } else {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, arg);
        return -1;
    }
    return 0;
}

bool cli_print_info(const struct config *cfg, const char *prog, int mode)
{
    if (mode == CLI_VERSION)
        printf("%s " FLOWSTATE_VERSION "\n", prog);
    else if (mode == CLI_SHOW_CONFIG)
        config_show(cfg, stdout);
    else
        return false;
    return true;
}

void cli_apply_log_level(const struct config *cfg)
{
    enum log_level level = LOG_INFO;
    if (log_level_parse(config_str(cfg, CFG_LOG_LEVEL), &level) == 0)
        log_set_level(level);
}
