/* isotime — strict ISO 8601 timestamps with a zone ("2030-01-01T00:00:00Z",
 * "2030-01-01T09:30:00.250+02:00"), validated in C so a bad value is a 400 naming the
 * field, never a database error inside a group-commit batch. */
#ifndef FLOWSTATE_ISOTIME_H
#define FLOWSTATE_ISOTIME_H

/* Parses s into seconds since the Unix epoch (with fraction). Returns 0, or -1 when s is
 * not a valid timestamp with a zone (date and time must exist: no month 13, no Feb 30). */
int isotime_parse(const char *s, double *epoch);

#define ISOTIME_LEN 32
/* Writes the current UTC time with milliseconds ("2030-01-01T00:00:00.123Z") into buf
 * (ISOTIME_LEN bytes). Returns buf. */
char *isotime_now(char buf[ISOTIME_LEN]);
/* The same for the time ts (years 0 to 9999). */
struct timespec;
char *isotime_format(const struct timespec *ts, char buf[ISOTIME_LEN]);

#endif
