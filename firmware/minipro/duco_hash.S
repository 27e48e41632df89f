/* SHA-1 rounds 10..79 of a DUCO-S1 block on the ATmega328P.
 *
 * Rounds 0..9 read only the 40-char prefix, so duco_hash.cpp runs them once
 * per job; this file does the per-nonce rest:
 *  1. the schedule W16..W75 into duco_ctx.w (W[t-1..t-3] kept in registers),
 *  2. rounds 10..75 with a, b, c, d, e in r2..r21; instead of moving 20
 *     registers every round, the five 4-byte banks change roles (5-round body),
 *  3. a76 against duco_ctx.check: on a miss (nearly always) rounds 76..79 and
 *     W76..W79 are skipped, as a76 alone fixes the last hash word.
 * Rotations: rotl5 via 4 MULs by 32 (each byte's bits land in two bytes),
 * rotl30 as two 1-bit right rotations.
 *
 * Round registers: banks S0..S4 = r2, r6, r10, r14, r18 (little-endian),
 * R = r22..r25 scratch word, C32 = r26 (holds 32), T = r27, Y -> W[t],
 * CNT = r30. r0:r1 are MUL's result; r1 is cleared before returning.
 */
#include "duco_ctx.h"

#define S0  2
#define S1  6
#define S2  10
#define S3  14
#define S4  18
#define R   22
#define C32 26
#define T   27
#define CNT 30

#define K0 0x5A827999
#define K1 0x6ED9EBA1
#define K2 0x8F1BBCDC
#define K3 0xCA62C1D6

#define W_AT(t) (duco_ctx + DUCO_CTX_W + 4 * (t))

/* e += W[t] + K, W[t] being big-endian at Y+w. */
.macro ADD_WK e, w, k
    ldd R+3, Y+\w
    ldd R+2, Y+\w+1
    ldd R+1, Y+\w+2
    ldd R,   Y+\w+3
    subi R,   lo8(-(\k))
    sbci R+1, hi8(-(\k))
    sbci R+2, hlo8(-(\k))
    sbci R+3, hhi8(-(\k))
    add \e,   R
    adc \e+1, R+1
    adc \e+2, R+2
    adc \e+3, R+3
.endm

/* One byte of f, added into e; MOV/EOR/AND/OR keep the carry chain intact. */
.macro CH_BYTE op, b, c, d, e           /* d ^ (b & (c ^ d)) */
    mov T, \c
    eor T, \d
    and T, \b
    eor T, \d
    \op \e, T
.endm

.macro PAR_BYTE op, b, c, d, e          /* b ^ c ^ d */
    mov T, \b
    eor T, \c
    eor T, \d
    \op \e, T
.endm

.macro MAJ_BYTE op, b, c, d, e          /* (d & (b | c)) | (b & c); R is free here */
    mov T, \b
    or  T, \c
    and T, \d
    mov R, \b
    and R, \c
    or  T, R
    \op \e, T
.endm

.macro ADD_F f, b, c, d, e
    \f\()_BYTE add, \b,   \c,   \d,   \e
    \f\()_BYTE adc, \b+1, \c+1, \d+1, \e+1
    \f\()_BYTE adc, \b+2, \c+2, \d+2, \e+2
    \f\()_BYTE adc, \b+3, \c+3, \d+3, \e+3
.endm

/* e += rotl5(a): byte i times 32 spreads over bytes i and i+1 (mod 4). */
.macro ADD_ROTL5 a, e
    mul  \a, C32
    movw R, 0
    mul  \a+2, C32
    movw R+2, 0
    mul  \a+1, C32
    or   R+1, 0
    or   R+2, 1
    mul  \a+3, C32
    or   R+3, 0
    or   R, 1
    add \e,   R
    adc \e+1, R+1
    adc \e+2, R+2
    adc \e+3, R+3
.endm

/* b = rotr2(b); T keeps the bits that wrap into the top byte. */
.macro ROTR2 b
    mov T, \b
    lsr T
    ror \b+3
    ror \b+2
    ror \b+1
    ror \b
    lsr T
    ror \b+3
    ror \b+2
    ror \b+1
    ror \b
.endm

/* The new a lands in e's bank; the caller renames the banks. */
.macro ROUND f, k, a, b, c, d, e, w
    ADD_WK    \e, \w, \k
    ADD_F     \f, \b, \c, \d, \e
    ADD_ROTL5 \a, \e
    ROTR2     \b
.endm

.macro ROUNDS_2_TO_5 f, k
    ROUND \f, \k, S4, S0, S1, S2, S3, 4
    ROUND \f, \k, S3, S4, S0, S1, S2, 8
    ROUND \f, \k, S2, S3, S4, S0, S1, 12
    ROUND \f, \k, S1, S2, S3, S4, S0, 16
.endm

/* 5 rounds from a = S0 back to a = S0, then Y += 5 words; loops CNT times
 * (the body is too long for a BRNE back). */
.macro BODY_LOOP f, k, count
    ldi CNT, \count
