/* UTF-8 validation, AVX-512 (F + BW): the Keiser-Lemire lookup algorithm (see
 * utf8_lookup_tables.h), one 64-byte vector per block, error tested after each block.
 * The last partial block is read with a byte-masked load (zeros past the end). */
#include "kernels_internal.h"

#ifdef FASTWS_ARCH_X86_64
#include <immintrin.h>

#include "utf8_lookup_tables.h"

#define AVX512 FASTWS_TARGET("avx512f,avx512bw")

typedef struct {
    __m512i prev_high, prev_low, cur_high; /* the tables, in all four 128-bit lanes */
    __m512i nibble, third_sub, fourth_sub, top_bit;
    __m512i last_limits; /* 0xFF except the last 3 bytes: see is_incomplete */
} lookup_consts;

AVX512 static inline __m512i table(const uint8_t t[16])
{
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)t));
}

#define FF8 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
/* Static rather than built on the stack: a vector load of bytes just stored one by one
 * stalls store forwarding, a fixed cost that dominated short inputs. */
static const uint8_t last_limits[64] = {
    FF8, FF8, FF8, FF8, FF8, FF8, FF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    FASTWS_U8_LIMIT_LAST3, FASTWS_U8_LIMIT_LAST2, FASTWS_U8_LIMIT_LAST};
#undef FF8

AVX512 static void load_consts(lookup_consts *c)
{
    c->prev_high = table(fastws_u8_prev_high);
    c->prev_low = table(fastws_u8_prev_low);
    c->cur_high = table(fastws_u8_cur_high);
    c->nibble = _mm512_set1_epi8(0x0F);
    c->third_sub = _mm512_set1_epi8(FASTWS_U8_THIRD_SUB);
    c->fourth_sub = _mm512_set1_epi8(FASTWS_U8_FOURTH_SUB);
    c->top_bit = _mm512_set1_epi8((char)0x80);
    c->last_limits = _mm512_loadu_si512((const void *)last_limits);
}

/* Error bits for the 64 bytes of `in`, whose preceding 64 bytes are `prev`. */
AVX512 static inline __m512i check64(const lookup_consts *c, __m512i in, __m512i prev)
{
    /* Byte alignr works within 128-bit lanes: first build the vector whose lane j is
     * lane j-1 of `in` (lane -1 being prev's last), by a 4-dword shift across both. */
    __m512i carry = _mm512_alignr_epi32(in, prev, 12);
    __m512i prev1 = _mm512_alignr_epi8(in, carry, 15);
    __m512i prev2 = _mm512_alignr_epi8(in, carry, 14);
    __m512i prev3 = _mm512_alignr_epi8(in, carry, 13);
    __m512i p1_high = _mm512_and_si512(_mm512_srli_epi16(prev1, 4), c->nibble);
    __m512i p1_low = _mm512_and_si512(prev1, c->nibble);
    __m512i in_high = _mm512_and_si512(_mm512_srli_epi16(in, 4), c->nibble);
    /* AND of the three table lookups in one ternary-logic op (imm 0x80 = a & b & c). */
    __m512i pair_errors = _mm512_ternarylogic_epi32(_mm512_shuffle_epi8(c->prev_high, p1_high),
                                                    _mm512_shuffle_epi8(c->prev_low, p1_low),
                                                    _mm512_shuffle_epi8(c->cur_high, in_high),
                                                    0x80);
    /* Top bit set where this byte must be a 3rd/4th-byte continuation. */
    __m512i must_cont = _mm512_and_si512(
        _mm512_or_si512(_mm512_subs_epu8(prev2, c->third_sub),
                        _mm512_subs_epu8(prev3, c->fourth_sub)),
        c->top_bit);
    /* BOTH_CONT must coincide with must_cont; any other bit is an error on its own. */
    return _mm512_xor_si512(pair_errors, must_cont);
}

AVX512 size_t fastws_utf8_valid_upto_avx512(const uint8_t *s, size_t n)
{
    lookup_consts c;
    __m512i prev = _mm512_setzero_si512();
    __mmask64 prev_incomplete = 0;
    size_t i = 0;

    load_consts(&c);
    for (;; i += 64) {
        __m512i in;
        __mmask64 err;
        if (i + 64 <= n) {
            in = _mm512_loadu_si512((const void *)(s + i));
        } else {
            /* Last partial block, padded with ASCII NULs: an incomplete final character
             * then shows up as "too short" at the first pad byte. */
            if (i == n) /* input ended on a block boundary */
                return prev_incomplete ? fastws_utf8_restart_before(s, n) : n;
            in = _mm512_maskz_loadu_epi8((__mmask64)((1ull << (n - i)) - 1u), s + i);
        }
        if (_mm512_movepi8_mask(in) == 0) {
            /* All ASCII: only an unfinished character from the last block is wrong. */
            err = prev_incomplete;
        } else {
            __m512i e = check64(&c, in, prev);
            /* Non-zero bytes where the block's end needs bytes from the next block. */
            __m512i over = _mm512_subs_epu8(in, c.last_limits);
            err = _mm512_test_epi8_mask(e, e);
            prev_incomplete = _mm512_test_epi8_mask(over, over);
        }
        if (err)
            return fastws_utf8_restart_before(s, i);
        if (i + 64 > n)
            return n; /* a padded last block cannot end incomplete */
        prev = in;
    }
}
#endif
