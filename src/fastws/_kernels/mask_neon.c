/* XOR masking, NEON (aarch64 baseline): 16-byte vectors, 64 bytes per iteration. */
#include "kernels_internal.h"

#ifdef FASTWS_ARCH_AARCH64
#include <arm_neon.h>

void fastws_mask_neon(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                      unsigned phase)
{
    size_t i = 0;
    uint32_t word = fastws_key_word(key, phase);
    uint8x16_t k;

    if (n < 16) {
        fastws_mask_words(dst, src, n, word);
        return;
    }
#ifdef FASTWS_BIG_ENDIAN
    { /* byte lanes of a reinterpreted u32 vector would not follow memory order here */
        uint8_t k16[16];
        unsigned j;
        for (j = 0; j < 16; j++)
            k16[j] = fastws_word_byte(word, j & 3u);
        k = vld1q_u8(k16);
    }
#else
    k = vreinterpretq_u8_u32(vdupq_n_u32(word)); /* byte lanes = the word's memory image */
#endif
    for (; i + 64 <= n; i += 64) {
        uint8x16_t a = vld1q_u8(src + i);
        uint8x16_t b = vld1q_u8(src + i + 16);
        uint8x16_t c = vld1q_u8(src + i + 32);
        uint8x16_t d = vld1q_u8(src + i + 48);
        vst1q_u8(dst + i, veorq_u8(a, k));
        vst1q_u8(dst + i + 16, veorq_u8(b, k));
        vst1q_u8(dst + i + 32, veorq_u8(c, k));
        vst1q_u8(dst + i + 48, veorq_u8(d, k));
    }
    for (; i + 16 <= n; i += 16)
        vst1q_u8(dst + i, veorq_u8(vld1q_u8(src + i), k));
    /* Every step above was a multiple of 4 bytes: the pattern is still at `phase`. */
    fastws_mask_words(dst + i, src + i, n - i, word);
}
#endif
