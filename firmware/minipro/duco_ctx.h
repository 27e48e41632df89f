/* Memory layout shared by duco_hash.cpp and duco_hash.S (so plain defines,
 * usable from C and assembler). All state lives in one struct, duco_ctx. */
#ifndef DUCO_CTX_H
#define DUCO_CTX_H

/* W[0..81] as big-endian words: W0..W15 is the SHA-1 block itself (40 hex
 * chars, the decimal nonce, 0x80, zeros, bit length), W16.. the schedule.
 * The schedule is computed 3 words at a time, so W80/W81 are scratch. */
#define DUCO_W_WORDS   82
#define DUCO_CTX_W     0
#define DUCO_CTX_STATE (DUCO_CTX_W + 4 * DUCO_W_WORDS)  /* a..e after round 9 */
#define DUCO_CTX_CHECK (DUCO_CTX_STATE + 20)            /* a76 of the target */
#define DUCO_CTX_OUT   (DUCO_CTX_CHECK + 4)             /* a..e after round 79 */
#define DUCO_CTX_SIZE  (DUCO_CTX_OUT + 20)

/* Offset of the first nonce digit in the block. */
#define DUCO_NONCE_AT  40

#ifndef __ASSEMBLER__
#include <stdint.h>

struct DucoCtx {
    uint8_t w[4 * DUCO_W_WORDS];
    uint32_t state[5];   /* little-endian, as the registers hold them */
    uint32_t check;
    uint32_t out[5];
};

#ifdef __cplusplus
extern "C" {
#endif
extern struct DucoCtx duco_ctx;
/* Rounds 10..79 of the block in duco_ctx.w from duco_ctx.state. Returns 0
 * as soon as a76 differs from duco_ctx.check (skipping rounds 76..79),
 * else 1 with the final a..e in duco_ctx.out. */
uint8_t duco_sha1_tail(void);
#ifdef __cplusplus
}
#endif
#endif
#endif