1:  ROUND \f, \k, S0, S1, S2, S3, S4, 0
    ROUNDS_2_TO_5 \f, \k
    adiw r28, 20
    dec CNT
    breq 2f
    rjmp 1b
2:
.endm

.macro STATE_TO_Y
    .irp r, 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21
    st Y+, \r
    .endr
.endm

.macro STATE_FROM_Y
    .irp r, 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21
    ld \r, Y+
    .endr
.endm

.macro LDI_Y addr
    ldi r28, lo8(\addr)
    ldi r29, hi8(\addr)
.endm

    .section .text.duco_sha1_tail, "ax", @progbits
    .global duco_sha1_tail
    .type duco_sha1_tail, @function
duco_sha1_tail:
    .irp r, 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,28,29
    push \r
    .endr

    LDI_Y W_AT(0)
    ldi r26, lo8(W_AT(16))
    ldi r27, hi8(W_AT(16))
    ldi r17, 20                         /* 60 words, W16..W75 */
    rcall schedule

    LDI_Y duco_ctx + DUCO_CTX_STATE
    STATE_FROM_Y
    LDI_Y W_AT(10)
    ldi C32, 32

    BODY_LOOP CH,  K0, 2                /* rounds 10..19 */
    BODY_LOOP PAR, K1, 4                /* 20..39 */
    BODY_LOOP MAJ, K2, 4                /* 40..59 */
    ldi CNT, 4                          /* 60..79 with the a76 check */
last_bodies:
    ROUND PAR, K3, S0, S1, S2, S3, S4, 0
    dec CNT
    breq 1f
    rjmp last_rest
1:  lds T, duco_ctx + DUCO_CTX_CHECK    /* round 75 done: a76 is in S4 */
    cp  S4, T
    lds T, duco_ctx + DUCO_CTX_CHECK + 1
    cpc S4+1, T
    lds T, duco_ctx + DUCO_CTX_CHECK + 2
    cpc S4+2, T
    lds T, duco_ctx + DUCO_CTX_CHECK + 3
    cpc S4+3, T
    breq candidate
    clr r24
    rjmp leave
candidate:                              /* rare: W76..W81 need the state's registers */
    LDI_Y duco_ctx + DUCO_CTX_OUT
    STATE_TO_Y
    clr r1
    LDI_Y W_AT(60)
    ldi r26, lo8(W_AT(76))
    ldi r27, hi8(W_AT(76))
    ldi r17, 2
    rcall schedule
    LDI_Y duco_ctx + DUCO_CTX_OUT
    STATE_FROM_Y
    LDI_Y W_AT(75)
    ldi C32, 32
last_rest:
    ROUNDS_2_TO_5 PAR, K3
    adiw r28, 20
    tst CNT
    breq finished
    rjmp last_bodies
finished:                               /* rounds 76..79 done, a = S0 again */
    LDI_Y duco_ctx + DUCO_CTX_OUT
    STATE_TO_Y
    ldi r24, 1
leave:
    clr r1
    .irp r, 29,28,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2
    pop \r
    .endr
    ret

/* W[t] = rotl1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]) for 3 * r17 words.
 * In: Y -> W[t-16], X -> W[t], r1 = 0. The last three words stay in
 * P, Q, Q2 (r2, r6, r10), rotating roles; r16 is scratch. */
#define P  2
#define Q  6
#define Q2 10

.macro SCHED_WORD p                     /* p = W[t-3] on entry, W[t] on exit */
    ld  r16, Y+
    eor \p+3, r16
    ld  r16, Y+
    eor \p+2, r16
    ld  r16, Y+
    eor \p+1, r16
    ld  r16, Y+
    eor \p, r16                         /* now Y -> W[t-15] */
    .irp off, 4, 28                     /* W[t-14], W[t-8] */
    ldd r16, Y+\off
    eor \p+3, r16
    ldd r16, Y+\off+1
    eor \p+2, r16
    ldd r16, Y+\off+2
    eor \p+1, r16
    ldd r16, Y+\off+3
    eor \p, r16
    .endr
    lsl \p
    rol \p+1
    rol \p+2
    rol \p+3
    adc \p, r1
    st X+, \p+3
    st X+, \p+2
    st X+, \p+1
    st X+, \p
.endm

.macro LOAD_BE reg, off
    ldd \reg+3, Y+\off
    ldd \reg+2, Y+\off+1
    ldd \reg+1, Y+\off+2
    ldd \reg,   Y+\off+3
.endm

schedule:                               /* same section: RCALL range */
    LOAD_BE P,  52                      /* W[t-3] */
    LOAD_BE Q,  56                      /* W[t-2] */
    LOAD_BE Q2, 60                      /* W[t-1] */
1:  SCHED_WORD P
    SCHED_WORD Q
    SCHED_WORD Q2
    dec r17
    breq 2f
    rjmp 1b
2:  ret
    .size duco_sha1_tail, . - duco_sha1_tail
