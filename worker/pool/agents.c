/* agents — the agents list parser and the agent executables' paths (see agents.h). */
#include "worker/pool/agents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AGENTS_FILE_MAX (64 * 1024)

static const char *const agent_names[AGENT__COUNT] = {
    [AGENT_CODE_ANALYZER] = "code_analyzer", [AGENT_DATA_PROCESSOR] = "data_processor",
    [AGENT_COORDINATOR] = "coordinator",     [AGENT_LEARNING] = "learning",
    [AGENT_MONITORING] = "monitoring",
};

#define KNOWN_NAMES "code_analyzer, data_processor, coordinator, learning, monitoring"

const char *agents_name(enum agent_id id)
{
    return (unsigned)id < AGENT__COUNT ? agent_names[id] : "?";
}

static int find_agent(const char *name, size_t len)
{
    for (int i = 0; i < AGENT__COUNT; i++)
        if (strlen(agent_names[i]) == len && strncmp(agent_names[i], name, len) == 0)
            return i;
    return -1;
}

static bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Narrows [*s, *s + *n) to its non-blank middle. */
static void trim(const char **s, size_t *n)
{
    while (*n && blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && blank((*s)[*n - 1]))
        (*n)--;
}

/* Parses one trimmed, non-empty entry into a. Returns 0, or -1 with a message in err. */
static int parse_entry(const char *s, size_t n, struct agents *a, bool seen[AGENT__COUNT],
                       char *err, size_t errlen)
{
    const char *eq = memchr(s, '=', n);
    if (!eq) {
        snprintf(err, errlen, "\"%.*s\": expected name=count (e.g. code_analyzer=2)", (int)n, s);
        return -1;
    }
    const char *name = s, *value = eq + 1;
    size_t name_len = (size_t)(eq - s), value_len = n - name_len - 1;
    trim(&name, &name_len);
    trim(&value, &value_len);
    int id = find_agent(name, name_len);
    if (id < 0) {
        snprintf(err, errlen, "\"%.*s\": unknown agent \"%.*s\" (known: " KNOWN_NAMES ")", (int)n,
                 s, (int)name_len, name);
        return -1;
    }
    long count = 0;
    bool ok = value_len > 0 && value_len <= 3;
    for (size_t i = 0; ok && i < value_len; i++) {
        ok = value[i] >= '0' && value[i] <= '9';
        count = count * 10 + (value[i] - '0');
    }
    if (!ok || count > AGENTS_MAX_COUNT) {
        snprintf(err, errlen, "\"%.*s\": the count must be an integer from 0 to %d", (int)n, s,
                 AGENTS_MAX_COUNT);
        return -1;
    }
    if (seen[id]) {
        snprintf(err, errlen, "\"%.*s\": %s is listed twice", (int)n, s, agent_names[id]);
        return -1;
    }
    seen[id] = true;
    a->count[id] = (int)count;
    return 0;
}

int agents_parse(const char *text, struct agents *out, char *err, size_t errlen)
{
    struct agents a = {{0}};
    bool seen[AGENT__COUNT] = {false};
    bool several_lines = strchr(text, '\n') != NULL;
    int line = 1, entries = 0;
    const char *p = text;
    while (*p) {
        const char *s = p;
        size_t n = strcspn(p, ",\n#");
        p += n;
        trim(&s, &n);
        if (n > 0) {
            if (parse_entry(s, n, &a, seen, err, errlen) < 0) {
                if (several_lines) {
                    size_t used = strlen(err);
                    snprintf(err + used, errlen > used ? errlen - used : 0, " (line %d)", line);
                }
                return -1;
            }
            entries++;
        }
        if (*p == '#')
            p += strcspn(p, "\n");
        if (*p == '\n')
            line++;
        if (*p)
            p++;
    }
    if (entries == 0) {
        snprintf(err, errlen, "no agent listed (write name=count entries, e.g. code_analyzer=2)");
        return -1;
    }
    *out = a;
    return 0;
}

int agents_read_file(const char *path, struct agents *out, char *err, size_t errlen)
{
    char *buf = NULL;
    int rc = -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        goto fail;
    }
    buf = malloc(AGENTS_FILE_MAX + 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    size_t n = fread(buf, 1, AGENTS_FILE_MAX + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read: %s", strerror(errno));
        goto fail;
    }
    if (n > AGENTS_FILE_MAX) {
        snprintf(err, errlen, "larger than %d KiB", AGENTS_FILE_MAX / 1024);
        goto fail;
    }
    if (memchr(buf, '\0', n)) {
        snprintf(err, errlen, "holds a NUL byte (not a text file)");
        goto fail;
    }
    buf[n] = '\0';
    rc = agents_parse(buf, out, err, errlen);
fail:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

const char *agents_format(const struct agents *a, char *buf, size_t len)
{
    size_t o = 0;
    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (int i = 0; i < AGENT__COUNT; i++) {
        if (a->count[i] <= 0)
            continue;
        int w = snprintf(buf + o, len - o, "%s%s=%d", o ? "," : "", agent_names[i], a->count[i]);
        if (w < 0 || (size_t)w >= len - o)
            break; /* truncated; buf stays terminated */
        o += (size_t)w;
    }
    if (o == 0)
        snprintf(buf, len, "none");
    return buf;
}

int agents_total(const struct agents *a)
{
    int total = 0;
    for (int i = 0; i < AGENT__COUNT; i++)
        total += a->count[i];
    return total;
}

int agents_path(const char *dir, enum agent_id id, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/",
                     agents_name(id));
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int agents_check_executables(const char *dir, const struct agents *a, char *err, size_t errlen)
{
    char path[4096];
    for (int i = 0; i < AGENT__COUNT; i++) {
        if (a->count[i] <= 0)
            continue;
        if (agents_path(dir, (enum agent_id)i, path, sizeof(path)) < 0) {
            snprintf(err, errlen, "the path of agent %s is too long", agent_names[i]);
            return -1;
        }
        struct stat st;
        const char *problem = NULL;
        if (stat(path, &st) < 0)
            problem = strerror(errno);
        else if (!S_ISREG(st.st_mode))
            problem = "not a regular file";
        else if (access(path, X_OK) < 0)
            problem = "not executable";
        if (problem) {
            snprintf(err, errlen, "no executable for agent %s: %s: %s", agent_names[i], path,
                     problem);
            return -1;
        }
    }
    return 0;
}
