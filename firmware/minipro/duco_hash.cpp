// Per-job set-up and the nonce loop around duco_sha1_tail (duco_hash.S).
#include "duco_hash.h"
#include "duco_ctx.h"

#include <avr/pgmspace.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct DucoCtx duco_ctx;

static_assert(offsetof(DucoCtx, state) == DUCO_CTX_STATE, "duco_ctx.h layout");
static_assert(offsetof(DucoCtx, check) == DUCO_CTX_CHECK, "duco_ctx.h layout");
static_assert(offsetof(DucoCtx, out) == DUCO_CTX_OUT, "duco_ctx.h layout");
static_assert(sizeof(DucoCtx) == DUCO_CTX_SIZE, "duco_ctx.h layout");

static const uint32_t IV[5] PROGMEM = {0x67452301UL, 0xEFCDAB89UL, 0x98BADCFEUL, 0x10325476UL, 0xC3D2E1F0UL};

static uint8_t target[20];
static uint32_t next_nonce;  // the nonce whose digits are in the block
static uint8_t *last_digit;

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint16_t)p[2] << 8 | p[3];
}

static uint32_t rotl(uint32_t x, uint8_t n) { return x << n | x >> (32 - n); }

// Writes nonce's digits, the 0x80 end marker, zeros and the bit length.
static void seek(uint32_t nonce) {
    uint8_t *block = duco_ctx.w;
    char *digits = (char *)block + DUCO_NONCE_AT;
    ultoa(nonce, digits, 10);
    uint8_t end = DUCO_NONCE_AT + strlen(digits);
    block[end] = 0x80;
    memset(block + end + 1, 0, 62 - (end + 1));
    block[62] = end >> 5;  // bit length end * 8, big-endian
    block[63] = end << 3;
    last_digit = block + end - 1;
    next_nonce = nonce;
}

// In-place decimal increment: usually one byte; one digit more only via seek.
static void count_up(void) {
    uint8_t *p = last_digit;
    while (*p == '9') {
        *p = '0';
        if (p == duco_ctx.w + DUCO_NONCE_AT) {
            seek(next_nonce);
            return;
        }
        --p;
    }
    ++*p;
}

void duco_job(const char *last_hash, const uint8_t *expected) {
    memcpy(duco_ctx.w, last_hash, DUCO_NONCE_AT);
    memcpy(target, expected, sizeof target);
    uint32_t s[5];
    memcpy_P(s, IV, sizeof s);
    for (uint8_t i = 0; i < 10; i++) {  // rounds 0..9 see only the prefix
        uint32_t t = rotl(s[0], 5) + (s[3] ^ (s[1] & (s[2] ^ s[3]))) + s[4] + 0x5A827999UL
                     + be32(duco_ctx.w + 4 * i);
        s[4] = s[3];
        s[3] = s[2];
        s[2] = rotl(s[1], 30);
        s[1] = s[0];
        s[0] = t;
    }
    memcpy(duco_ctx.state, s, sizeof s);
    // The last word is h4 + rotl30(a76): a76 decides before rounds 76..79.
    duco_ctx.check = rotl(be32(expected + 16) - pgm_read_dword(&IV[4]), 2);
    seek(0);
}

static bool hash_is_target(void) {
    for (uint8_t i = 0; i < 5; i++)
        if (duco_ctx.out[i] + pgm_read_dword(&IV[i]) != be32(target + 4 * i)) return false;
    return true;
}

uint32_t duco_search(uint32_t from, uint32_t to) {
    if (from != next_nonce) seek(from);
    while (next_nonce <= to) {
        bool hit = duco_sha1_tail() && hash_is_target();
        uint32_t nonce = next_nonce++;
        count_up();
        if (hit) return nonce;
    }
    return DUCO_NOT_FOUND;
}
