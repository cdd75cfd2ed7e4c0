/* lang — language names, aliases and detection. Detection scores a table of syntax cues
 * (each a literal string, optionally only at a line start, with a weight); the highest total
 * wins, a shebang line decides outright. Deterministic: ties go to the earlier language. */
#include "worker/agents/code_analyzer/lang.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static const char *const names[LANG_COUNT] = {
    "unknown", "python", "javascript", "typescript", "c", "c++", "go", "rust", "java", "shell",
};

static const struct {
    const char *alias;
    enum lang lang;
} aliases[] = {
    {"py", LANG_PYTHON},       {"python3", LANG_PYTHON}, {"js", LANG_JAVASCRIPT},
    {"node", LANG_JAVASCRIPT}, {"ts", LANG_TYPESCRIPT},  {"cpp", LANG_CPP},
    {"cxx", LANG_CPP},         {"golang", LANG_GO},      {"rs", LANG_RUST},
    {"sh", LANG_SHELL},        {"bash", LANG_SHELL},     {"h", LANG_C},
};

const char *lang_name(enum lang l) { return (unsigned)l < LANG_COUNT ? names[l] : names[0]; }

int lang_from_name(const char *name)
{
    for (int i = 1; i < LANG_COUNT; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcasecmp(name, aliases[i].alias) == 0)
            return (int)aliases[i].lang;
    return -1;
}

const char *lang_known_names(void)
{
    return "python, javascript, typescript, c, c++, go, rust, java, shell";
}

enum lang_family lang_family(enum lang l)
{
    switch (l) {
    case LANG_PYTHON: return FAMILY_PYTHON;
    case LANG_SHELL: return FAMILY_SHELL;
    default: return FAMILY_C;
    }
}

#define AT_LINE_START 1 /* the cue counts only at the start of a line (after indentation) */

static const struct cue {
    enum lang lang;
    const char *text;
    int weight;
    int flags;
} cues[] = {
    {LANG_PYTHON, "def ", 3, AT_LINE_START},
    {LANG_PYTHON, "import ", 1, AT_LINE_START},
    {LANG_PYTHON, "from ", 1, AT_LINE_START},
    {LANG_PYTHON, "elif ", 4, AT_LINE_START},
    {LANG_PYTHON, "self.", 2, 0},
    {LANG_PYTHON, "None", 1, 0},
    {LANG_PYTHON, "):\n", 2, 0},
    {LANG_PYTHON, "else:", 2, 0},
    {LANG_PYTHON, "__init__", 3, 0},
    {LANG_PYTHON, "print(", 1, 0},
    {LANG_PYTHON, "except", 2, AT_LINE_START},
    {LANG_JAVASCRIPT, "function", 2, 0},
    {LANG_JAVASCRIPT, "const ", 1, AT_LINE_START},
    {LANG_JAVASCRIPT, "let ", 2, AT_LINE_START},
    {LANG_JAVASCRIPT, "var ", 2, AT_LINE_START},
    {LANG_JAVASCRIPT, "=>", 2, 0},
    {LANG_JAVASCRIPT, "===", 3, 0},
    {LANG_JAVASCRIPT, "console.", 3, 0},
    {LANG_JAVASCRIPT, "require(", 3, 0},
    {LANG_JAVASCRIPT, "document.", 3, 0},
    {LANG_JAVASCRIPT, "module.exports", 4, 0},
    {LANG_TYPESCRIPT, ": string", 3, 0},
    {LANG_TYPESCRIPT, ": number", 3, 0},
    {LANG_TYPESCRIPT, ": boolean", 3, 0},
    {LANG_TYPESCRIPT, "interface ", 2, 0},
    {LANG_TYPESCRIPT, "export type ", 3, 0},
    {LANG_C, "#include", 3, AT_LINE_START},
    {LANG_C, "#define", 2, AT_LINE_START},
    {LANG_C, "printf(", 2, 0},
    {LANG_C, "malloc(", 3, 0},
    {LANG_C, "NULL", 1, 0},
    {LANG_C, "->", 1, 0},
    {LANG_C, "sizeof", 2, 0},
    {LANG_C, "int main(", 3, 0},
    {LANG_C, "char *", 2, 0},
    {LANG_C, "void ", 1, 0},
    {LANG_CPP, "std::", 4, 0},
    {LANG_CPP, "#include <iostream>", 8, 0},
    {LANG_CPP, "template<", 4, 0},
    {LANG_CPP, "namespace ", 3, 0},
    {LANG_CPP, "public:", 3, 0},
    {LANG_GO, "package ", 4, AT_LINE_START},
    {LANG_GO, "func ", 3, AT_LINE_START},
    {LANG_GO, ":= ", 2, 0},
    {LANG_GO, "fmt.", 3, 0},
    {LANG_GO, "err != nil", 4, 0},
    {LANG_RUST, "fn ", 3, 0},
    {LANG_RUST, "let mut ", 4, 0},
    {LANG_RUST, "impl ", 3, 0},
    {LANG_RUST, "println!", 4, 0},
    {LANG_RUST, "use std::", 4, 0},
    {LANG_RUST, "&str", 2, 0},
    {LANG_JAVA, "public class ", 4, 0},
    {LANG_JAVA, "System.out.", 5, 0},
    {LANG_JAVA, "import java.", 5, 0},
    {LANG_JAVA, "private ", 1, 0},
    {LANG_JAVA, "public static void main", 5, 0},
    {LANG_SHELL, "echo ", 2, AT_LINE_START},
    {LANG_SHELL, "fi", 3, AT_LINE_START},
    {LANG_SHELL, "then", 2, 0},
    {LANG_SHELL, "esac", 4, AT_LINE_START},
    {LANG_SHELL, "done", 2, AT_LINE_START},
    {LANG_SHELL, "$(", 2, 0},
    {LANG_SHELL, "${", 1, 0},
};

