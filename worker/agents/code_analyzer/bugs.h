/* bugs — detect_bugs' rule table: known bug and security patterns per language, each with
 * a stable id ("py.bare-except"), a severity and a message. Rules read the lexer's code-only
 * view, so text inside comments and string literals never matches. */
#ifndef FLOWSTATE_CA_BUGS_H
#define FLOWSTATE_CA_BUGS_H

#include <stddef.h>

#include "worker/agents/code_analyzer/findings.h"
#include "worker/agents/code_analyzer/lexer.h"

/* Runs every rule for s->lang into out (sorted by line). */
void bugs_detect(const struct source *s, struct findings *out);

/* The rule table, for the docs and tests: id, severity and message of rule i < bugs_count(). */
size_t bugs_count(void);
const char *bugs_rule_id(size_t i);
const char *bugs_rule_severity(size_t i);

#endif
