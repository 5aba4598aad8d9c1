/* Threads, for ThreadSanitizer (tests/c/run.sh builds this with -fsanitize=thread):
 *  - one thread switches the SIMD level over and over while others mask and validate:
 *    every result must be right, and the kernel pointers must not race;
 *  - threads take a per-object guard (fastws_guard_enter/leave) around a plain counter:
 *    the guard must order the counter's accesses (no race), and let one thread in at a time.
 * Exit status 0 when every check passed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/fastws/_kernels/atomics.h"
#include "../../src/fastws/_kernels/kernels.h"

#define WORKERS 3
#define ROUNDS 2000
#define SIZE 4096

static uint8_t plain[SIZE], expected[SIZE];
static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
static int failures_switch, stop_switching;

static long guard;
static long inside, counter, entered;
static int failures_guard;

static void *switcher(void *unused)
{
    int level;
    (void)unused;
    while (!__atomic_load_n(&stop_switching, __ATOMIC_ACQUIRE))
        for (level = FASTWS_SIMD_SCALAR; level <= FASTWS_SIMD_NEON; level++)
            if (fastws_simd_supported(level))
                fastws_simd_set(level);
    return NULL;
}

static void *masker(void *unused)
{
    uint8_t out[SIZE];
    int round;
    (void)unused;
    for (round = 0; round < ROUNDS; round++) {
        fastws_mask(out, plain, SIZE, key, 0);
        if (memcmp(out, expected, SIZE) != 0 || fastws_utf8_valid_upto(plain, SIZE) != SIZE)
            __atomic_add_fetch(&failures_switch, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void *guarded(void *unused)
{
    int round;
    (void)unused;
    for (round = 0; round < ROUNDS * 10; round++) {
        if (!fastws_guard_enter(&guard))
            continue; /* refused: another thread holds it */
        if (inside++ != 0) /* plain accesses: TSan reports them if the guard does not order them */
            failures_guard++;
        counter++;
        inside--;
        fastws_guard_leave(&guard);
        __atomic_add_fetch(&entered, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

int main(void)
{
    pthread_t switch_thread, workers[WORKERS];
    size_t i;
    int t;

    fastws_simd_init();
    for (i = 0; i < SIZE; i++) {
        plain[i] = (uint8_t)('a' + i % 26);
        expected[i] = plain[i] ^ key[i & 3];
    }
    pthread_create(&switch_thread, NULL, switcher, NULL);
    for (t = 0; t < WORKERS; t++)
        pthread_create(&workers[t], NULL, masker, NULL);
    for (t = 0; t < WORKERS; t++)
        pthread_join(workers[t], NULL);
    __atomic_store_n(&stop_switching, 1, __ATOMIC_RELEASE);
    pthread_join(switch_thread, NULL);

    for (t = 0; t < WORKERS; t++)
        pthread_create(&workers[t], NULL, guarded, NULL);
    for (t = 0; t < WORKERS; t++)
        pthread_join(workers[t], NULL);

    printf("SIMD switch under load: %d wrong results; guard: %ld entries, counter %ld, %d overlaps\n",
           failures_switch, entered, counter, failures_guard);
    return failures_switch == 0 && failures_guard == 0 && counter == entered && entered > 0 ? 0 : 1;
}
