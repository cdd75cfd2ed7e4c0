/* cli — the command-line conventions every Flowstate program shares: settings as
 * "--name value" or "--name=value" flags over the config table, bare boolean flags, and
 * usage errors that name the flag. */
#ifndef FLOWSTATE_CLI_H
#define FLOWSTATE_CLI_H

struct config;

/* Exit code for bad flags or settings (as in BSD sysexits' EX_USAGE spirit: "fix the call"). */
#define CLI_EXIT_USAGE 2

/* Applies the setting flag at argv[*i] ("--name", "--name=value" or "--name value"; a
 * boolean alone means on) to cfg, advancing *i past a separate value. Returns 0, or -1
 * having printed "prog: message" to stderr. */
int cli_setting_flag(struct config *cfg, const char *prog, int argc, char **argv, int *i);

/* Sets the log level from cfg's FLOWSTATE_LOG_LEVEL (already validated by the table). */
void cli_apply_log_level(const struct config *cfg);

#endif
