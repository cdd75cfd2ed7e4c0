/* lang — the languages the code analyser knows: their names, their comment/string syntax
 * family, and detection of a language from syntax cues in the source text. */
#ifndef FLOWSTATE_CA_LANG_H
#define FLOWSTATE_CA_LANG_H

#include <stddef.h>

enum lang {
    LANG_UNKNOWN,
    LANG_PYTHON,
    LANG_JAVASCRIPT,
    LANG_TYPESCRIPT,
    LANG_C,
    LANG_CPP,
    LANG_GO,
    LANG_RUST,
    LANG_JAVA,
    LANG_SHELL,
    LANG_COUNT
};

/* Bit for a language in rule tables' language masks. */
#define LANG_BIT(l) (1u << (l))
#define LANGS_PY LANG_BIT(LANG_PYTHON)
#define LANGS_JS (LANG_BIT(LANG_JAVASCRIPT) | LANG_BIT(LANG_TYPESCRIPT))
#define LANGS_C (LANG_BIT(LANG_C) | LANG_BIT(LANG_CPP))

/* Canonical lower-case name ("python", "c++", "unknown"). Never NULL. */
const char *lang_name(enum lang l);
/* Parses a name or common alias ("py", "js", "ts", "cpp", "c++", "golang", "rs", "bash", "sh"),
 * case-insensitively. Returns -1 when it names no known language. */
int lang_from_name(const char *name);
/* Comma-separated list of the canonical names, for error messages. */
const char *lang_known_names(void);
/* Best guess from syntax cues in text[0..len); LANG_UNKNOWN when nothing matches. */
enum lang lang_detect(const char *text, size_t len);

/* The comment and string syntax a language uses. */
enum lang_family { FAMILY_C, FAMILY_PYTHON, FAMILY_SHELL };
enum lang_family lang_family(enum lang l);

#endif
