/* UTF-8 validation (RFC 3629, section 4 syntax): a fail-fast byte automaton and the
 * portable valid_upto built on it. */
#include "kernels_internal.h"

/* Byte classes. The leads with a restricted second byte get their own class:
 * E0 (A0..BF: no overlongs), ED (80..9F: no surrogates), F0 (90..BF: no overlongs),
 * F4 (80..8F: nothing above U+10FFFF). C0, C1 and F5..FF never occur. */
enum {
    C_ASCII,  /* 00..7F */
    C_CONT_8, /* 80..8F */
    C_CONT_9, /* 90..9F */
    C_CONT_AB, /* A0..BF */
    C_BAD,    /* C0, C1, F5..FF */
    C_LEAD2,  /* C2..DF */
    C_E0,
    C_LEAD3,  /* E1..EC, EE, EF */
    C_ED,
    C_F0,
    C_LEAD4,  /* F1..F3 */
    C_F4,
    N_CLASSES
};

/* States: ACCEPT (0) and REJECT (1) are fixed by kernels.h; the rest say what must come. */
enum {
    S_OK = FASTWS_UTF8_ACCEPT,
    S_BAD = FASTWS_UTF8_REJECT,
    S_NEED1,   /* any continuation, then done */
    S_NEED2,   /* any continuation, then S_NEED1 */
    S_AFTER_E0, /* A0..BF, then S_NEED1 */
    S_AFTER_ED, /* 80..9F, then S_NEED1 */
    S_NEED3,   /* any continuation, then S_NEED2 */
    S_AFTER_F0, /* 90..BF, then S_NEED2 */
    S_AFTER_F4, /* 80..8F, then S_NEED2 */
    N_STATES
};

#define X2(c) c, c
#define X4(c) X2(c), X2(c)
#define X8(c) X4(c), X4(c)
#define X16(c) X8(c), X8(c)

/* Constant tables (no run-time init, so any thread may call at any time). */
static const uint8_t g_class[256] = {
    X16(C_ASCII), X16(C_ASCII), X16(C_ASCII), X16(C_ASCII), /* 00..3F */
    X16(C_ASCII), X16(C_ASCII), X16(C_ASCII), X16(C_ASCII), /* 40..7F */
    X16(C_CONT_8),                                          /* 80..8F */
    X16(C_CONT_9),                                          /* 90..9F */
    X16(C_CONT_AB), X16(C_CONT_AB),                         /* A0..BF */
    X2(C_BAD), X2(C_LEAD2), X4(C_LEAD2), X8(C_LEAD2),       /* C0..CF */
    X16(C_LEAD2),                                           /* D0..DF */
    C_E0, X8(C_LEAD3), X4(C_LEAD3), C_ED, X2(C_LEAD3),      /* E0..EF */
    C_F0, C_LEAD4, X2(C_LEAD4), C_F4, X8(C_BAD), X2(C_BAD), C_BAD, /* F0..FF */
};

/* Transitions as a "shift-based" automaton: for each byte class, one 64-bit row holding,
 * in bits [6*st, 6*st+6), six times the state that follows state st. With the current
 * state kept as 6*st, a step is one shift, `row >> st`, so the loop-carried dependency is
 * a single 1-cycle instruction instead of a table load (the row load does not depend on
 * the state and runs ahead). The low 6 bits of the running value are the state; the
 * bits above are ignored because shift counts are taken mod 64 via `& 63`, which x86
 * and ARM shifts do for free. */
#define NEXT(from, to) ((uint64_t)(6u * (to)) << (6u * (from)))
#define ROW(ok, need1, need2, after_e0, after_ed, need3, after_f0, after_f4)                 \
    (NEXT(S_OK, ok) | NEXT(S_BAD, S_BAD) | NEXT(S_NEED1, need1) | NEXT(S_NEED2, need2) |    \
     NEXT(S_AFTER_E0, after_e0) | NEXT(S_AFTER_ED, after_ed) | NEXT(S_NEED3, need3) |       \
     NEXT(S_AFTER_F0, after_f0) | NEXT(S_AFTER_F4, after_f4))
#define B_ S_BAD

