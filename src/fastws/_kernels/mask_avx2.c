/* XOR masking, AVX2: 32-byte vectors, 128 bytes per iteration. */
#include "kernels_internal.h"

#ifdef FASTWS_ARCH_X86_64
#include <immintrin.h>

#define AVX2 FASTWS_TARGET("avx2")

AVX2 void fastws_mask_avx2(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                           unsigned phase)
{
    size_t i = 0;
    __m256i k;

    if (n < 32) {
        /* Short frames: no 32-byte setup, at most one 16-byte step. */
        uint32_t word = fastws_key_word(key, phase);
        if (n >= 16) {
            __m128i k16 = _mm_set1_epi32((int)word);
            __m128i a = _mm_loadu_si128((const __m128i *)src);
            _mm_storeu_si128((__m128i *)dst, _mm_xor_si128(a, k16));
            i = 16;
        }
        fastws_mask_words(dst + i, src + i, n - i, word);
        return;
    }
    /* Large buffers: align the stores to 32 bytes (a split store costs two cache-line
     * writes); the key pattern then starts `i` bytes later. */
    if (n >= 512) {
        i = (size_t)(-(uintptr_t)dst & 31u);
        fastws_mask_words(dst, src, i, fastws_key_word(key, phase));
        phase += (unsigned)i;
    }
    k = _mm256_set1_epi32((int)fastws_key_word(key, phase));
    for (; i + 128 <= n; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(src + i + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(src + i + 96));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(a, k));
        _mm256_storeu_si256((__m256i *)(dst + i + 32), _mm256_xor_si256(b, k));
        _mm256_storeu_si256((__m256i *)(dst + i + 64), _mm256_xor_si256(c, k));
        _mm256_storeu_si256((__m256i *)(dst + i + 96), _mm256_xor_si256(d, k));
    }
    for (; i + 32 <= n; i += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(a, k));
    }
    if (i + 16 <= n) {
        __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
        _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, _mm256_castsi256_si128(k)));
        i += 16;
    }
    /* Every step above was a multiple of 4 bytes: the pattern is still at `phase`. */
    fastws_mask_words(dst + i, src + i, n - i, fastws_key_word(key, phase));
}
#endif
