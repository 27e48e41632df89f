// The protocol state machine (docs/i2c-protocol.md sections 3 and 4, wire version e).
// The Python model scripts/ducorig_host/simbus/ducorig.py is the same machine:
// the conformance suite runs against both.
#include "slave.h"

#include <avr/pgmspace.h>
#include <stdlib.h>
#include <string.h>
#include <util/atomic.h>

volatile uint8_t slave_state;
volatile uint8_t slave_verdict;
volatile uint8_t slave_requests;
volatile uint8_t slave_new_address;

static volatile uint8_t selected;  // 'S' 'R' 'E' 'I': what a read returns
static char job_text[80];          // hex payloads of L, M, N and O (the stored job)
static uint8_t next_chunk;         // the chunk letter the transfer expects ('M' 'N' 'O'), 0: none
static uint8_t job_crc;            // CRC-8 of the chunks received so far
static uint16_t stored_diff;       // of the last job, or D; used by H
static volatile uint16_t rate_cap = SLAVE_DEFAULT_CAP;
static char result_reply[20];      // "<C|N><nonce:5>,<elapsed_us:10>,<CRC>" of the held result
static char elapsed_text[5];       // "%5u" of its elapsed ms
static SlaveResult result;
static uint8_t ducoid_reply[SLAVE_REPLY_MAX];  // "DUCOID<16 hex>,<CRC>"
// Scanned byte by byte as a write arrives (slave_byte), so the end of a write is short:
static uint8_t rx_crc[3];  // CRC-8 of the payload so far, one and two bytes before (seeded for job chunks)
static uint8_t rx_hex;     // how many payload bytes from the first on are hex digits

// CRC-8/SMBUS (poly 0x07, init 0): a flash table keeps the ISR short.
static const uint8_t CRC8[256] PROGMEM = {
    0x00, 0x07, 0x0E, 0x09, 0x1C, 0x1B, 0x12, 0x15, 0x38, 0x3F, 0x36, 0x31, 0x24, 0x23, 0x2A, 0x2D,
    0x70, 0x77, 0x7E, 0x79, 0x6C, 0x6B, 0x62, 0x65, 0x48, 0x4F, 0x46, 0x41, 0x54, 0x53, 0x5A, 0x5D,
    0xE0, 0xE7, 0xEE, 0xE9, 0xFC, 0xFB, 0xF2, 0xF5, 0xD8, 0xDF, 0xD6, 0xD1, 0xC4, 0xC3, 0xCA, 0xCD,
    0x90, 0x97, 0x9E, 0x99, 0x8C, 0x8B, 0x82, 0x85, 0xA8, 0xAF, 0xA6, 0xA1, 0xB4, 0xB3, 0xBA, 0xBD,
    0xC7, 0xC0, 0xC9, 0xCE, 0xDB, 0xDC, 0xD5, 0xD2, 0xFF, 0xF8, 0xF1, 0xF6, 0xE3, 0xE4, 0xED, 0xEA,
    0xB7, 0xB0, 0xB9, 0xBE, 0xAB, 0xAC, 0xA5, 0xA2, 0x8F, 0x88, 0x81, 0x86, 0x93, 0x94, 0x9D, 0x9A,
    0x27, 0x20, 0x29, 0x2E, 0x3B, 0x3C, 0x35, 0x32, 0x1F, 0x18, 0x11, 0x16, 0x03, 0x04, 0x0D, 0x0A,
    0x57, 0x50, 0x59, 0x5E, 0x4B, 0x4C, 0x45, 0x42, 0x6F, 0x68, 0x61, 0x66, 0x73, 0x74, 0x7D, 0x7A,
    0x89, 0x8E, 0x87, 0x80, 0x95, 0x92, 0x9B, 0x9C, 0xB1, 0xB6, 0xBF, 0xB8, 0xAD, 0xAA, 0xA3, 0xA4,
    0xF9, 0xFE, 0xF7, 0xF0, 0xE5, 0xE2, 0xEB, 0xEC, 0xC1, 0xC6, 0xCF, 0xC8, 0xDD, 0xDA, 0xD3, 0xD4,
    0x69, 0x6E, 0x67, 0x60, 0x75, 0x72, 0x7B, 0x7C, 0x51, 0x56, 0x5F, 0x58, 0x4D, 0x4A, 0x43, 0x44,
    0x19, 0x1E, 0x17, 0x10, 0x05, 0x02, 0x0B, 0x0C, 0x21, 0x26, 0x2F, 0x28, 0x3D, 0x3A, 0x33, 0x34,
    0x4E, 0x49, 0x40, 0x47, 0x52, 0x55, 0x5C, 0x5B, 0x76, 0x71, 0x78, 0x7F, 0x6A, 0x6D, 0x64, 0x63,
    0x3E, 0x39, 0x30, 0x37, 0x22, 0x25, 0x2C, 0x2B, 0x06, 0x01, 0x08, 0x0F, 0x1A, 0x1D, 0x14, 0x13,
    0xAE, 0xA9, 0xA0, 0xA7, 0xB2, 0xB5, 0xBC, 0xBB, 0x96, 0x91, 0x98, 0x9F, 0x8A, 0x8D, 0x84, 0x83,
    0xDE, 0xD9, 0xD0, 0xD7, 0xC2, 0xC5, 0xCC, 0xCB, 0xE6, 0xE1, 0xE8, 0xEF, 0xFA, 0xFD, 0xF4, 0xF3,
};
static const char HEX_DIGITS[] PROGMEM = "0123456789ABCDEF";
static const char NO_RESULT[] PROGMEM = "Z00000,0000000000,";  // byte 0: the current state
static const char STATES[] PROGMEM = "ZILBCNRE";
static uint8_t no_result_crc[8];  // of NO_RESULT with each state (reads stay short)

