/* scan — small cursor helpers over the lexer's code-only view (where comments and string
 * contents are already blank): words with identifier boundaries, whitespace skipping,
 * bracket matching, statement starts. Shared by the block finder and the rule tables. */
#ifndef FLOWSTATE_CA_SCAN_H
#define FLOWSTATE_CA_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "worker/agents/code_analyzer/lexer.h"

#define SCAN_NONE ((size_t)-1)

bool scan_is_ident(char c);
bool scan_is_space(char c);
/* Offset of the first whole word w in code[from..to), or SCAN_NONE. */
size_t scan_word(const struct source *s, size_t from, size_t to, const char *w);
/* True when the whole word w starts at i. */
bool scan_word_at(const struct source *s, size_t i, const char *w);
/* First offset >= i (< end) that is not whitespace (newlines included); end when none. */
size_t scan_skip_ws(const struct source *s, size_t i, size_t end);
/* Offset of the last non-whitespace byte before i, or SCAN_NONE. */
size_t scan_prev(const struct source *s, size_t i);
/* Given an opening ( [ or { at open, the offset of its match (or s->len when unmatched
 * within the search window). */
size_t scan_match(const struct source *s, size_t open);
/* Copies the identifier ending at or just before i (spaces skipped) into buf; returns its
 * start offset, or SCAN_NONE (buf "") when there is none. */
size_t scan_ident_before(const struct source *s, size_t i, char *buf, size_t len);
/* Copies the identifier starting at i into buf (truncated); returns its end offset. */
size_t scan_ident_at(const struct source *s, size_t i, char *buf, size_t len);
/* Start of the statement holding i: just after the previous ; { } outside brackets (C-like)
 * or the start of the line (Python, shell), whitespace skipped. */
size_t scan_stmt_start(const struct source *s, size_t i);
/* Offset of the ; ending the C-like statement from i (outside brackets), or s->len. */
size_t scan_stmt_end(const struct source *s, size_t i);
/* The word starting the statement holding i (e.g. "if"), copied into buf. */
void scan_stmt_word(const struct source *s, size_t i, char *buf, size_t len);
/* The end of the line holding i (offset of its '\n' or s->len). */
size_t scan_line_end(const struct source *s, size_t i);

#endif