/* Next state by byte class (a row) and current state (a column); REJECT stays REJECT. */
static const uint64_t g_row[N_CLASSES] = {
    /*             from: S_OK        NEED1  NEED2    AFTER_E0 AFTER_ED NEED3    AFTER_F0 AFTER_F4 */
    [C_ASCII] = ROW(S_OK,       B_,    B_,      B_,      B_,      B_,      B_,      B_),
    [C_CONT_8] = ROW(B_,        S_OK,  S_NEED1, B_,      S_NEED1, S_NEED2, B_,      S_NEED2),
    [C_CONT_9] = ROW(B_,        S_OK,  S_NEED1, B_,      S_NEED1, S_NEED2, S_NEED2, B_),
    [C_CONT_AB] = ROW(B_,       S_OK,  S_NEED1, S_NEED1, B_,      S_NEED2, S_NEED2, B_),
    [C_BAD] = ROW(B_,           B_,    B_,      B_,      B_,      B_,      B_,      B_),
    [C_LEAD2] = ROW(S_NEED1,    B_,    B_,      B_,      B_,      B_,      B_,      B_),
    [C_E0] = ROW(S_AFTER_E0,    B_,    B_,      B_,      B_,      B_,      B_,      B_),
    [C_LEAD3] = ROW(S_NEED2,    B_,    B_,      B_,      B_,      B_,      B_,      B_),
    [C_ED] = ROW(S_AFTER_ED,    B_,    B_,      B_,      B_,      B_,      B_,      B_),
    [C_F0] = ROW(S_AFTER_F0,    B_,    B_,      B_,      B_,      B_,      B_,      B_),
    [C_LEAD4] = ROW(S_NEED3,    B_,    B_,      B_,      B_,      B_,      B_,      B_),
    [C_F4] = ROW(S_AFTER_F4,    B_,    B_,      B_,      B_,      B_,      B_,      B_),
};
#undef B_

#define ST_OK (6u * S_OK)
#define ST_BAD (6u * S_BAD)

/* One step: `st` is 6 * state in its low 6 bits (plus ignored high bits). */
static inline uint64_t step(uint64_t st, uint8_t byte)
{
    return g_row[g_class[byte]] >> (st & 63u);
}

size_t fastws_utf8_dfa(uint32_t *state, const uint8_t *s, size_t n)
{
    uint64_t st;
    size_t i;
    if (*state >= N_STATES || *state == S_BAD) { /* sticky; unknown states count as rejected */
        *state = S_BAD;
        return 0;
    }
    st = 6u * *state;
    for (i = 0; i < n; i++) {
        st = step(st, s[i]);
        if ((st & 63u) == ST_BAD) {
            *state = S_BAD;
            return i;
        }
    }
    *state = (uint32_t)((st & 63u) / 6u);
    return i;
}

/* Slow path once a stretch starting at a character boundary `start` failed: the start
 * of the character holding the first rejected byte, or of the incomplete tail. */
static size_t exact_restart(const uint8_t *s, size_t start, size_t n)
{
    size_t i, boundary = start;
    uint64_t st = ST_OK;
    for (i = start; i < n; i++) {
        st = step(st, s[i]);
        if ((st & 63u) == ST_BAD)
            break;
        if ((st & 63u) == ST_OK)
            boundary = i + 1;
    }
    return boundary;
}

size_t fastws_utf8_skip_ascii_scalar(const uint8_t *s, size_t i, size_t n)
{
    uint64_t a, b;
    const uint64_t high = 0x8080808080808080u;
    for (; i + 16 <= n; i += 16) {
        memcpy(&a, s + i, 8);
        memcpy(&b, s + i + 8, 8);
        if ((a | b) & high)
            break;
    }
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

/* Shared by the scalar and SSE2 levels: an ASCII skipper, then the automaton over
 * stretches of at most STRETCH bytes (extended to the end of the character they cut),
 * testing for rejection only once per stretch; the rare failing stretch is re-run to
 * find the restart point exactly. */
#define STRETCH 32

size_t fastws_utf8_valid_from(const uint8_t *s, size_t i, size_t n,
                              fastws_skip_ascii_fn skip_ascii)
{
    size_t start, end;
    uint64_t st;
    for (;;) {
        i = skip_ascii(s, i, n);
        if (i >= n)
            return n;
        start = i;
        end = n - i > STRETCH ? i + STRETCH : n;
        st = ST_OK;
        for (; i < end; i++)
            st = step(st, s[i]);
        while ((st & 63u) > ST_BAD && i < n) /* mid-character: finish it */
            st = step(st, s[i++]);
        if ((st & 63u) != ST_OK)
            return exact_restart(s, start, n);
    }
}

size_t fastws_utf8_valid_upto_scalar(const uint8_t *s, size_t n)
{
    return fastws_utf8_valid_from(s, 0, n, fastws_utf8_skip_ascii_scalar);
}
