/* UTF-8 validation, NEON (aarch64): the Keiser-Lemire lookup algorithm (see
 * utf8_lookup_tables.h) on 64-byte blocks of four 16-byte vectors, using tbl for the
 * nibble lookups and ext for the previous bytes; error tested after every block. The
 * last partial block goes to the automaton. */
#include "kernels_internal.h"

#ifdef FASTWS_ARCH_AARCH64
#include <arm_neon.h>

#include "utf8_lookup_tables.h"

typedef struct {
    uint8x16_t prev_high, prev_low, cur_high;
    uint8x16_t nibble, third_sub, fourth_sub, top_bit;
    uint8x16_t last_limits; /* 0xFF except the last 3 bytes: see is_incomplete */
} lookup_consts;

/* Static rather than built on the stack: a vector load of bytes just stored one by one
 * stalls store forwarding, a fixed cost that dominated short inputs. */
static const uint8_t last_limits[16] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    FASTWS_U8_LIMIT_LAST3, FASTWS_U8_LIMIT_LAST2, FASTWS_U8_LIMIT_LAST};

static void load_consts(lookup_consts *c)
{
    c->prev_high = vld1q_u8(fastws_u8_prev_high);
    c->prev_low = vld1q_u8(fastws_u8_prev_low);
    c->cur_high = vld1q_u8(fastws_u8_cur_high);
    c->nibble = vdupq_n_u8(0x0F);
    c->third_sub = vdupq_n_u8(FASTWS_U8_THIRD_SUB);
    c->fourth_sub = vdupq_n_u8(FASTWS_U8_FOURTH_SUB);
    c->top_bit = vdupq_n_u8(0x80);
    c->last_limits = vld1q_u8(last_limits);
}

/* Error bits for the 16 bytes of `in`, whose preceding 16 bytes are `prev`. */
static inline uint8x16_t check16(const lookup_consts *c, uint8x16_t in, uint8x16_t prev)
{
    uint8x16_t prev1 = vextq_u8(prev, in, 15);
    uint8x16_t prev2 = vextq_u8(prev, in, 14);
    uint8x16_t prev3 = vextq_u8(prev, in, 13);
    uint8x16_t pair_errors =
        vandq_u8(vandq_u8(vqtbl1q_u8(c->prev_high, vshrq_n_u8(prev1, 4)),
                          vqtbl1q_u8(c->prev_low, vandq_u8(prev1, c->nibble))),
                 vqtbl1q_u8(c->cur_high, vshrq_n_u8(in, 4)));
    /* Top bit set where this byte must be a 3rd/4th-byte continuation. */
    uint8x16_t must_cont = vandq_u8(
        vorrq_u8(vqsubq_u8(prev2, c->third_sub), vqsubq_u8(prev3, c->fourth_sub)), c->top_bit);
    /* BOTH_CONT must coincide with must_cont; any other bit is an error on its own. */
    return veorq_u8(pair_errors, must_cont);
}

/* Four plain loads rather than vld1q_u8_x4, which older compilers lack. */
static inline uint8x16x4_t load64(const uint8_t *p)
{
    uint8x16x4_t v;
    v.val[0] = vld1q_u8(p);
    v.val[1] = vld1q_u8(p + 16);
    v.val[2] = vld1q_u8(p + 32);
    v.val[3] = vld1q_u8(p + 48);
    return v;
}

size_t fastws_utf8_valid_upto_neon(const uint8_t *s, size_t n)
{
    lookup_consts c;
    uint8x16_t prev = vdupq_n_u8(0);
    uint8x16_t prev_incomplete = vdupq_n_u8(0);
    size_t i = 0;

    if (n < 64) /* no full block: the constants are not worth loading */
        return fastws_utf8_valid_from(s, 0, n, fastws_utf8_skip_ascii_scalar);
    load_consts(&c);
    for (; i + 64 <= n; i += 64) {
        uint8x16x4_t v = load64(s + i);
        uint8x16_t err;
        if (vmaxvq_u8(vorrq_u8(vorrq_u8(v.val[0], v.val[1]), vorrq_u8(v.val[2], v.val[3]))) <
            0x80) {
            /* All ASCII: only an unfinished character from the last block is wrong. */
            err = prev_incomplete;
        } else {
            err = vorrq_u8(vorrq_u8(check16(&c, v.val[0], prev), check16(&c, v.val[1], v.val[0])),
                           vorrq_u8(check16(&c, v.val[2], v.val[1]),
                                    check16(&c, v.val[3], v.val[2])));
            prev_incomplete = vqsubq_u8(v.val[3], c.last_limits);
        }
        if (vmaxvq_u8(err))
            return fastws_utf8_restart_before(s, i);
        prev = v.val[3];
    }
    /* Under 64 bytes left: the automaton takes over from the last character boundary
     * (the character cut by the block end, if any, is checked again in full). */
    return fastws_utf8_valid_from(s, fastws_utf8_restart_before(s, i), n,
                                  fastws_utf8_skip_ascii_scalar);
}
#endif
