/* Chooses the kernels for the CPU at run time.
 *
 * Thread safety: the extension calls fastws_simd_init once at module import (under the
 * import lock); fastws_simd_set may run while other threads mask or validate (tests do
 * it, free-threaded interpreters run them in parallel), so the kernel pointers and the
 * level are read and written atomically. A call racing a switch uses either level's
 * kernel, both correct. The pointers start at the scalar kernels, which run everywhere,
 * so a call before init is merely slower. */
#include "kernels_internal.h"
#include "atomics.h"

#if defined(FASTWS_ARCH_X86_64) && defined(_MSC_VER)
#include <intrin.h>
#elif defined(FASTWS_ARCH_X86_64)
#include <cpuid.h>
#endif

static FASTWS_SHARED int g_initialized;
static int g_best = FASTWS_SIMD_SCALAR;
static FASTWS_SHARED int g_current = FASTWS_SIMD_SCALAR;
static unsigned g_supported = 1u << FASTWS_SIMD_SCALAR;
static fastws_mask_fn FASTWS_SHARED g_mask = fastws_mask_scalar;
static fastws_utf8_fn FASTWS_SHARED g_utf8 = fastws_utf8_valid_upto_scalar;

#ifdef FASTWS_ARCH_X86_64
/* regs = {eax, ebx, ecx, edx} of cpuid(leaf, subleaf). */
static void cpuid(unsigned leaf, unsigned subleaf, unsigned regs[4])
{
#ifdef _MSC_VER
    int r[4];
    __cpuidex(r, (int)leaf, (int)subleaf);
    regs[0] = (unsigned)r[0];
    regs[1] = (unsigned)r[1];
    regs[2] = (unsigned)r[2];
    regs[3] = (unsigned)r[3];
#else
    __cpuid_count(leaf, subleaf, regs[0], regs[1], regs[2], regs[3]);
#endif
}

/* XCR0: which register states the OS saves on context switch. Only valid to read when
 * CPUID.1:ECX.OSXSAVE is set. */
static uint64_t read_xcr0(void)
{
#ifdef _MSC_VER
    return (uint64_t)_xgetbv(0);
#else
    uint32_t lo, hi;
    /* The xgetbv mnemonic needs no -mxsave, unlike the _xgetbv intrinsic. */
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
#endif
}

static unsigned detect_x86_64(void)
{
    unsigned supported = (1u << FASTWS_SIMD_SCALAR) | (1u << FASTWS_SIMD_SSE2); /* baseline */
    unsigned r[4], max_leaf;
    uint64_t xcr0;
    const uint64_t xcr0_avx = (1u << 1) | (1u << 2);            /* SSE, YMM upper halves */
    const uint64_t xcr0_avx512 = xcr0_avx | (1u << 5) | (1u << 6) | (1u << 7); /* opmask, ZMM */
    int os_avx, os_avx512, cpu_avx2, cpu_avx512;

    cpuid(0, 0, r);
    max_leaf = r[0];
    if (max_leaf < 7)
        return supported;
    cpuid(1, 0, r);
    if (!(r[2] & (1u << 27)) || !(r[2] & (1u << 28))) /* OSXSAVE, AVX */
        return supported;
    xcr0 = read_xcr0();
    os_avx = (xcr0 & xcr0_avx) == xcr0_avx;
    os_avx512 = (xcr0 & xcr0_avx512) == xcr0_avx512;

    cpuid(7, 0, r);
    cpu_avx2 = (r[1] >> 5) & 1u;
    /* The AVX-512 kernels use AVX512F and AVX512BW (byte shuffles, byte masks) only. */
    cpu_avx512 = ((r[1] >> 16) & 1u) && ((r[1] >> 30) & 1u);

    if (os_avx && cpu_avx2) {
        supported |= 1u << FASTWS_SIMD_AVX2;
        if (os_avx512 && cpu_avx512)
            supported |= 1u << FASTWS_SIMD_AVX512;
    }
    return supported;
}
#endif

void fastws_simd_init(void)
{
    int level;
    if (FASTWS_LOAD(g_initialized))
        return;
#if defined(FASTWS_ARCH_X86_64)
    g_supported = detect_x86_64();
#elif defined(FASTWS_ARCH_AARCH64)
    g_supported = (1u << FASTWS_SIMD_SCALAR) | (1u << FASTWS_SIMD_NEON); /* NEON is baseline */
#else
    g_supported = 1u << FASTWS_SIMD_SCALAR;
#endif
    g_best = FASTWS_SIMD_SCALAR;
    for (level = FASTWS_SIMD_SCALAR; level <= FASTWS_SIMD_NEON; level++)
        if (g_supported & (1u << level))
            g_best = level; /* levels supported on one arch are ordered by speed */
    FASTWS_STORE(g_initialized, 1);
    fastws_simd_set(g_best);
}

int fastws_simd_best(void)
{
    fastws_simd_init();
    return g_best;
}

int fastws_simd_supported(int level)
{
    fastws_simd_init();
    if (level < FASTWS_SIMD_SCALAR || level > FASTWS_SIMD_NEON)
        return 0;
    return (g_supported >> level) & 1u;
}

int fastws_simd_set(int level)
{
    fastws_mask_fn mask = fastws_mask_scalar;
    fastws_utf8_fn utf8 = fastws_utf8_valid_upto_scalar;
    if (!fastws_simd_supported(level))
        return -1;
    switch (level) {
#ifdef FASTWS_ARCH_X86_64
    case FASTWS_SIMD_SSE2:
        mask = fastws_mask_sse2;
        utf8 = fastws_utf8_valid_upto_sse2;
        break;
    case FASTWS_SIMD_AVX2:
        mask = fastws_mask_avx2;
        utf8 = fastws_utf8_valid_upto_avx2;
        break;
    case FASTWS_SIMD_AVX512:
        mask = fastws_mask_avx512;
        utf8 = fastws_utf8_valid_upto_avx512;
        break;
#endif
#ifdef FASTWS_ARCH_AARCH64
    case FASTWS_SIMD_NEON:
        mask = fastws_mask_neon;
        utf8 = fastws_utf8_valid_upto_neon;
        break;
#endif
    default:
        break;
    }
    FASTWS_STORE(g_mask, mask);
    FASTWS_STORE(g_utf8, utf8);
    FASTWS_STORE(g_current, level);
    return 0;
}

int fastws_simd_get(void) { return FASTWS_LOAD(g_current); }

const char *fastws_simd_name(int level)
{
    switch (level) {
    case FASTWS_SIMD_SCALAR: return "scalar";
    case FASTWS_SIMD_SSE2: return "sse2";
    case FASTWS_SIMD_AVX2: return "avx2";
    case FASTWS_SIMD_AVX512: return "avx512";
    case FASTWS_SIMD_NEON: return "neon";
    default: return NULL;
    }
}

/* n == 0 returns before the kernels: they may do arithmetic on the pointers, which is
 * undefined for NULL even with a zero offset. */
void fastws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], unsigned phase)
{
    if (n)
        FASTWS_LOAD(g_mask)(dst, src, n, key, phase & 3u);
}

size_t fastws_utf8_valid_upto(const uint8_t *s, size_t n) { return n ? FASTWS_LOAD(g_utf8)(s, n) : 0; }
