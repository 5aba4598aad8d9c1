/* UTF-8 validation, AVX2: the Keiser-Lemire lookup algorithm (see utf8_lookup_tables.h)
 * on 64-byte blocks of two 32-byte vectors; the error accumulator is tested after every
 * block so an early error returns early. The last partial block goes to the automaton. */
#include "kernels_internal.h"

#ifdef FASTWS_ARCH_X86_64
#include <immintrin.h>

#include "utf8_lookup_tables.h"

#define AVX2 FASTWS_TARGET("avx2")

typedef struct {
    __m256i prev_high, prev_low, cur_high; /* the tables, in both 128-bit lanes */
    __m256i nibble, third_sub, fourth_sub, top_bit;
    __m256i last_limits; /* 0xFF except the last 3 bytes: see is_incomplete */
} lookup_consts;

AVX2 static inline __m256i table(const uint8_t t[16])
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t));
}

/* Static rather than built on the stack: a vector load of bytes just stored one by one
 * stalls store forwarding, a fixed cost that dominated short inputs. */
static const uint8_t last_limits[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, FASTWS_U8_LIMIT_LAST3,
    FASTWS_U8_LIMIT_LAST2, FASTWS_U8_LIMIT_LAST};

AVX2 static void load_consts(lookup_consts *c)
{
    c->prev_high = table(fastws_u8_prev_high);
    c->prev_low = table(fastws_u8_prev_low);
    c->cur_high = table(fastws_u8_cur_high);
    c->nibble = _mm256_set1_epi8(0x0F);
    c->third_sub = _mm256_set1_epi8(FASTWS_U8_THIRD_SUB);
    c->fourth_sub = _mm256_set1_epi8(FASTWS_U8_FOURTH_SUB);
    c->top_bit = _mm256_set1_epi8((char)0x80);
    c->last_limits = _mm256_loadu_si256((const __m256i *)last_limits);
}

/* Error bits for the 32 bytes of `in`, whose preceding 32 bytes are `prev`. */
AVX2 static inline __m256i check32(const lookup_consts *c, __m256i in, __m256i prev)
{
    /* Bytes shifted in from the previous vector: alignr works within 128-bit lanes, so
     * first build the vector whose lanes are (prev.high, in.low). */
    __m256i carry = _mm256_permute2x128_si256(prev, in, 0x21);
    __m256i prev1 = _mm256_alignr_epi8(in, carry, 15);
    __m256i prev2 = _mm256_alignr_epi8(in, carry, 14);
    __m256i prev3 = _mm256_alignr_epi8(in, carry, 13);
    /* No 8-bit shift in AVX2: shift 16-bit lanes and drop the bits from the neighbour. */
    __m256i p1_high = _mm256_and_si256(_mm256_srli_epi16(prev1, 4), c->nibble);
    __m256i p1_low = _mm256_and_si256(prev1, c->nibble);
    __m256i in_high = _mm256_and_si256(_mm256_srli_epi16(in, 4), c->nibble);
    __m256i pair_errors = _mm256_and_si256(
        _mm256_and_si256(_mm256_shuffle_epi8(c->prev_high, p1_high),
                         _mm256_shuffle_epi8(c->prev_low, p1_low)),
        _mm256_shuffle_epi8(c->cur_high, in_high));
    /* Top bit set where this byte must be a 3rd/4th-byte continuation. */
    __m256i must_cont = _mm256_and_si256(
        _mm256_or_si256(_mm256_subs_epu8(prev2, c->third_sub),
                        _mm256_subs_epu8(prev3, c->fourth_sub)),
        c->top_bit);
    /* BOTH_CONT must coincide with must_cont; any other bit is an error on its own. */
    return _mm256_xor_si256(pair_errors, must_cont);
}

/* Non-zero when the vector ends inside a character. */
AVX2 static inline __m256i is_incomplete(const lookup_consts *c, __m256i last)
{
    return _mm256_subs_epu8(last, c->last_limits);
}

AVX2 size_t fastws_utf8_valid_upto_avx2(const uint8_t *s, size_t n)
{
    lookup_consts c;
    __m256i prev = _mm256_setzero_si256();
    __m256i prev_incomplete = _mm256_setzero_si256();
    size_t i = 0;

    if (n < 64) /* no full block: the constants are not worth loading */
        return fastws_utf8_valid_from(s, 0, n, fastws_utf8_skip_ascii_scalar);
    load_consts(&c);
    for (; i + 64 <= n; i += 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        __m256i err;
        if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0) {
            /* All ASCII: only an unfinished character from the last block is wrong. */
            err = prev_incomplete;
        } else {
            err = _mm256_or_si256(check32(&c, a, prev), check32(&c, b, a));
            prev_incomplete = is_incomplete(&c, b);
        }
        if (!_mm256_testz_si256(err, err))
            return fastws_utf8_restart_before(s, i);
        prev = b;
    }
    /* Under 64 bytes left: the automaton takes over from the last character boundary
     * (the character cut by the block end, if any, is checked again in full). */
    return fastws_utf8_valid_from(s, fastws_utf8_restart_before(s, i), n,
                                  fastws_utf8_skip_ascii_scalar);
}
#endif
