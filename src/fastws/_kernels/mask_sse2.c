/* XOR masking, SSE2 (x86-64 baseline): 16-byte vectors, 64 bytes per iteration. */
#include "kernels_internal.h"

#ifdef FASTWS_ARCH_X86_64
#include <emmintrin.h>

void fastws_mask_sse2(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                      unsigned phase)
{
    size_t i = 0;
    __m128i k;

    if (n < 16) {
        fastws_mask_words(dst, src, n, fastws_key_word(key, phase));
        return;
    }
    /* Large buffers: mask a few bytes so the stores are aligned and never split a cache
     * line; the key pattern then starts `i` bytes later. */
    if (n >= 256) {
        i = (size_t)(-(uintptr_t)dst & 15u);
        fastws_mask_words(dst, src, i, fastws_key_word(key, phase));
        phase += (unsigned)i;
    }
    k = _mm_set1_epi32((int)fastws_key_word(key, phase));
    for (; i + 64 <= n; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
        _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, k));
        _mm_storeu_si128((__m128i *)(dst + i + 16), _mm_xor_si128(b, k));
        _mm_storeu_si128((__m128i *)(dst + i + 32), _mm_xor_si128(c, k));
        _mm_storeu_si128((__m128i *)(dst + i + 48), _mm_xor_si128(d, k));
    }
    for (; i + 16 <= n; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
        _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, k));
    }
    /* Every step above was a multiple of 4 bytes: the pattern is still at `phase`. */
    fastws_mask_words(dst + i, src + i, n - i, fastws_key_word(key, phase));
}
#endif
