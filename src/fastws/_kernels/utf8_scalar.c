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

#define B_ S_BAD
static const uint8_t g_next[N_STATES][N_CLASSES] = {
    /*            ASCII  80..8F      90..9F      A0..BF      bad  lead2    E0          lead3    ED          F0          lead4    F4 */
    /* S_OK */    {S_OK, B_,         B_,         B_,         B_,  S_NEED1, S_AFTER_E0, S_NEED2, S_AFTER_ED, S_AFTER_F0, S_NEED3, S_AFTER_F4},
    /* S_BAD */   {B_,   B_,         B_,         B_,         B_,  B_,      B_,         B_,      B_,         B_,         B_,      B_},
    /* S_NEED1 */ {B_,   S_OK,       S_OK,       S_OK,       B_,  B_,      B_,         B_,      B_,         B_,         B_,      B_},
    /* S_NEED2 */ {B_,   S_NEED1,    S_NEED1,    S_NEED1,    B_,  B_,      B_,         B_,      B_,         B_,         B_,      B_},
    /* S_AFTER_E0 */ {B_, B_,        B_,         S_NEED1,    B_,  B_,      B_,         B_,      B_,         B_,         B_,      B_},
    /* S_AFTER_ED */ {B_, S_NEED1,   S_NEED1,    B_,         B_,  B_,      B_,         B_,      B_,         B_,         B_,      B_},
    /* S_NEED3 */ {B_,   S_NEED2,    S_NEED2,    S_NEED2,    B_,  B_,      B_,         B_,      B_,         B_,         B_,      B_},
    /* S_AFTER_F0 */ {B_, B_,        S_NEED2,    S_NEED2,    B_,  B_,      B_,         B_,      B_,         B_,         B_,      B_},
    /* S_AFTER_F4 */ {B_, S_NEED2,   B_,         B_,         B_,  B_,      B_,         B_,      B_,         B_,         B_,      B_},
};
#undef B_

size_t fastws_utf8_dfa(uint32_t *state, const uint8_t *s, size_t n)
{
    uint32_t st = *state;
    size_t i;
    if (st >= N_STATES || st == S_BAD) { /* sticky; unknown states count as rejected */
        *state = S_BAD;
        return 0;
    }
    for (i = 0; i < n; i++) {
        st = g_next[st][g_class[s[i]]];
        if (st == S_BAD)
            break;
    }
    *state = st;
    return i;
}

/* Runs the automaton over one character starting at s[i] (not ASCII, state S_OK).
 * Returns the index just past it, or 0 when it rejects or the input ends first. */
static size_t dfa_one_char(const uint8_t *s, size_t i, size_t n)
{
    unsigned st = S_OK;
    do {
        st = g_next[st][g_class[s[i++]]];
        if (st == S_BAD)
            return 0;
        if (st == S_OK)
            return i;
    } while (i < n);
    return 0;
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

/* Shared by the scalar and SSE2 levels: alternate an ASCII skipper with the automaton
 * one character at a time; errors are found exactly, so the result is the start of the
 * character holding the first rejected byte (or of the incomplete tail). */
size_t fastws_utf8_valid_upto_with(const uint8_t *s, size_t n, fastws_skip_ascii_fn skip_ascii)
{
    size_t i = 0, next;
    for (;;) {
        i = skip_ascii(s, i, n);
        /* Runs of non-ASCII text rarely contain ASCII: stay in the automaton. */
        while (i < n && s[i] >= 0x80) {
            next = dfa_one_char(s, i, n);
            if (next == 0)
                return i;
            i = next;
        }
        if (i >= n)
            return n;
    }
}

size_t fastws_utf8_valid_upto_scalar(const uint8_t *s, size_t n)
{
    return fastws_utf8_valid_upto_with(s, n, fastws_utf8_skip_ascii_scalar);
}
