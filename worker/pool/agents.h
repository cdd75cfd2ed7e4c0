/* agents — the agents the pool can run and the list saying how many processes of each:
 * "code_analyzer=2,data_processor=1" (from --agents, or one entry per line in
 * --agents-file, with # comments), and where each agent's executable lives. */
#ifndef FLOWSTATE_POOL_AGENTS_H
#define FLOWSTATE_POOL_AGENTS_H

#include <stdbool.h>
#include <stddef.h>

enum agent_id {
    AGENT_CODE_ANALYZER,
    AGENT_DATA_PROCESSOR,
    AGENT_COORDINATOR,
    AGENT_LEARNING,
    AGENT_MONITORING,
    AGENT__COUNT
};

/* Most processes of one agent (counts run from 0 to this). */
#define AGENTS_MAX_COUNT 64

/* Process counts per agent; an agent missing from the list counts 0. */
struct agents {
    int count[AGENT__COUNT];
};

/* The agent's name ("code_analyzer"), which is also its executable's name. */
const char *agents_name(enum agent_id id);

/* Parses a list: entries "name=count" separated by commas or newlines, spaces around
 * them ignored, "#" starting a comment up to the end of the line, empty entries skipped.
 * Fails on an unknown name, a count outside 0..AGENTS_MAX_COUNT, an agent listed twice,
 * an entry without "=count", or a list with no entry at all. Returns 0, or -1 with a
 * message quoting the bad entry in err (plus its line when the text has several). out is
 * written only on success. */
int agents_parse(const char *text, struct agents *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Reads and parses a list file (at most 64 KiB). Returns 0, or -1 with a message in err
 * (the file's path is left to the caller). out is written only on success. */
int agents_read_file(const char *path, struct agents *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Writes "code_analyzer=2,data_processor=1" (agents with a count above 0; "none" when
 * every count is 0) into buf. Returns buf. */
const char *agents_format(const struct agents *a, char *buf, size_t len);

/* Total number of processes the list asks for. */
int agents_total(const struct agents *a);

/* Writes "<dir>/<name>" into buf. Returns 0, or -1 when it does not fit. */
int agents_path(const char *dir, enum agent_id id, char *buf, size_t len)
    __attribute__((warn_unused_result));

/* Checks that every agent with a count above 0 has an executable regular file in dir.
 * Returns 0, or -1 with a message naming the first missing path in err. */
int agents_check_executables(const char *dir, const struct agents *a, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
