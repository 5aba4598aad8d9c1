/* fastws C kernels: XOR masking and UTF-8 validation, one file per instruction set.
 *
 * The Cython extension calls only the functions declared here. The SIMD level is
 * chosen once (fastws_simd_init) from what the CPU and OS support, and can be lowered
 * later (fastws_simd_set) so tests can exercise every level the machine runs.
 */
#ifndef FASTWS_KERNELS_H
#define FASTWS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum fastws_simd_level {
    FASTWS_SIMD_SCALAR = 0,
    FASTWS_SIMD_SSE2 = 1,
    FASTWS_SIMD_AVX2 = 2,
    FASTWS_SIMD_AVX512 = 3,
    FASTWS_SIMD_NEON = 4,
};

/* Detects the best level this CPU and OS support and makes it current. Idempotent.
 * Not thread-safe (plain globals): call it once before any concurrent use; the extension
 * does so at module import, under the GIL. Every kernel works before it (scalar). */
void fastws_simd_init(void);
/* Best level the CPU supports (after fastws_simd_init). */
int fastws_simd_best(void);
/* 1 when `level` can run on this CPU. */
int fastws_simd_supported(int level);
/* Makes `level` current; returns 0, or -1 (and changes nothing) when unsupported. */
int fastws_simd_set(int level);
int fastws_simd_get(void);
/* "scalar", "sse2", "avx2", "avx512", "neon"; NULL for an unknown level. */
const char *fastws_simd_name(int level);

/* dst[i] = src[i] ^ key[(phase + i) % 4] for i < n. dst == src is allowed (in place);
 * other overlaps are not. phase is 0..3 (larger values are taken mod 4). With n == 0 the
 * pointers are not used and may be NULL. */
void fastws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], unsigned phase);

/* UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
 *
 * fastws_utf8_valid_upto: returns n when s[0:n] is valid and ends on a character
 * boundary. Otherwise returns k < n, a character boundary with s[0:k] valid, such that
 * the first byte that makes s invalid (or the start of the incomplete tail) lies at or
 * after k and less than 128 bytes after it; the caller pinpoints it with the DFA below.
 * (The automaton-based levels, scalar and SSE2, return the start of the character
 * holding the error; the block kernels return a boundary at most 3 bytes before the
 * 64-byte block that flagged it, and finish inputs' last partial block with the
 * automaton.) Errors are acted on within 64 bytes: an invalid first byte of a huge
 * buffer returns at once.
 */
size_t fastws_utf8_valid_upto(const uint8_t *s, size_t n);

/* Byte-at-a-time automaton, fail-fast: the state rejects at the first byte that
 * cannot continue any valid text (b"\xed\xa0" rejects at index 1, b"\xc0" at index 0). */
#define FASTWS_UTF8_ACCEPT 0u
#define FASTWS_UTF8_REJECT 1u  /* sticky */
/* Runs the automaton from *state over s[0:n]. Returns the index of the rejecting byte
 * (state becomes FASTWS_UTF8_REJECT), or n when no byte rejected (state is
 * FASTWS_UTF8_ACCEPT at a character boundary, another non-reject value mid-character).
 * Called with *state == FASTWS_UTF8_REJECT (or any value it never produced) it returns 0
 * and leaves/sets FASTWS_UTF8_REJECT. Chunks may be fed one after another. */
size_t fastws_utf8_dfa(uint32_t *state, const uint8_t *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
