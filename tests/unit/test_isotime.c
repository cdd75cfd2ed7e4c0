/* isotime: golden tables of valid timestamps with their epoch values (computed with
 * Python's datetime.fromisoformat) and of invalid ones. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/isotime.h"
#include "tests/unit/harness.h"

struct valid_case {
    const char *s;
    double epoch;
};

static const struct valid_case valid_cases[] = {
    {"2030-01-01T00:00:00Z", 1893456000.0},
    {"1970-01-01T00:00:00Z", 0.0},
    {"1970-01-01T00:00:00.5Z", 0.5},
    {"2030-01-01 00:00:00Z", 1893456000.0}, /* space separator */
    {"2030-01-01t00:00:00z", 1893456000.0}, /* lowercase t and z */
    {"2030-01-01T00:00:00+00:00", 1893456000.0},
    {"2030-01-01T00:00:00-00:00", 1893456000.0},
    {"2030-01-01T09:30:00.250+02:00", 1893483000.25},
    {"2030-01-01T05:30:00+05:30", 1893456000.0},
    {"2024-12-31T23:59:59-05:00", 1735707599.0}, /* crosses into the next year */
    {"2030-01-01T00:00:00+23:59", 1893369660.0},
    {"2030-12-31T23:59:59-23:59", 1925078339.0},
    {"1970-01-01T00:00:00-01:00", 3600.0},
    {"2028-02-29T12:00:00Z", 1835438400.0}, /* leap day */
    {"2028-02-29T23:59:59+14:00", 1835431199.0},
    {"2000-02-29T00:00:00Z", 951782400.0}, /* divisible by 400: leap */
    {"2030-03-31T23:59:59.999Z", 1901231999.999},
    {"2030-06-15T12:34:56.123456789Z", 1907757296.123456789}, /* 9 fraction digits */
    {"2030-06-15T12:34:56.1Z", 1907757296.1},
    {"2030-06-15T12:34:56.000000000Z", 1907757296.0},
    {"2038-01-19T03:14:08Z", 2147483648.0}, /* past 32-bit time_t */
    {"9999-12-31T23:59:59Z", 253402300799.0},
};

static void valid_case_run(const void *arg)
{
    const struct valid_case *c = arg;
    double got = -12345.0;
    CHECK_LONG(isotime_parse(c->s, &got), 0);
    char detail[96];
    snprintf(detail, sizeof(detail), "got %.9f, want %.9f", got, c->epoch);
    bool ok = fabs(got - c->epoch) < 1e-6;
    test_check(ok, __FILE__, __LINE__, "epoch matches", ok ? NULL : detail);
}

struct invalid_case {
    const char *label;
    const char *s;
};

static const struct invalid_case invalid_cases[] = {
    {"word", "tomorrow"},
    {"empty", ""},
    {"no zone", "2030-01-01T00:00:00"},
    {"no zone, fraction", "2030-01-01T00:00:00.5"},
    {"date only", "2030-01-01"},
    {"no seconds", "2030-01-01T00:00Z"},
    {"month 13", "2030-13-01T00:00:00Z"},
    {"month 00", "2030-00-01T00:00:00Z"},
    {"day 00", "2030-01-00T00:00:00Z"},
    {"day 32", "2030-01-32T00:00:00Z"},
    {"Feb 30 2027", "2027-02-30T00:00:00Z"},
    {"Feb 29 2027 (not leap)", "2027-02-29T00:00:00Z"},
    {"Feb 29 2100 (not leap)", "2100-02-29T00:00:00Z"},
    {"Apr 31", "2030-04-31T00:00:00Z"},
    {"hour 24", "2030-01-01T24:00:00Z"},
    {"minute 60", "2030-01-01T23:60:00Z"},
    {"second 60", "2030-01-01T23:59:60Z"},
    {"trailing junk", "2030-01-01T00:00:00Zjunk"},
    {"trailing space", "2030-01-01T00:00:00Z "},
    {"leading space", " 2030-01-01T00:00:00Z"},
    {"junk after offset", "2030-01-01T00:00:00+02:00x"},
    {"10 fraction digits", "2030-01-01T00:00:00.1234567890Z"},
    {"empty fraction", "2030-01-01T00:00:00.Z"},
    {"comma fraction", "2030-01-01T00:00:00,5Z"},
    {"year 1969", "1969-12-31T23:59:59Z"},
    {"year 0000", "0000-01-01T00:00:00Z"},
    {"offset without colon", "2030-01-01T00:00:00+0200"},
    {"offset hours only", "2030-01-01T00:00:00+02"},
    {"offset hour 24", "2030-01-01T00:00:00+24:00"},
    {"offset minute 60", "2030-01-01T00:00:00+02:60"},
    {"offset with seconds", "2030-01-01T00:00:00+02:00:00"},
    {"zone name", "2030-01-01T00:00:00UTC"},
    {"Z then offset", "2030-01-01T00:00:00Z+01:00"},
    {"one-digit month", "2030-1-01T00:00:00Z"},
    {"two-digit year", "30-01-01T00:00:00Z"},
    {"five-digit year", "20300-01-01T00:00:00Z"},
    {"signed year", "+2030-01-01T00:00:00Z"},
    {"slashes", "2030/01/01T00:00:00Z"},
    {"bad separator", "2030-01-01X00:00:00Z"},
    {"two separators", "2030-01-01TT00:00:00Z"},
    {"letter in hour", "2030-01-01T0a:00:00Z"},
    {"dots in time", "2030-01-01T00.00.00Z"},
    {"truncated date", "2030-01"},
    {"truncated offset", "2030-01-01T00:00:00+02:"},
    {"sign only", "2030-01-01T00:00:00-"},
};

