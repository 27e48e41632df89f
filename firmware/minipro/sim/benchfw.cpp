// Benchmark/test image: an Arduino sketch (so Timer0 and millis() run as on a
// board) that mines the jobs ducosim.c drops into its mailbox.
#include <Arduino.h>
#include <string.h>

#include "../duco_hash.h"
#include "mailbox.h"

static struct mailbox box;

static uint32_t le32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t mine(void) {
    uint32_t last = le32(box.last);
    uint16_t chunk = box.chunk[0] | box.chunk[1] << 8;
    duco_job(box.last_hash, box.expected);
    for (uint32_t from = le32(box.first);; from += chunk) {  // the host ensures first <= last
        uint32_t to = last - from < chunk ? last : from + chunk - 1;
        uint32_t nonce = duco_search(from, to);
        if (nonce != DUCO_NOT_FOUND || to == last) return nonce;
    }
}

void setup() {
    GPIOR1 = (uint16_t)&box;
    GPIOR2 = (uint16_t)&box >> 8;
    GPIOR0 = MARK_READY;
}

void loop() {
    if (!*(volatile uint8_t *)&box.go) return;
    __asm__ __volatile__("" ::: "memory");  // the host wrote the job behind our back
    GPIOR0 = MARK_START;
    uint32_t nonce = mine();
    memcpy(box.result, &nonce, sizeof nonce);
    box.go = 0;
    GPIOR0 = MARK_END;
}
