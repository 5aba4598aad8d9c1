/* XOR masking, AVX-512 (F + BW): 64-byte vectors, 256 bytes per iteration; short inputs
 * and the tail use one byte-masked load/store instead of scalar loops. */
#include "kernels_internal.h"

#ifdef FASTWS_ARCH_X86_64
#include <immintrin.h>

#define AVX512 FASTWS_TARGET("avx512f,avx512bw")

/* Byte mask selecting the first n (< 64) lanes. */
static inline __mmask64 first_bytes(size_t n) { return (__mmask64)((1ull << n) - 1u); }

AVX512 static inline void mask_partial(uint8_t *dst, const uint8_t *src, size_t n, __m512i k)
{
    /* Masked-off lanes are neither read nor written, so no fault past the buffer. */
    __mmask64 m = first_bytes(n);
    __m512i v = _mm512_maskz_loadu_epi8(m, src);
    _mm512_mask_storeu_epi8(dst, m, _mm512_xor_si512(v, k));
}

AVX512 void fastws_mask_avx512(uint8_t *dst, const uint8_t *src, size_t n,
                               const uint8_t key[4], unsigned phase)
{
    size_t i = 0, head;
    __m512i k = _mm512_set1_epi32((int)fastws_key_word(key, phase));

    if (n < 64) {
        mask_partial(dst, src, n, k);
        return;
    }
    /* Align the stores to 64 bytes (one cache line each; worth ~1.4x at 1 KiB); the key
     * pattern then starts `head` bytes later. The head goes word by word: a masked store
     * here measured slower than the line-split stores it avoids. */
    if (n >= 256) {
        head = (size_t)(-(uintptr_t)dst & 63u);
        if (head) {
            fastws_mask_words(dst, src, head, fastws_key_word(key, phase));
            phase += (unsigned)head;
            k = _mm512_set1_epi32((int)fastws_key_word(key, phase));
            i = head;
        }
    }
    for (; i + 256 <= n; i += 256) {
        __m512i a = _mm512_loadu_si512((const void *)(src + i));
        __m512i b = _mm512_loadu_si512((const void *)(src + i + 64));
        __m512i c = _mm512_loadu_si512((const void *)(src + i + 128));
        __m512i d = _mm512_loadu_si512((const void *)(src + i + 192));
        _mm512_storeu_si512((void *)(dst + i), _mm512_xor_si512(a, k));
        _mm512_storeu_si512((void *)(dst + i + 64), _mm512_xor_si512(b, k));
        _mm512_storeu_si512((void *)(dst + i + 128), _mm512_xor_si512(c, k));
        _mm512_storeu_si512((void *)(dst + i + 192), _mm512_xor_si512(d, k));
    }
    for (; i + 64 <= n; i += 64) {
        __m512i a = _mm512_loadu_si512((const void *)(src + i));
        _mm512_storeu_si512((void *)(dst + i), _mm512_xor_si512(a, k));
    }
    /* Every step above was a multiple of 4 bytes: the pattern is still at `phase`. */
    if (i < n)
        mask_partial(dst + i, src + i, n - i, k);
}
#endif
