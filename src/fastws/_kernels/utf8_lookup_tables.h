/* Tables for the "lookup" UTF-8 validator of Keiser and Lemire, "Validating UTF-8 In
 * Less Than One Instruction Per Byte" (Software: Practice and Experience, 2021),
 * shared by the AVX2, AVX-512 and NEON kernels.
 *
 * Every byte is checked together with the byte before it (prev1). Each error kind
 * below is one bit; three 16-entry tables, indexed by prev1's high nibble, prev1's low
 * nibble and the byte's own high nibble, each give the kinds that their nibble allows.
 * The AND of the three is non-zero exactly when the pair (prev1, byte) is one of the
 * listed errors. The one pair the tables cannot judge, continuation after continuation,
 * sets BOTH_CONT; it is legal exactly when the byte is the 3rd or 4th of its character,
 * i.e. when prev2 >= E0 or prev3 >= F0 (checked separately, see kernels). */
#ifndef FASTWS_UTF8_LOOKUP_TABLES_H
#define FASTWS_UTF8_LOOKUP_TABLES_H

#include <stdint.h>

enum {
    U8_SHORT = 0x01,     /* lead byte, then ASCII or another lead: character too short */
    U8_LONG = 0x02,      /* ASCII, then a continuation */
    U8_OVERLONG3 = 0x04, /* E0 80..9F */
    U8_TOO_BIG = 0x08,   /* F4 90..BF, F5..FF 90..BF (above U+10FFFF) */
    U8_SURROGATE = 0x10, /* ED A0..BF (U+D800..U+DFFF) */
    U8_OVERLONG2 = 0x20, /* C0/C1 continuation */
    U8_F0_OR_BIG_80 = 0x40, /* F0 80..8F (overlong 4-byte) or F5..FF 80..8F (too big) */
    U8_BOTH_CONT = 0x80  /* continuation, then continuation: legality decided by prev2/3 */
};

/* Errors whose judgement needs only prev1's high nibble: any low nibble allows them. */
#define U8_ANY_LOW (U8_SHORT | U8_LONG | U8_BOTH_CONT)
/* F5..FF: low nibble 5..F of an F_ lead. */
#define U8_ABOVE_F4 (U8_TOO_BIG | U8_F0_OR_BIG_80)

/* Indexed by prev1 >> 4. */
static const uint8_t fastws_u8_prev_high[16] = {
    U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, /* ASCII */
    U8_BOTH_CONT, U8_BOTH_CONT, U8_BOTH_CONT, U8_BOTH_CONT,                 /* 8_..B_ */
    U8_SHORT | U8_OVERLONG2,                                                /* C_ */
    U8_SHORT,                                                               /* D_ */
    U8_SHORT | U8_OVERLONG3 | U8_SURROGATE,                                 /* E_ */
    U8_SHORT | U8_TOO_BIG | U8_F0_OR_BIG_80,                                /* F_ */
};

/* Indexed by prev1 & 15; bits for a high nibble that does not have them are masked
 * off by the table above. */
static const uint8_t fastws_u8_prev_low[16] = {
    U8_ANY_LOW | U8_OVERLONG2 | U8_OVERLONG3 | U8_F0_OR_BIG_80, /* C0 E0 F0 */
    U8_ANY_LOW | U8_OVERLONG2,                                  /* C1 */
    U8_ANY_LOW,
    U8_ANY_LOW,
    U8_ANY_LOW | U8_TOO_BIG, /* F4: only 90..BF is too big */
    U8_ANY_LOW | U8_ABOVE_F4,
    U8_ANY_LOW | U8_ABOVE_F4,
    U8_ANY_LOW | U8_ABOVE_F4,
    U8_ANY_LOW | U8_ABOVE_F4,
    U8_ANY_LOW | U8_ABOVE_F4,
    U8_ANY_LOW | U8_ABOVE_F4,
    U8_ANY_LOW | U8_ABOVE_F4,
    U8_ANY_LOW | U8_ABOVE_F4,
    U8_ANY_LOW | U8_ABOVE_F4 | U8_SURROGATE, /* ED */
    U8_ANY_LOW | U8_ABOVE_F4,
    U8_ANY_LOW | U8_ABOVE_F4,
};

/* Indexed by the byte's own high nibble. */
static const uint8_t fastws_u8_cur_high[16] = {
    U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, /* ASCII */
    U8_LONG | U8_BOTH_CONT | U8_OVERLONG2 | U8_OVERLONG3 | U8_F0_OR_BIG_80,         /* 8_ */
    U8_LONG | U8_BOTH_CONT | U8_OVERLONG2 | U8_OVERLONG3 | U8_TOO_BIG,              /* 9_ */
    U8_LONG | U8_BOTH_CONT | U8_OVERLONG2 | U8_SURROGATE | U8_TOO_BIG,              /* A_ */
    U8_LONG | U8_BOTH_CONT | U8_OVERLONG2 | U8_SURROGATE | U8_TOO_BIG,              /* B_ */
    U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT,                                         /* leads */
};

/* Saturating-subtract thresholds for the "3rd or 4th byte" test: prev2 - 0x60 has its
 * top bit set iff prev2 >= E0, prev3 - 0x70 iff prev3 >= F0. */
#define FASTWS_U8_THIRD_SUB 0x60
#define FASTWS_U8_FOURTH_SUB 0x70

/* A block whose last 3 bytes fail "byte <= limit" ends inside a character (or with a
 * lead byte that can never be complete): the last byte must be < C0, the one before
 * < E0, the one before that < F0. */
#define FASTWS_U8_LIMIT_LAST 0xBF
#define FASTWS_U8_LIMIT_LAST2 0xDF
#define FASTWS_U8_LIMIT_LAST3 0xEF

#endif
