/* Throughput of the kernels at every level this CPU runs (median of several runs).
 *
 * Build (from the repo root):
 *   cc -std=c99 -O2 src/fastws/_kernels/[a-z]*.c tests/c/bench_kernels.c -o bench
 * Usage: bench [runs]   (default 7) */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/fastws/_kernels/kernels.h"

static int g_runs = 7;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* Repetitions so one run moves ~64 MiB (at least 1, at most 4M calls). */
static long reps_for(size_t n)
{
    long r = (long)((64u << 20) / (n + 16));
    return r < 1 ? 1 : r > 4000000 ? 4000000 : r;
}

static volatile size_t g_sink;

/* ns per call of fastws_mask, in place (the extension's common case). Small sizes cycle
 * through 64 buffers: re-masking one buffer back to back would time store-to-load
 * forwarding from the previous call, which a real frame (masked once) never meets. */
static double time_mask(uint8_t *buf, size_t n)
{
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    const size_t stride = (n + 63) / 64 * 64 + 64, slots = n <= 1024 ? 64 : 1;
    double t[32];
    long reps = reps_for(n), r;
    int run;
    for (run = 0; run < g_runs; run++) {
        double t0 = now_ns();
        for (r = 0; r < reps; r++) {
            uint8_t *p = buf + ((size_t)r & (slots - 1)) * stride; /* slots: power of 2 */
            fastws_mask(p, p, n, key, (unsigned)r & 3u);
        }
        t[run] = (now_ns() - t0) / (double)reps;
    }
    return median(t, g_runs);
}

static double time_memcpy(uint8_t *dst, const uint8_t *src, size_t n)
{
    double t[32];
    long reps = reps_for(n), r;
    int run;
    for (run = 0; run < g_runs; run++) {
        double t0 = now_ns();
        for (r = 0; r < reps; r++) {
            memcpy(dst, src, n);
            __asm__ volatile("" ::"r"(dst) : "memory"); /* keep every copy */
        }
        t[run] = (now_ns() - t0) / (double)reps;
    }
    return median(t, g_runs);
}

static double time_utf8(const uint8_t *s, size_t n, long reps)
{
    double t[32];
    long r;
    int run;
    for (run = 0; run < g_runs; run++) {
        double t0 = now_ns();
        for (r = 0; r < reps; r++)
            g_sink += fastws_utf8_valid_upto(s, n);
        t[run] = (now_ns() - t0) / (double)reps;
    }
    return median(t, g_runs);
}

static uint64_t g_rng = 42;
static unsigned rnd_below(unsigned n)
{
    g_rng = g_rng * 6364136223846793005u + 1442695040888963407u;
    return (unsigned)((g_rng >> 33) % n);
}

/* Valid text of exactly n bytes; `max_len` 1 = ASCII, 4 = 1..4-byte characters mixed
 * evenly (so ~2.5 bytes per character, non-ASCII in every block). */
static void make_text(uint8_t *out, size_t n, int max_len)
{
    size_t i = 0;
    while (i < n) {
        int len = 1 + (int)rnd_below((unsigned)max_len);
        if (i + (size_t)len > n)
            len = 1;
        switch (len) {
        case 1: out[i] = (uint8_t)(0x20 + rnd_below(0x5F)); break;
        case 2:
            out[i] = (uint8_t)(0xC2 + rnd_below(30));
            out[i + 1] = (uint8_t)(0x80 + rnd_below(64));
            break;
        case 3:
            out[i] = (uint8_t)(0xE1 + rnd_below(12)); /* E1..EC: no E0/ED corner cases */
            out[i + 1] = (uint8_t)(0x80 + rnd_below(64));
            out[i + 2] = (uint8_t)(0x80 + rnd_below(64));
            break;
        default:
            out[i] = (uint8_t)(0xF1 + rnd_below(3));
            out[i + 1] = (uint8_t)(0x80 + rnd_below(64));
            out[i + 2] = (uint8_t)(0x80 + rnd_below(64));
            out[i + 3] = (uint8_t)(0x80 + rnd_below(64));
        }
        i += (size_t)len;
    }
}

