/* Checks every kernel level this CPU runs against naive references.
 *
 * Build: see run.sh. Usage: test_kernels [--quick]  (--quick trims the exhaustive
 * byte-combination sweeps, for slow emulators). Exit status is non-zero on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/fastws/_kernels/kernels.h"

static int g_quick;
static unsigned long g_passed, g_failed;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                   \
        if (cond) {                                                                        \
            g_passed++;                                                                    \
        } else {                                                                           \
            if (++g_failed <= 20) {                                                        \
                printf("  FAIL %s:%d: ", __FILE__, __LINE__);                              \
                printf(__VA_ARGS__);                                                       \
                printf("\n");                                                              \
            }                                                                              \
        }                                                                                  \
    } while (0)

/* xorshift64*: deterministic, seeded per run. */
static uint64_t g_rng = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1Du;
}
static unsigned rnd_below(unsigned n) { return (unsigned)(rnd() % n); }

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ------------------------------------------------------------------ masking */

static void ref_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                     unsigned phase)
{
    size_t i;
    for (i = 0; i < n; i++)
        dst[i] = (uint8_t)(src[i] ^ key[(phase + i) % 4]);
}

/* One case: src at offset so, dst at offset dof, in place when dof < 0. Buffers are
 * allocated to the exact size (plus canaries for dst) so the sanitizer sees overreads. */
static void mask_case(size_t n, unsigned phase, size_t so, int dof)
{
    uint8_t key[4];
    uint8_t *src = xmalloc(so + n), *expect = xmalloc(n + 1), *dst;
    size_t i;
    int ok;
    for (i = 0; i < 4; i++)
        key[i] = (uint8_t)rnd();
    for (i = 0; i < so + n; i++)
        src[i] = (uint8_t)rnd();
    ref_mask(expect, src + so, n, key, phase);
    if (dof < 0) {
        fastws_mask(src + so, src + so, n, key, phase);
        CHECK(memcmp(src + so, expect, n) == 0, "mask in place n=%zu phase=%u off=%zu", n,
              phase, so);
    } else {
        size_t d = (size_t)dof;
        dst = xmalloc(d + n + 16);
        memset(dst, 0xA5, d + n + 16);
        fastws_mask(dst + d, src + so, n, key, phase);
        ok = memcmp(dst + d, expect, n) == 0;
        for (i = 0; i < d; i++)
            ok &= dst[i] == 0xA5;
        for (i = d + n; i < d + n + 16; i++)
            ok &= dst[i] == 0xA5;
        CHECK(ok, "mask n=%zu phase=%u src_off=%zu dst_off=%zu", n, phase, so, d);
        free(dst);
    }
    free(src);
    free(expect);
}

static void test_mask(void)
{
    static const size_t big[] = {1000, 4096 + 3, 65536 + 1, (1u << 20) + 7, 3u << 20};
    size_t n, so, b;
    unsigned phase;
    int d;
    for (n = 0; n <= 300; n++)
        for (phase = 0; phase < 4; phase++) {
            for (so = 0; so < 8; so++) {
                mask_case(n, phase, so, -1);
                for (d = 0; d < 8; d++)
                    mask_case(n, phase, so, d);
            }
            /* offsets that leave every alignment head length for the 64-byte kernels */
            mask_case(n, phase, rnd_below(64), (int)rnd_below(64));
        }
    for (b = 0; b < sizeof big / sizeof big[0]; b++)
        for (phase = 0; phase < 4; phase++) {
            mask_case(big[b], phase, rnd_below(64), -1);
            mask_case(big[b], phase, rnd_below(64), (int)rnd_below(64));
        }
}

/* ------------------------------------------------------------------ UTF-8 reference */

/* Can the bytes p[0:k] (k >= 1) be the start of one character's RFC 3629 encoding?
 * Decides by code point ranges, independently of the kernels' tables. */
