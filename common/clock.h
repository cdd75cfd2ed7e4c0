/* clock — the one monotonic clock every process reads for timeouts, deadlines, intervals
 * and durations. Monotonic so that a wall-clock step (NTP, an operator's date) never fires
 * a timer early or makes a duration negative. */
#ifndef FLOWSTATE_CLOCK_H
#define FLOWSTATE_CLOCK_H

/* Seconds since an arbitrary fixed point, with sub-microsecond precision (a double holds
 * nanoseconds exactly for weeks of uptime and microseconds for centuries). Only differences
 * mean anything. */
double clock_now(void);

#endif
