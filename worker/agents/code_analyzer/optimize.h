/* optimize — suggest_optimizations' rule table: inefficiencies found from loops (work
 * repeated per iteration, quadratic searches, string building, regex compilation), each with
 * a stable id, an impact, a message and a concrete suggestion. */
#ifndef FLOWSTATE_CA_OPTIMIZE_H
#define FLOWSTATE_CA_OPTIMIZE_H

#include <stddef.h>

#include "worker/agents/code_analyzer/blocks.h"
#include "worker/agents/code_analyzer/findings.h"
#include "worker/agents/code_analyzer/lexer.h"

/* Runs every rule for s->lang (with its blocks b) into out, sorted by line. */
void optimize_suggest(const struct source *s, const struct blocks *b, struct findings *out);

size_t optimize_count(void);
const char *optimize_rule_id(size_t i);
const char *optimize_rule_impact(size_t i);

#endif