static uint8_t crc8(const void *data, uint8_t n, uint8_t crc) {
    const uint8_t *p = (const uint8_t *)data;
    while (n--) crc = pgm_read_byte(&CRC8[crc ^ *p++]);
    return crc;
}

static void put_hex(uint8_t *out, uint8_t byte) {
    out[0] = pgm_read_byte(&HEX_DIGITS[byte >> 4]);
    out[1] = pgm_read_byte(&HEX_DIGITS[byte & 15]);
}

static int8_t hex_value(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;  // either case
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static bool all_hex(const uint8_t *p, uint8_t n) {
    while (n--)
        if (hex_value(*p++) < 0) return false;
    return true;
}

// n decimal digits, 1 <= n <= max, as a number; -1 if not.
static int32_t digits(const uint8_t *p, uint8_t n, uint8_t max) {
    if (n < 1 || n > max) return -1;
    int32_t value = 0;
    while (n--) {
        if (*p < '0' || *p > '9') return -1;
        value = 10 * value + (*p++ - '0');
    }
    return value;
}

static void drop_job(void) {
    next_chunk = 0;
    slave_requests &= ~(REQ_START | REQ_ABORT);
}

static void refuse(uint8_t verdict) {
    drop_job();
    slave_state = 'R';
    slave_verdict = verdict;
}

static void start_hashing(void) {
    next_chunk = 0;  // a second O needs a new L, M, N
    slave_state = 'B';
    slave_requests |= REQ_START;
}

void slave_byte(uint8_t index, uint8_t byte) {
    if (index == 0) {  // the command letter: L starts the job's CRC afresh, M N O continue it
        rx_crc[0] = rx_crc[1] = rx_crc[2] = byte == 'L' ? 0 : job_crc;
        rx_hex = 0;
        return;
    }
    if (rx_hex == index - 1 && hex_value(byte) >= 0) rx_hex = index;
    rx_crc[2] = rx_crc[1];
    rx_crc[1] = rx_crc[0];
    rx_crc[0] = pgm_read_byte(&CRC8[rx_crc[0] ^ byte]);
}

// L, M or N + 20 hex digits.
static void chunk(uint8_t letter, const uint8_t *p, uint8_t n) {
    if (letter != 'L' && letter != next_chunk) return refuse('^');
    if (n != 20 || rx_hex < 20) return refuse('#');
    memcpy(job_text + 20 * (letter - 'L'), p, 20);
    job_crc = rx_crc[0];
    next_chunk = letter + 1;
    slave_state = 'L';
}

// O + 20 hex digits + "," + 1..6 digits of diff + "," + 2 hex digits of CRC.
static void last_chunk(const uint8_t *p, uint8_t n) {
    if (next_chunk != 'O') return refuse('^');
    const uint8_t *comma = (const uint8_t *)memchr(p + 21, ',', n > 21 ? n - 21 : 0);
    uint8_t at = comma ? comma - p : 0;  // the second comma
    int32_t diff = comma ? digits(p + 21, at - 21, 6) : -1;
    if (n < 25 || p[20] != ',' || rx_hex < 20 || diff < 0 || n != at + 3 || !all_hex(p + at + 1, 2))
        return refuse('#');
    uint8_t sent = hex_value(p[at + 1]) << 4 | hex_value(p[at + 2]);
    if (rx_crc[2] != sent) {  // the CRC of everything before the CRC field
        drop_job();
        slave_state = 'E';
        return;
    }
    if (diff < 1 || diff > SLAVE_MAX_DIFF) return refuse('+');
    memcpy(job_text + 60, p, 20);
    stored_diff = diff;
    start_hashing();
}

bool slave_is_selector(uint8_t letter) {
    return letter == 'S' || letter == 'R' || letter == 'E' || letter == 'I';
}

void slave_command(const uint8_t *msg, uint8_t n) {
    if (n == 0) return;  // an address probe (scan)
    if (n >= SLAVE_MAX_TRANSFER) {
        slave_verdict = '>';
        selected = 'S';
        return;
    }
    uint8_t letter = msg[0];
    const uint8_t *p = msg + 1;
    n--;
    if (slave_is_selector(letter)) {
        selected = letter;
        return;
    }
    selected = 'S';
    if (letter == 0 || !strchr_P(PSTR("ALMNOHDVXW"), letter)) {
        slave_verdict = '?';
        return;
    }
    if (slave_state == 'B' && strchr_P(PSTR("LMNOHDV"), letter)) {
        slave_verdict = '!';
        return;
    }
    slave_verdict = ' ';
    int32_t value;
    switch (letter) {
    case 'A':
        if (n) slave_verdict = '#';
        else if (slave_state == 'B') slave_requests |= REQ_ABORT;  // loop() stops at the next nonce
        else {
            drop_job();
            slave_state = 'I';
        }
        break;
    case 'L':
    case 'M':
    case 'N':
        chunk(letter, p, n);
        break;
    case 'O':
        last_chunk(p, n);
        break;
    case 'H':
        if (n) slave_verdict = '#';
        else if (slave_state != 'C' && slave_state != 'N') slave_verdict = '!';
        else start_hashing();
        break;
    case 'D':
        value = digits(p, n, 6);
        if (value < 0) slave_verdict = '#';
        else if (value < 1 || value > SLAVE_MAX_DIFF) slave_verdict = '+';
        else stored_diff = value;
        break;
    case 'V':
        value = n == 2 ? digits(p, 2, 2) : -1;
        if (value < 8 || value > 99) slave_verdict = '#';
        else {
            slave_new_address = value;
            slave_requests |= REQ_MOVE;
        }
        break;
    case 'X':
        if (n) slave_verdict = '#';
        else slave_requests |= REQ_RESET;
        break;
    case 'W':
        value = digits(p, n, 4);
        if (value < 0) slave_verdict = '#';
        else rate_cap = value;  // from the next job on
        break;
    }
}

uint8_t slave_reply(uint8_t *out) {
    uint8_t state = slave_state;
    bool held = state == 'C' || state == 'N';
    switch (selected) {
    case 'R':
        if (held) memcpy(out, result_reply, 20);
        else {
            memcpy_P(out, NO_RESULT, 18);
            out[0] = state;
            put_hex(out + 18, no_result_crc[(const char *)memchr_P(STATES, state, 8) - STATES]);
        }
        return 20;
    case 'E':
        if (held) memcpy(out, elapsed_text, 5);
        else memcpy_P(out, PSTR("    0"), 5);
        return 5;
    case 'I':
        memcpy(out, ducoid_reply, SLAVE_REPLY_MAX);
        return SLAVE_REPLY_MAX;
    default:
        out[0] = state;
        out[1] = SLAVE_WIRE_VERSION;
        out[2] = slave_verdict;
        return 3;
    }
}

void slave_init(const uint8_t *serial8) {
    slave_state = 'Z';
    slave_verdict = ' ';
    selected = 'S';
    memcpy_P(ducoid_reply, PSTR("DUCOID"), 6);
    for (uint8_t i = 0; i < 8; i++) put_hex(ducoid_reply + 6 + 2 * i, serial8[i]);
    ducoid_reply[22] = ',';
    put_hex(ducoid_reply + 23, crc8(ducoid_reply, 23, 0));
    uint8_t text[18];
    memcpy_P(text, NO_RESULT, 18);
    for (uint8_t i = 0; i < 8; i++) {
        text[0] = pgm_read_byte(&STATES[i]);
        no_result_crc[i] = crc8(text, 18, 0);
    }
}

static uint8_t hex_byte(const char *p) { return hex_value(p[0]) << 4 | hex_value(p[1]); }

void slave_take_job(SlaveJob *job) {
    // In state B the ISR refuses job chunks and D, so job_text and stored_diff
    // hold still: only the request bit and the cap (W) need interrupts off.
    memcpy(job->last_hash, job_text, 40);
    for (uint8_t i = 0; i < 20; i++) job->target[i] = hex_byte(job_text + 40 + 2 * i);
    job->diff = stored_diff;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        job->cap = rate_cap;
        slave_requests &= ~REQ_START;
    }
    if (job->cap && job->cap < SLAVE_MIN_CAP) job->cap = SLAVE_MIN_CAP;
}

