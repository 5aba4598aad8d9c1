/* UTF-8 validation, SSE2 (x86-64 baseline). SSE2 has no byte shuffle, so the
 * Keiser-Lemire lookup algorithm is out of reach; instead ASCII is skipped 32 bytes at a
 * time and non-ASCII stretches go through the scalar automaton (utf8_scalar.c). */
#include "kernels_internal.h"

#ifdef FASTWS_ARCH_X86_64
#include <emmintrin.h>

static unsigned first_set_bit(unsigned m)
{
#if defined(_MSC_VER) && !defined(__clang__)
    unsigned long idx;
    _BitScanForward(&idx, m);
    return (unsigned)idx;
#else
    return (unsigned)__builtin_ctz(m);
#endif
}

static size_t skip_ascii_sse2(const uint8_t *s, size_t i, size_t n)
{
    unsigned m;
    for (; i + 32 <= n; i += 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(s + i + 16));
        /* movemask collects the top bit of each byte: set only for non-ASCII bytes. */
        m = (unsigned)_mm_movemask_epi8(a) | ((unsigned)_mm_movemask_epi8(b) << 16);
        if (m)
            return i + first_set_bit(m);
    }
    if (i + 16 <= n) {
        m = (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(s + i)));
        if (m)
            return i + first_set_bit(m);
        i += 16;
    }
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

size_t fastws_utf8_valid_upto_sse2(const uint8_t *s, size_t n)
{
    return fastws_utf8_valid_from(s, 0, n, skip_ascii_sse2);
}
#endif