static int ref_prefix_viable(const uint8_t *p, int k)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const uint32_t max_cp[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    int len, j, rest;
    uint32_t cp, lo, hi;
    if (p[0] < 0x80) return 1;
    if (p[0] < 0xC0) return 0;
    len = p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : p[0] < 0xF8 ? 4 : 0;
    if (len == 0) return 0;
    cp = p[0] & (0x7Fu >> len);
    for (j = 1; j < k; j++) {
        if ((p[j] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[j] & 0x3Fu);
    }
    rest = len - k;
    lo = cp << (6 * rest);
    hi = lo | ((1u << (6 * rest)) - 1);
    if (lo < min_cp[len]) lo = min_cp[len];
    if (hi > max_cp[len]) hi = max_cp[len];
    if (lo > hi) return 0;
    if (lo >= 0xD800 && hi <= 0xDFFF) return 0; /* only surrogates possible */
    return 1;
}

static int ref_len(uint8_t b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

/* *err = index of the first byte that cannot continue valid text (n if none);
 * *tail = start of an incomplete final character (n if none or if *err < n). */
static void ref_scan(const uint8_t *s, size_t n, size_t *err, size_t *tail)
{
    size_t i = 0;
    int k, len;
    *err = n;
    *tail = n;
    while (i < n) {
        len = ref_len(s[i]);
        for (k = 1; k <= len; k++) {
            if (i + k > n) {
                *tail = i;
                return;
            }
            if (!ref_prefix_viable(s + i, k)) {
                *err = i + k - 1;
                return;
            }
        }
        i += len;
    }
}

/* Checks valid_upto's contract and the DFA on s[0:n] (copied to an exact-size buffer). */
static void utf8_case(const uint8_t *input, size_t n)
{
    uint8_t *s = xmalloc(n);
    size_t err, tail, k, r, kerr, ktail, bad, cut;
    uint32_t st;
    memcpy(s, input, n);
    ref_scan(s, n, &err, &tail);

    /* the automaton alone */
    st = FASTWS_UTF8_ACCEPT;
    r = fastws_utf8_dfa(&st, s, n);
    CHECK(r == err && (err < n ? st == FASTWS_UTF8_REJECT
                               : (st == FASTWS_UTF8_ACCEPT) == (tail == n)),
          "dfa n=%zu got %zu state %u, want err %zu tail %zu", n, r, (unsigned)st, err, tail);
    /* ...split in two calls carrying the state */
    cut = n ? rnd_below((unsigned)n + 1) : 0;
    st = FASTWS_UTF8_ACCEPT;
    r = fastws_utf8_dfa(&st, s, cut);
    if (r == cut)
        r = cut + fastws_utf8_dfa(&st, s + cut, n - cut);
    CHECK(r == err, "dfa split at %zu n=%zu got %zu want %zu", cut, n, r, err);

    k = fastws_utf8_valid_upto(s, n);
    if (err == n && tail == n) {
        CHECK(k == n, "valid_upto valid n=%zu got %zu", n, k);
    } else {
        bad = err < n ? err : tail;
        ref_scan(s, k < n ? k : n, &kerr, &ktail);
        CHECK(k < n && kerr == k && ktail == k && k <= bad && bad < k + 128,
              "valid_upto n=%zu got %zu, first error %zu tail %zu", n, k, err, tail);
        if (k < n) {
            /* the caller's pinpointing step */
            st = FASTWS_UTF8_ACCEPT;
            r = k + fastws_utf8_dfa(&st, s + k, n - k);
            CHECK(err < n ? r == err && st == FASTWS_UTF8_REJECT
                          : r == n && st != FASTWS_UTF8_ACCEPT && st != FASTWS_UTF8_REJECT,
                  "pinpoint n=%zu k=%zu got %zu want err %zu", n, k, r, err);
        }
    }
    free(s);
}

/* ------------------------------------------------------------------ UTF-8 inputs */

static size_t encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

enum { MIX_ASCII, MIX_MOSTLY_ASCII, MIX_ANY, MIX_NO_ASCII, MIX_EDGES, N_MIXES };

static uint32_t random_cp(int mix)
{
    static const uint32_t edges[] = {0,      0x7F,   0x80,   0x7FF,   0x800,    0xFFF,
                                     0x1000, 0xD7FF, 0xE000, 0xFFFD,  0xFFFF,   0x10000,
                                     0x3FFFF, 0x40000, 0xFFFFF, 0x100000, 0x10FFFF};
    uint32_t cp;
    int len;
    switch (mix) {
    case MIX_ASCII: return rnd_below(0x80);
    case MIX_MOSTLY_ASCII: len = rnd_below(10) ? 1 : 2 + (int)rnd_below(3); break;
    case MIX_ANY: len = 1 + (int)rnd_below(4); break;
    case MIX_NO_ASCII: len = 2 + (int)rnd_below(3); break;
    default: return edges[rnd_below(sizeof edges / sizeof edges[0])];
    }
    if (len == 1) return rnd_below(0x80);
    if (len == 2) return 0x80 + rnd_below(0x800 - 0x80);
    if (len == 3) {
        do
            cp = 0x800 + rnd_below(0x10000 - 0x800);
        while (cp >= 0xD800 && cp <= 0xDFFF);
        return cp;
    }
    return 0x10000 + rnd_below(0x110000 - 0x10000);
}

/* Exactly n bytes of valid text (ASCII fills the last few bytes where needed). */
static void random_text(uint8_t *out, size_t n, int mix)
{
    uint8_t enc[4];
    size_t i = 0, len;
    while (i < n) {
        len = encode(random_cp(mix), enc);
        if (i + len > n)
            len = encode(0x20 + rnd_below(0x5F), enc);
        memcpy(out + i, enc, len);
        i += len;
    }
}

/* Sequences written over the text at every offset: invalid ones of each kind, and some
 * valid boundary ones (which may still break the characters around them). */
static const struct {
    uint8_t len, b[4];
} patches[] = {
    {2, {0xC0, 0x80}},       {2, {0xC1, 0xBF}},       {3, {0xE0, 0x80, 0x80}},
    {3, {0xE0, 0x9F, 0xBF}}, {3, {0xED, 0xA0, 0x80}}, {3, {0xED, 0xBF, 0xBF}},
    {4, {0xF0, 0x80, 0x80, 0x80}}, {4, {0xF0, 0x8F, 0xBF, 0xBF}},
    {4, {0xF4, 0x90, 0x80, 0x80}}, {4, {0xF5, 0x80, 0x80, 0x80}},
    {4, {0xF7, 0xBF, 0xBF, 0xBF}}, {1, {0xFF}},       {1, {0xF8}},
    {1, {0x80}},             {1, {0xBF}},             {1, {0xC2}},
    {1, {0xE1}},             {1, {0xF1}},             {2, {0xE1, 0x80}},
    {3, {0xF1, 0x80, 0x80}}, {2, {0xC2, 0x41}},       {2, {0xE0, 0xA0}},
    {2, {0xC2, 0x80}},       {2, {0xDF, 0xBF}},       {3, {0xE0, 0xA0, 0x80}},
    {3, {0xED, 0x9F, 0xBF}}, {3, {0xEE, 0x80, 0x80}}, {3, {0xEF, 0xBF, 0xBF}},
    {4, {0xF0, 0x90, 0x80, 0x80}}, {4, {0xF4, 0x8F, 0xBF, 0xBF}}, {1, {0x41}},
};
#define N_PATCHES (sizeof patches / sizeof patches[0])

/* Every mutation at every offset of a valid text of length n. */
static void mutate_everywhere(const uint8_t *text, size_t n, size_t step)
{
    uint8_t *s = xmalloc(n);
    size_t o, p;
    for (o = 0; o < n; o += step) {
        memcpy(s, text, n);
        s[o] = (uint8_t)rnd();
        utf8_case(s, n);
        s[o] = (uint8_t)(text[o] ^ (1u << rnd_below(8)));
        utf8_case(s, n);
        utf8_case(text, o); /* truncated */
        for (p = 0; p < N_PATCHES; p++) {
            memcpy(s, text, n);
            memcpy(s + o, patches[p].b, o + patches[p].len <= n ? patches[p].len : n - o);
            utf8_case(s, n);
            /* also when the patch is the end of the input */
            if (o + patches[p].len <= n)
                utf8_case(s, o + patches[p].len);
        }
    }
    free(s);
}

/* Empty input may come with a NULL pointer; nothing may be touched. */
static void test_empty(void)
{
    static const uint8_t key[4] = {1, 2, 3, 4};
    uint32_t st = FASTWS_UTF8_ACCEPT;
    fastws_mask(NULL, NULL, 0, key, 3);
    CHECK(fastws_utf8_valid_upto(NULL, 0) == 0, "valid_upto(NULL, 0)");
    CHECK(fastws_utf8_dfa(&st, NULL, 0) == 0 && st == FASTWS_UTF8_ACCEPT, "dfa(NULL, 0)");
    st = FASTWS_UTF8_REJECT;
    CHECK(fastws_utf8_dfa(&st, (const uint8_t *)"a", 1) == 0 && st == FASTWS_UTF8_REJECT,
          "dfa: reject is sticky");
    st = 77;
    CHECK(fastws_utf8_dfa(&st, (const uint8_t *)"a", 1) == 0 && st == FASTWS_UTF8_REJECT,
          "dfa: unknown state counts as rejected");
}

static void test_utf8(void)
{
    static const size_t boundaries[] = {0,  1,  15, 16, 17,  31,  32,  33,  62, 63,
                                        64, 65, 95, 96, 127, 128, 129, 191, 192, 255};
    static const uint8_t reps[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0,
                                   0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC,
                                   0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
    const size_t nreps = sizeof reps / sizeof reps[0];
    const size_t big = (1u << 20) + 5;
    uint8_t buf[320], *large;
    size_t n, t, o, b, j, a0, a1, a2, a3;
    int mix;

    /* every length 0..300, every mix, plus random bytes */
    for (n = 0; n <= 300; n++)
        for (mix = 0; mix < N_MIXES; mix++) {
            random_text(buf, n, mix);
            utf8_case(buf, n);
            for (t = 0; t < n; t++)
                buf[t] = (uint8_t)rnd();
            utf8_case(buf, n);
        }
    /* mutations at every offset of texts spanning several blocks */
    for (mix = 0; mix < N_MIXES; mix++)
        for (t = 0; t < (g_quick ? 1u : 3u); t++) {
            n = 200 + rnd_below(100);
            random_text(buf, n, mix);
            mutate_everywhere(buf, n, 1);
        }
    /* byte pairs exhaustively, triples and quadruples over representative bytes, placed
     * across a block boundary and at the very start and end */
    memset(buf, 'a', sizeof buf);
    for (b = 0; b < sizeof boundaries / sizeof boundaries[0]; b++) {
        o = boundaries[b];
        if (g_quick && o != 62 && o != 0)
            continue;
        for (a0 = 0; a0 < 256; a0++)
            for (a1 = 0; a1 < 256; a1++) {
                buf[o] = (uint8_t)a0;
                buf[o + 1] = (uint8_t)a1;
                utf8_case(buf, o + 2);
                if (o == 62 || o == 0)
                    utf8_case(buf, 130);
            }
        buf[o] = buf[o + 1] = 'a';
    }
    for (a0 = 0; a0 < 256; a0++)
        for (a1 = 0; a1 < nreps; a1++)
            for (a2 = 0; a2 < nreps; a2++) {
                buf[62] = (uint8_t)a0;
                buf[63] = reps[a1];
                buf[64] = reps[a2];
                utf8_case(buf, 65);
                utf8_case(buf, 130);
            }
    for (a0 = 0xC0; a0 < 256; a0++)
        for (a1 = 0; a1 < nreps; a1++)
            for (a2 = 0; a2 < nreps; a2++)
                for (a3 = 0; a3 < nreps; a3 += g_quick ? 3 : 1) {
                    buf[61] = (uint8_t)a0;
                    buf[62] = reps[a1];
                    buf[63] = reps[a2];
                    buf[64] = reps[a3];
                    utf8_case(buf, 65);
                    utf8_case(buf, 66);
                }
    memset(buf, 'a', sizeof buf);

    /* large inputs: errors near block and page boundaries, at the start and the end */
    large = xmalloc(big);
    for (mix = 0; mix < N_MIXES; mix++) {
        static const size_t at[] = {0, 1, 63, 64, 4095, 4096, 65535, 65536, 65537};
        random_text(large, big, mix);
        utf8_case(large, big);
        utf8_case(large, big - 1);
        utf8_case(large, big - 2);
        utf8_case(large, 1u << 20);
        for (j = 0; j < sizeof at / sizeof at[0] + 4; j++) {
            size_t pos = j < sizeof at / sizeof at[0] ? at[j]
                         : j == sizeof at / sizeof at[0] ? big - 1
                                                          : rnd_below((unsigned)big);
            const size_t p = rnd_below(N_PATCHES);
            uint8_t save[4];
            size_t len = pos + patches[p].len <= big ? patches[p].len : big - pos;
            memcpy(save, large + pos, len);
            memcpy(large + pos, patches[p].b, len);
            utf8_case(large, big);
            memcpy(large + pos, save, len);
        }
    }
    free(large);
}

/* ------------------------------------------------------------------ driver */

static int test_dispatch(void)
{
    int ok = 1, level;
    ok &= fastws_simd_supported(FASTWS_SIMD_SCALAR) == 1;
    ok &= fastws_simd_supported(-1) == 0 && fastws_simd_supported(99) == 0;
    ok &= fastws_simd_set(99) == -1 && fastws_simd_get() == fastws_simd_best();
    ok &= fastws_simd_name(99) == NULL && strcmp(fastws_simd_name(0), "scalar") == 0;
    ok &= fastws_simd_supported(fastws_simd_best()) == 1;
    for (level = FASTWS_SIMD_SCALAR; level <= FASTWS_SIMD_NEON; level++)
        if (!fastws_simd_supported(level))
            ok &= fastws_simd_set(level) == -1 && fastws_simd_get() == fastws_simd_best();
    return ok;
}

int main(int argc, char **argv)
{
    int level, any_failed = 0;
    unsigned long before_pass, before_fail;
    if (argc > 1 && strcmp(argv[1], "--quick") == 0)
        g_quick = 1;
    fastws_simd_init();
    fastws_simd_init(); /* idempotent */
    printf("best level: %s\n", fastws_simd_name(fastws_simd_best()));
    if (!test_dispatch()) {
        printf("dispatch: FAILED\n");
        any_failed = 1;
    }
    for (level = FASTWS_SIMD_SCALAR; level <= FASTWS_SIMD_NEON; level++) {
        if (!fastws_simd_supported(level)) {
            printf("%-7s not supported here, skipped\n", fastws_simd_name(level));
            continue;
        }
        fastws_simd_set(level);
        CHECK(fastws_simd_get() == level, "set level %d", level);
        before_pass = g_passed;
        before_fail = g_failed;
        test_empty();
        test_mask();
        printf("%-7s mask: %lu passed, %lu failed\n", fastws_simd_name(level),
               g_passed - before_pass, g_failed - before_fail);
        before_pass = g_passed;
        before_fail = g_failed;
        test_utf8();
        printf("%-7s utf8: %lu passed, %lu failed\n", fastws_simd_name(level),
               g_passed - before_pass, g_failed - before_fail);
        fflush(stdout);
    }
    printf("total: %lu passed, %lu failed\n", g_passed, g_failed);
    return (g_failed || any_failed) ? 1 : 0;
}
