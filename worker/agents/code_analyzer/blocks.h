/* blocks — the block structure of a lexed source: functions (with names), loops, branches
 * and other braces/suites, each with its lines, offsets, parent and control-nesting depth.
 * Python suites come from indentation; every other language from braces (plus brace-less
 * `if (...) stmt;` bodies). The metrics use the functions and depths, the optimisation rules
 * the loops. */
#ifndef FLOWSTATE_CA_BLOCKS_H
#define FLOWSTATE_CA_BLOCKS_H

#include <stdbool.h>
#include <stddef.h>

#include "worker/agents/code_analyzer/lexer.h"

enum block_kind { BLOCK_FUNCTION, BLOCK_LOOP, BLOCK_BRANCH, BLOCK_OTHER };

struct block {
    enum block_kind kind;
    int start, end; /* 1-based lines: the header's first line, the body's last line */
    size_t head;    /* offset of the header's first byte */
    size_t body;    /* offset just after the header (after its '{' or ':') */
    size_t end_off; /* offset of the body's end (its '}', or the end of its last line) */
    int parent;     /* index of the enclosing block, -1 at top level */
    int function;   /* index of the innermost function holding it (itself for one), or -1 */
    int depth;      /* loops and branches: 1 + the control blocks around it within its
                     * function; 0 for functions and other blocks */
    char name[64];  /* functions: their name ("<anonymous>" when none) */
};

struct blocks {
    struct block *v; /* in order of their headers; a parent comes before its children */
    size_t n, cap;
};

/* Finds the blocks of s into out (zeroed by the caller). Returns 0, or -1 when out of memory
 * (out still freeable). */
int blocks_find(const struct source *s, struct blocks *out) __attribute__((warn_unused_result));
void blocks_free(struct blocks *b);

/* The innermost loop whose body holds offset off, or NULL. */
const struct block *blocks_loop_at(const struct blocks *b, size_t off);

#endif
