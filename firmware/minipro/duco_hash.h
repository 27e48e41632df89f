// DUCO-S1 search on the ATmega328P: SHA-1(last_hash + decimal nonce) == expected.
// One job at a time (static state, about 400 bytes of RAM).
#ifndef DUCO_HASH_H
#define DUCO_HASH_H

#include <stdint.h>

#define DUCO_NOT_FOUND 0xFFFFFFFFUL

// Starts a job: last_hash = its 40 lowercase hex chars (not NUL-terminated),
// expected = the target SHA-1 as 20 bytes. Runs the prefix-only rounds once.
void duco_job(const char *last_hash, const uint8_t *expected);

// Tries nonces from..to inclusive (to < DUCO_NOT_FOUND) and returns the first
// one that hashes to expected, or DUCO_NOT_FOUND. Calls that continue where the
// last one stopped (from = previous to + 1) just keep counting, so small chunks
// cost nothing extra: the caller can stop, report progress or idle between them.
uint32_t duco_search(uint32_t from, uint32_t to);

#endif
