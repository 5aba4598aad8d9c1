/* Private to src/fastws/_kernels: the per-instruction-set kernels behind the
 * dispatcher, plus small helpers shared by them. Not part of the extension's API. */
#ifndef FASTWS_KERNELS_INTERNAL_H
#define FASTWS_KERNELS_INTERNAL_H

#include <string.h>

#include "kernels.h"

/* Building with -DFASTWS_DISABLE_SIMD gives the scalar-only build that other
 * architectures get (also how tests exercise that configuration on x86-64). */
#ifndef FASTWS_DISABLE_SIMD
#if defined(__x86_64__) || defined(_M_X64)
#define FASTWS_ARCH_X86_64 1
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define FASTWS_ARCH_AARCH64 1
#endif
#endif

/* The extension is built with one set of flags for every file, so SIMD code asks for
 * its instruction set per function. MSVC needs nothing: its intrinsics are always on. */
#if defined(__GNUC__) || defined(__clang__)
#define FASTWS_TARGET(isa) __attribute__((target(isa)))
#else
#define FASTWS_TARGET(isa)
#endif

typedef void (*fastws_mask_fn)(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                               unsigned phase);
typedef size_t (*fastws_utf8_fn)(const uint8_t *s, size_t n);

void fastws_mask_scalar(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                        unsigned phase);
size_t fastws_utf8_valid_upto_scalar(const uint8_t *s, size_t n);

/* The scalar and SSE2 validators share one driver and differ in how they skip ASCII:
 * skip_ascii(s, i, n) returns the first index >= i holding a non-ASCII byte, or n.
 * fastws_utf8_valid_from(s, i, n, ...) is valid_upto for text known valid up to the
 * character boundary i; it returns n, or the start of the character holding the first
 * error (or of the incomplete tail). The block kernels finish their last partial
 * block with it: cheaper than padding a copy for short inputs. */
typedef size_t (*fastws_skip_ascii_fn)(const uint8_t *s, size_t i, size_t n);
size_t fastws_utf8_valid_from(const uint8_t *s, size_t i, size_t n,
                              fastws_skip_ascii_fn skip_ascii);
size_t fastws_utf8_skip_ascii_scalar(const uint8_t *s, size_t i, size_t n);

#ifdef FASTWS_ARCH_X86_64
void fastws_mask_sse2(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                      unsigned phase);
void fastws_mask_avx2(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                      unsigned phase);
void fastws_mask_avx512(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                        unsigned phase);
size_t fastws_utf8_valid_upto_sse2(const uint8_t *s, size_t n);
size_t fastws_utf8_valid_upto_avx2(const uint8_t *s, size_t n);
size_t fastws_utf8_valid_upto_avx512(const uint8_t *s, size_t n);
#endif

#ifdef FASTWS_ARCH_AARCH64
void fastws_mask_neon(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                      unsigned phase);
size_t fastws_utf8_valid_upto_neon(const uint8_t *s, size_t n);
#endif

/* ---- masking helpers ---- */

/* Masks are applied through 32/64-bit words whose memory image repeats the key. Built
 * with one 4-byte load and a rotate, not from byte stores: reading a word just assembled
 * from narrower stores stalls store-to-load forwarding, which dominates on tiny frames. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define FASTWS_BIG_ENDIAN 1
#endif

/* Byte j (0..3) of the memory image of w. */
static inline uint8_t fastws_word_byte(uint32_t w, unsigned j)
{
#ifdef FASTWS_BIG_ENDIAN
    return (uint8_t)(w >> (24u - 8u * j));
#else
    return (uint8_t)(w >> (8u * j));
#endif
}

/* The word whose memory image is key[phase % 4], key[(phase + 1) % 4], ... */
static inline uint32_t fastws_key_word(const uint8_t key[4], unsigned phase)
{
    uint32_t w;
    unsigned r = 8u * (phase & 3u);
    memcpy(&w, key, 4);
#ifdef FASTWS_BIG_ENDIAN
    return (w << r) | (w >> ((32u - r) & 31u));
#else
    return (w >> r) | (w << ((32u - r) & 31u));
#endif
}

/* Masks n bytes whose key pattern starts at byte 0 of `word` (a fastws_key_word result):
 * 8, then 4 bytes at a time, then bytewise. Used for short inputs and SIMD heads/tails. */
static inline void fastws_mask_words(uint8_t *dst, const uint8_t *src, size_t n, uint32_t word)
{
    const uint64_t kk = ((uint64_t)word << 32) | word; /* same image in both halves */
    uint64_t v;
    uint32_t v4;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, src + i, 8); /* memcpy: no unaligned or type-punned pointer access */
        v ^= kk;
        memcpy(dst + i, &v, 8);
    }
    if (i + 4 <= n) {
        memcpy(&v4, src + i, 4);
        v4 ^= word;
        memcpy(dst + i, &v4, 4);
        i += 4;
    }
    for (; i < n; i++)
        dst[i] = (uint8_t)(src[i] ^ fastws_word_byte(word, (unsigned)i & 3u));
}

/* ---- UTF-8 helpers ---- */

static inline int fastws_is_continuation(uint8_t b) { return (b & 0xC0u) == 0x80u; }

/* Where a block-based validator restarts after the 64-byte block starting at
 * `block_start` reported an error.
 *
 * Every block before it passed, and each block checks each of its bytes against up to 3
 * bytes before it, so all of s[0:block_start] is valid except possibly an incomplete
 * character at its very end, and the only byte before block_start whose check lives in the
 * failing block is s[block_start - 1] (e.g. a trailing C0 is only known bad once the next
 * byte is seen; a byte-wise automaton rejects it at the C0 itself). So restart at the
 * character that contains s[block_start - 1]: a character boundary with a valid prefix,
 * at or before the automaton's first rejection, and at most 3 bytes before block_start.
 * An ASCII byte there ends its character, so block_start itself is then fine. */
static inline size_t fastws_utf8_restart_before(const uint8_t *s, size_t block_start)
{
    size_t p;
    int back;
    if (block_start == 0)
        return 0;
    p = block_start - 1;
    if (s[p] < 0x80u)
        return block_start;
    for (back = 0; back < 3 && p > 0 && fastws_is_continuation(s[p]); back++)
        p--;
    return p;
}

#endif