#define CUE_CAP 8 /* one cue counts at most this often, so a long file cannot drown the rest */

static bool at_line_start(const char *text, const char *p)
{
    while (p > text && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    return p == text || p[-1] == '\n';
}

static int count_cue(const char *text, size_t len, const struct cue *c)
{
    size_t n = strlen(c->text);
    int hits = 0;
    const char *p = text, *end = text + len;
    while (hits < CUE_CAP && (size_t)(end - p) >= n) {
        const char *q = memmem(p, (size_t)(end - p), c->text, n);
        if (!q)
            break;
        if (!(c->flags & AT_LINE_START) || at_line_start(text, q))
            hits++;
        p = q + 1;
    }
    return hits;
}

static const struct {
    const char *word;
    enum lang lang;
} shebangs[] = {{"python", LANG_PYTHON},
                {"node", LANG_JAVASCRIPT},
                {"bash", LANG_SHELL},
                {"/sh", LANG_SHELL},
                {"zsh", LANG_SHELL}};

enum lang lang_detect(const char *text, size_t len)
{
    if (len > 2 && text[0] == '#' && text[1] == '!') {
        const char *nl = memchr(text, '\n', len);
        size_t line = nl ? (size_t)(nl - text) : len;
        for (size_t i = 0; i < sizeof(shebangs) / sizeof(shebangs[0]); i++)
            if (memmem(text, line, shebangs[i].word, strlen(shebangs[i].word)))
                return shebangs[i].lang;
    }
    int score[LANG_COUNT] = {0};
    for (size_t i = 0; i < sizeof(cues) / sizeof(cues[0]); i++)
        score[cues[i].lang] += cues[i].weight * count_cue(text, len, &cues[i]);
    /* TypeScript is JavaScript with types; C++ builds on C. */
    if (score[LANG_TYPESCRIPT] > 0)
        score[LANG_TYPESCRIPT] += score[LANG_JAVASCRIPT];
    if (score[LANG_CPP] > 0)
        score[LANG_CPP] += score[LANG_C];
    enum lang best = LANG_UNKNOWN;
    for (int l = 1; l < LANG_COUNT; l++)
        if (score[l] > score[best])
            best = (enum lang)l;
    return best;
}
