/* embed_wordnet — the built-in embedder that relates words by meaning, through WordNet
 * (Debian's wordnet-base data, read with the wordnet-dev C library). Each word is
 * lemmatised, mapped to its senses and their related senses (hypernyms, derivations,
 * similar adjectives, pertainyms), each weighted by sense rank and distance, and those sense
 * ids are hashed into the vector; a word WordNet does not know (a name, an identifier, a
 * typo) is hashed with its character trigrams instead. See docs/memory.md. */
#ifndef FLOWSTATE_EMBED_WORDNET_H
#define FLOWSTATE_EMBED_WORDNET_H

#include <stdbool.h>
#include <stddef.h>

/* Opens the WordNet database once (later calls return the first answer). Returns 0, or -1
 * with the reason in err when the data files cannot be opened. Thread-safe. */
int embed_wordnet_open(char *err, size_t errlen) __attribute__((warn_unused_result));

/* Embeds text (len bytes) into out (dims floats, L2-normalised, or all zero for a text
 * without content words). Returns 0, or -1 when the database cannot be opened. Thread-safe:
 * WordNet's library is not, so its calls and the per-word cache are under one mutex. */
int embed_wordnet_text(const char *text, size_t len, float *out, int dims)
    __attribute__((warn_unused_result));

#endif
