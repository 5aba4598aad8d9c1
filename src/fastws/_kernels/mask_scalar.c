/* Portable XOR masking (RFC 6455 section 5.3), a 64-bit word at a time. */
#include "kernels_internal.h"

void fastws_mask_scalar(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                        unsigned phase)
{
    const uint32_t word = fastws_key_word(key, phase);
    const uint64_t kk = ((uint64_t)word << 32) | word;
    uint64_t a, b, c, d;
    size_t i = 0;

    /* 32 bytes per iteration: four independent loads before the stores keep the
     * load/store units busy; all four are read before any is written, so dst == src works. */
    for (; i + 32 <= n; i += 32) {
        memcpy(&a, src + i, 8);
        memcpy(&b, src + i + 8, 8);
        memcpy(&c, src + i + 16, 8);
        memcpy(&d, src + i + 24, 8);
        a ^= kk;
        b ^= kk;
        c ^= kk;
        d ^= kk;
        memcpy(dst + i, &a, 8);
        memcpy(dst + i + 8, &b, 8);
        memcpy(dst + i + 16, &c, 8);
        memcpy(dst + i + 24, &d, 8);
    }
    /* i is a multiple of 4, so the key pattern still starts at byte 0 of `word`. */
    fastws_mask_words(dst + i, src + i, n - i, word);
}
