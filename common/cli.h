/* cli — the command-line conventions every Flowstate program shares: settings as
 * "--name value" or "--name=value" flags over the config table, bare boolean flags, and
 * usage errors that name the flag. */
#ifndef FLOWSTATE_CLI_H
#define FLOWSTATE_CLI_H

#include <stdbool.h>

struct config;

/* What a command line asks a program to do. A program with modes of its own (the gateway's
 * --migrate) numbers them from CLI_OWN_MODES up, in the same int. */
enum cli_mode { CLI_RUN, CLI_HELP, CLI_VERSION, CLI_SHOW_CONFIG, CLI_OWN_MODES };

/* Exit code for bad flags or settings (as in BSD sysexits' EX_USAGE spirit: "fix the call"). */
#define CLI_EXIT_USAGE 2

/* Applies the setting flag at argv[*i] ("--name", "--name=value" or "--name value"; a
 * boolean alone means on) to cfg, advancing *i past a separate value. Returns 0, or -1
 * having printed "prog: message" to stderr. */
int cli_setting_flag(struct config *cfg, const char *prog, int argc, char **argv, int *i);

/* Reads argv[*i] as every program reads an argument it has no flag of its own for: --help or
 * -h, --version (when version is true) and --show-config set *mode (the last one given wins);
 * any other "--" argument is a setting flag (cli_setting_flag). Returns 0, or -1 having
 * printed "prog: message" to stderr (a bad setting flag, or an argument that is no flag). */
int cli_flag(struct config *cfg, const char *prog, bool version, int argc, char **argv, int *i,
             int *mode);

/* Does what CLI_VERSION or CLI_SHOW_CONFIG asks: prints "prog VERSION", or the effective
 * settings, to stdout. Returns whether mode was one of them (the program then exits 0). */
bool cli_print_info(const struct config *cfg, const char *prog, int mode);

/* Sets the log level from cfg's FLOWSTATE_LOG_LEVEL (already validated by the table). */
void cli_apply_log_level(const struct config *cfg);

#endif