// value in width characters, right-aligned, padded with pad (avr-libc's ultoa is fast).
static void decimal(char *out, uint32_t value, uint8_t width, char pad) {
    char digits[11];
    uint8_t n = strlen(ultoa(value, digits, 10));
    memset(out, pad, width - n);
    memcpy(out + width - n, digits, n);
}

void slave_finish(bool found, uint16_t nonce, uint32_t elapsed_us) {
    char text[20], ms[5];
    text[0] = found ? 'C' : 'N';
    decimal(text + 1, nonce, 5, '0');
    text[6] = ',';
    decimal(text + 7, elapsed_us, 10, '0');
    text[17] = ',';
    put_hex((uint8_t *)text + 18, crc8(text, 18, 0));
    decimal(ms, (uint16_t)(elapsed_us / 1000), 5, ' ');
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        if (slave_state == 'B' && !(slave_requests & (REQ_ABORT | REQ_RESET))) {
            memcpy(result_reply, text, sizeof text);
            memcpy(elapsed_text, ms, sizeof ms);
            result.nonce = nonce;
            result.elapsed_us = elapsed_us;
            slave_state = text[0];
        }
    }
}

void slave_abort_done(void) {
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        drop_job();
        slave_state = 'I';
    }
}

uint16_t slave_cap(void) {
    uint16_t cap;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) cap = rate_cap;
    return cap;
}

void slave_result(SlaveResult *out) {
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        *out = result;
        out->held = slave_state == 'C' || slave_state == 'N';
    }
}

const char *slave_ducoid(void) {
    static char text[23];
    memcpy(text, ducoid_reply, 22);
    text[22] = 0;
    return text;
}