int main(int argc, char **argv)
{
    static const size_t mask_sizes[] = {8, 125, 1024, 64u << 10, 1u << 20, 16u << 20};
    static const size_t utf8_sizes[] = {64u << 10, 1u << 20};
    const size_t big = 16u << 20;
    uint8_t *buf, *copy, *ascii, *mixed, *bad;
    size_t i;
    int level;

    if (argc > 1)
        g_runs = atoi(argv[1]) < 1 ? 1 : atoi(argv[1]) > 31 ? 31 : atoi(argv[1]);
    buf = malloc(big + 64);
    copy = malloc(big + 64);
    ascii = malloc(1u << 20);
    mixed = malloc(1u << 20);
    bad = malloc(1u << 20);
    if (!buf || !copy || !ascii || !mixed || !bad)
        return 2;
    memset(buf, 1, big + 64);
    memset(copy, 2, big + 64);
    make_text(ascii, 1u << 20, 1);
    make_text(mixed, 1u << 20, 4);
    memcpy(bad, mixed, 1u << 20);
    bad[0] = 0xFF;
    fastws_simd_init();
    if (fastws_utf8_valid_upto(ascii, 1u << 20) != 1u << 20 ||
        fastws_utf8_valid_upto(mixed, 1u << 20) != 1u << 20) {
        fprintf(stderr, "benchmark text is not valid UTF-8\n");
        return 2;
    }

    printf("GB/s (bytes per ns), median of %d runs\n", g_runs);
    printf("%-8s", "mask");
    for (i = 0; i < sizeof mask_sizes / sizeof mask_sizes[0]; i++)
        printf(" %9zu", mask_sizes[i]);
    printf("\n%-8s", "memcpy");
    for (i = 0; i < sizeof mask_sizes / sizeof mask_sizes[0]; i++)
        printf(" %9.2f", (double)mask_sizes[i] / time_memcpy(copy, buf, mask_sizes[i]));
    printf("\n");
    for (level = 0; level <= FASTWS_SIMD_NEON; level++) {
        if (fastws_simd_set(level) != 0)
            continue;
        printf("%-8s", fastws_simd_name(level));
        for (i = 0; i < sizeof mask_sizes / sizeof mask_sizes[0]; i++)
            printf(" %9.2f", (double)mask_sizes[i] / time_mask(buf, mask_sizes[i]));
        printf("   (8 B: %.1f ns/call)\n", time_mask(buf, 8));
    }

    printf("\n%-8s %11s %11s %11s %11s %14s\n", "utf8", "ascii 64K", "ascii 1M", "mixed 64K",
           "mixed 1M", "bad@0 1M (ns)");
    for (level = 0; level <= FASTWS_SIMD_NEON; level++) {
        if (fastws_simd_set(level) != 0)
            continue;
        printf("%-8s", fastws_simd_name(level));
        for (i = 0; i < 2; i++)
            printf(" %11.2f", (double)utf8_sizes[i] / time_utf8(ascii, utf8_sizes[i], reps_for(utf8_sizes[i])));
        for (i = 0; i < 2; i++)
            printf(" %11.2f", (double)utf8_sizes[i] / time_utf8(mixed, utf8_sizes[i], reps_for(utf8_sizes[i])));
        printf(" %14.1f\n", time_utf8(bad, 1u << 20, 1000000));
    }

    printf("\n%-8s %11s %11s %11s %11s   (ns per call)\n", "utf8", "ascii 16", "ascii 100",
           "mixed 16", "mixed 100");
    for (level = 0; level <= FASTWS_SIMD_NEON; level++) {
        if (fastws_simd_set(level) != 0)
            continue;
        printf("%-8s %11.1f %11.1f %11.1f %11.1f\n", fastws_simd_name(level),
               time_utf8(ascii, 16, 2000000), time_utf8(ascii, 100, 2000000),
               time_utf8(mixed, 16, 2000000), time_utf8(mixed, 100, 2000000));
    }
    free(buf);
    free(copy);
    free(ascii);
    free(mixed);
    free(bad);
    return 0;
}
