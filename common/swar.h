/* swar — tests on the eight bytes of a 64-bit word at once, for scanning text a word at a
 * time (JSON strings, UTF-8). Each test returns a mask with the high bit of every flagged byte
 * set. The flag of the first flagged byte (in memory order, on a little-endian machine) is exact;
 * a borrow may also flag bytes after it, so a mask answers "any?" and "where first?" only. */
#ifndef FLOWSTATE_SWAR_H
#define FLOWSTATE_SWAR_H

#include <stdint.h>
#include <string.h>

#define SWAR_BYTES(b) (0x0101010101010101ULL * (uint8_t)(b))

/* Eight bytes from p, any alignment. */
static inline uint64_t swar_load(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Bytes below n (n at most 0x80). */
static inline uint64_t swar_below(uint64_t v, uint8_t n)
{
    return (v - SWAR_BYTES(n)) & ~v & SWAR_BYTES(0x80);
}

/* Bytes equal to c. */
static inline uint64_t swar_equal(uint64_t v, uint8_t c)
{
    return swar_below(v ^ SWAR_BYTES(c), 1);
}

/* Bytes of 0x80 and above. */
static inline uint64_t swar_high(uint64_t v) { return v & SWAR_BYTES(0x80); }

/* How many bytes come before the first flagged one of a nonzero mask. On a big-endian machine
 * it can be fewer (borrows run toward lower addresses there): callers check that byte. */
static inline unsigned swar_first(uint64_t mask)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (unsigned)__builtin_ctzll(mask) / 8;
#else
    return (unsigned)__builtin_clzll(mask) / 8;
#endif
}

#endif