static void invalid_case_run(const void *arg)
{
    const struct invalid_case *c = arg;
    double got = -12345.0;
    CHECK_LONG(isotime_parse(c->s, &got), -1);
    CHECK(got == -12345.0); /* untouched on error */
}

struct format_case {
    struct timespec ts;
    const char *want;
};

static const struct format_case format_cases[] = {
    {{0, 0}, "1970-01-01T00:00:00.000Z"},
    {{1893456000, 5000000}, "2030-01-01T00:00:00.005Z"},
    {{1835438400, 999999999}, "2028-02-29T12:00:00.999Z"}, /* milliseconds truncate */
    {{1735707599, 123456789}, "2025-01-01T04:59:59.123Z"},
    {{2147483648, 0}, "2038-01-19T03:14:08.000Z"},
    {{253402300799, 10000000}, "9999-12-31T23:59:59.010Z"},
};

static void format_case_run(const void *arg)
{
    const struct format_case *c = arg;
    char buf[ISOTIME_LEN];
    CHECK_STR(isotime_format(&c->ts, buf), c->want);
}

/* The same text as gmtime_r + strftime for times across years 0 to 9999: every day of 1968 to
 * 2032 (leap years, the epoch, 2000; a second later each day), every 4 h 59 min 59 s of the
 * whole range, and one time in each of the 400 years of a Gregorian cycle from 2000. */
static void format_matches_gmtime(const void *arg)
{
    (void)arg;
    const long long first = -62167219200LL, last = 253402300799LL; /* 0000-01-01, 9999-12-31 */
    int mismatches = 0;
    for (int pass = 0; pass < 3; pass++) {
        long long t = pass == 0 ? -63158400LL : pass == 1 ? first : 946684799LL;
        long long step = pass == 0 ? 86400 + 1 : pass == 1 ? 17999 : 31556952;
        long long end = pass == 0   ? 1988150400LL
                        : pass == 1 ? last
                                    : 946684799LL + 400 * 31556952LL;
        for (; t <= end && mismatches < 5; t += step) {
            struct timespec ts = {(time_t)t, 7000000};
            struct tm tm;
            char want[64], got[ISOTIME_LEN];
            gmtime_r(&ts.tv_sec, &tm);
            size_t n = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.007Z", &tm);
            if (tm.tm_year + 1900 < 1000) { /* strftime does not pad years below 1000 */
                snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.007Z",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec);
                n = strlen(want);
            }
            isotime_format(&ts, got);
            if (!CHECK(n > 0 && strcmp(got, want) == 0)) {
                fprintf(stderr, "  t=%lld: got %s, gmtime says %s\n", t, got, want);
                mismatches++;
            }
        }
    }
}

/* isotime_now reads back as a time between the clock readings around it. */
static void now_round_trip(const void *arg)
{
    (void)arg;
    struct timespec before, after;
    char buf[ISOTIME_LEN];
    clock_gettime(CLOCK_REALTIME, &before);
    isotime_now(buf);
    clock_gettime(CLOCK_REALTIME, &after);
    double got = -1;
    CHECK_LONG(isotime_parse(buf, &got), 0);
    CHECK((double)before.tv_sec + (double)(before.tv_nsec / 1000000) / 1000.0 <= got + 1e-9);
    CHECK(got <= (double)after.tv_sec + (double)after.tv_nsec / 1e9);
}

void register_isotime_tests(void)
{
    for (size_t i = 0; i < COUNT_OF(format_cases); i++)
        test_addf(format_case_run, &format_cases[i], "isotime format %s", format_cases[i].want);
    test_addf(now_round_trip, NULL, "isotime now reads back between clock readings");
    test_add("isotime format matches gmtime across years 0 to 9999", format_matches_gmtime, NULL);
    for (size_t i = 0; i < COUNT_OF(valid_cases); i++)
        test_addf(valid_case_run, &valid_cases[i], "isotime valid %s", valid_cases[i].s);
    for (size_t i = 0; i < COUNT_OF(invalid_cases); i++)
        test_addf(invalid_case_run, &invalid_cases[i], "isotime invalid %s \"%s\"",
                  invalid_cases[i].label, invalid_cases[i].s);
}
