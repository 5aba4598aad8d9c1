/* Atomics for the few words that threads share, with gcc/clang builtins or MSVC intrinsics.
 *
 * fastws_guard_enter/leave: a per-object "in use" flag. An object that one thread is
 * using refuses a second thread at once (the caller raises) rather than blocking: a
 * parser, validator or masker fed from two threads at once has no meaningful result,
 * and refusing keeps its C state (buffers, a hand-managed payload reference) whole on a
 * free-threaded interpreter, where nothing else serializes the calls. Uncontended, it
 * costs one compare-and-swap and one store per call.
 *
 * FASTWS_LOAD/FASTWS_STORE: the process-wide SIMD selection (kernel pointers, level),
 * which tests may switch while other threads mask. */
#ifndef FASTWS_ATOMICS_H
#define FASTWS_ATOMICS_H

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
/* MSVC on x86-64: volatile accesses to aligned words are atomic, with acquire/release
 * semantics (/volatile:ms, the default there). */
#define FASTWS_SHARED volatile
#define FASTWS_LOAD(var) (var)
#define FASTWS_STORE(var, value) ((var) = (value))

static __inline int fastws_guard_enter(long *flag) { return _InterlockedCompareExchange((volatile long *)flag, 1, 0) == 0; }
static __inline void fastws_guard_leave(long *flag) { _InterlockedExchange((volatile long *)flag, 0); }
#else
#define FASTWS_SHARED
#define FASTWS_LOAD(var) __atomic_load_n(&(var), __ATOMIC_ACQUIRE)
#define FASTWS_STORE(var, value) __atomic_store_n(&(var), (value), __ATOMIC_RELEASE)

static inline int fastws_guard_enter(long *flag)
{
    long expected = 0;
    return __atomic_compare_exchange_n(flag, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
static inline void fastws_guard_leave(long *flag) { __atomic_store_n(flag, 0, __ATOMIC_RELEASE); }
#endif

#endif
