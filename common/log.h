/* log — one line per event on stderr, in logfmt (ts=… level=… msg=… key=value).
 * Callers pass the key=value tail; values that may hold spaces or quotes go
 * through log_quote(). Secrets never reach the log: URLs go through
 * log_redact_url() and Authorization headers are never logged. */
#ifndef FLOWSTATE_LOG_H
#define FLOWSTATE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug", "info", "warn" or "error". Returns 0, or -1 for anything else. */
int log_level_parse(const char *name, enum log_level *out);

/* Writes "ts=… level=… " followed by the formatted tail and a newline, in one write. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_get_level() <= LOG_DEBUG)                                                          \
            log_msg(LOG_DEBUG, __VA_ARGS__);                                                       \
    } while (0)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Writes s as a double-quoted logfmt value into buf (escaping quotes, backslashes and
 * control characters; truncating to fit). Returns buf. */
const char *log_quote(const char *s, char *buf, size_t len);

/* Copies url into buf with any password replaced by "***"
 * ("postgresql://u:secret@h/db" -> "postgresql://u:***@h/db", and "password=…" in
 * key=value conninfo strings). Returns buf. */
const char *log_redact_url(const char *url, char *buf, size_t len);

#endif
