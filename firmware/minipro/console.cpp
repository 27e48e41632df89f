// Serial console. A line that is not one of the local words goes to
// slave_command() exactly as an I2C write of the same bytes would (so a typo
// is an unknown command: verdict '?'); the answer is the reply an I2C read
// would then return, and for a refused command a short reason.
#include "console.h"

#include <Arduino.h>
#include <string.h>
#include <util/atomic.h>

#include "board.h"
#include "duco_hash.h"
#include "slave.h"

#define BAUD 38400

static char line[SLAVE_MAX_TRANSFER];  // what is kept of the line being typed
static uint8_t typed;                   // its length (saturates at 255)
static bool after_cr;

// The official self-test job (docs/i2c-protocol.md section 4.1): nonce 50 at diff 10.
static const char TEST_LAST[] PROGMEM = "ba29a15896fd2d792d5c4b60668bf2b9feebc51d";
static const uint8_t TEST_TARGET[20] PROGMEM = {0xd0, 0xbe, 0xba, 0x88, 0x3d, 0x7e, 0x8c, 0xd1, 0x19, 0xea,
                                                0x2b, 0x0e, 0x09, 0xb7, 0x8f, 0x60, 0xf2, 0x9e, 0x09, 0x68};
#define TEST_NONCE 50
#define TEST_LAST_NONCE 1000

static void state_name(uint8_t state) {
    switch (state) {
    case 'Z': Serial.print(F("booted")); break;
    case 'I': Serial.print(F("idle")); break;
    case 'L': Serial.print(F("loading a job")); break;
    case 'B': Serial.print(F("hashing")); break;
    case 'C': Serial.print(F("nonce found")); break;
    case 'N': Serial.print(F("no nonce in range")); break;
    case 'R': Serial.print(F("job refused")); break;
    case 'E': Serial.print(F("job CRC error")); break;
    }
}

// hashes per second with one decimal, from a count and microseconds
static void print_rate(uint32_t hashes, uint32_t us) {
    uint32_t tenths;  // hashes * 10^7 / us without overflowing 32 bits (hashes <= 65501)
    if (hashes < 40000) tenths = us >= 100 ? hashes * 100000UL / (us / 100) : 0;
    else tenths = us >= 1000 ? hashes * 10000UL / (us / 1000) : 0;
    Serial.print(tenths / 10);
    Serial.print('.');
    Serial.print(tenths % 10);
    Serial.print(F(" H/s"));
}

static void print_cap(void) {
    uint16_t cap = slave_cap();
    Serial.print(F("rate cap "));
    if (cap) {
        Serial.print(cap < SLAVE_MIN_CAP ? SLAVE_MIN_CAP : cap);
        Serial.print(F(" H/s"));
    } else Serial.print(F("off"));
}

static void help(void) {
    Serial.println(F("I2C commands, same bytes: S R E I A H X L.. M.. N.. O..,diff,crc D<diff> V<08..99> W<H/s>"));
    Serial.println(F("local: status  address  test (hash the official job, print H/s)  help"));
}

static void status(void) {
    SlaveResult result;
    slave_result(&result);
    Serial.print(F("state "));
    Serial.write(slave_state);
    Serial.print(F(" ("));
    state_name(slave_state);
    Serial.print(F("), last verdict '"));
    Serial.write(slave_verdict);
    Serial.print(F("', I2C address "));
    Serial.print(TWAR >> 1);
    Serial.print(F(", "));
    print_cap();
    Serial.println();
    if (result.held) {
        Serial.print(F("result: nonce "));
        Serial.print(result.nonce);
        Serial.print(F(" after "));
        Serial.print(result.elapsed_us);
        Serial.print(F(" us = "));
        print_rate((uint32_t)result.nonce + 1, result.elapsed_us);
        Serial.println();
    }
    Serial.print(slave_ducoid());
    Serial.print(F(", wire version e, "));
    Serial.print(F_CPU / 1000000UL);
    Serial.print(F(" MHz, started by "));
    switch (board_boot_cause()) {
    case BOOT_WATCHDOG: Serial.print(F("the watchdog (hung)")); break;
    case BOOT_COMMAND: Serial.print(F("X")); break;
    case BOOT_HW_WATCHDOG: Serial.print(F("a watchdog reset")); break;
    default: Serial.print(F("power-on or reset")); break;
    }
    Serial.print(F(", up "));
    Serial.print(millis() / 1000);
    Serial.println(F(" s"));
}

static void address(void) {
    uint8_t stored = board_eeprom_address();
    Serial.print(F("I2C address "));
    Serial.print(TWAR >> 1);
    Serial.print(F(" (EEPROM byte 0: "));
    Serial.print(stored);
    if (stored > 127) Serial.print(F(", erased"));
    Serial.println(F("); V08..V99 moves it"));
}

// The official job, flat out (no cap): nonce 50, then on to 1000 for the rate.
static void self_test(void) {
    if (slave_state == 'B') {
        Serial.println(F("! busy hashing (A stops it)"));
        return;
    }
    char last[40];
    uint8_t target[20];
    memcpy_P(last, TEST_LAST, sizeof last);
    memcpy_P(target, TEST_TARGET, sizeof target);
    uint32_t t0 = micros();
    duco_job(last, target);
    uint32_t found = DUCO_NOT_FOUND;
    for (uint32_t from = 0; from <= TEST_LAST_NONCE;) {  // 0.1 s chunks at 8 MHz
        uint32_t to = from + 99 > TEST_LAST_NONCE ? TEST_LAST_NONCE : from + 99;
        uint32_t nonce = duco_search(from, to);
        if (nonce != DUCO_NOT_FOUND && found == DUCO_NOT_FOUND) found = nonce;
        from = nonce != DUCO_NOT_FOUND ? nonce + 1 : to + 1;  // a hit ends the call: go on after it
        board_pet();
    }
    uint32_t us = micros() - t0;
    Serial.print(found == TEST_NONCE ? F("self-test ok: nonce 50, ") : F("SELF-TEST FAILED: wrong nonce, "));
    Serial.print(TEST_LAST_NONCE + 1);
    Serial.print(F(" hashes in "));
    Serial.print(us);
    Serial.print(F(" us = "));
    print_rate(TEST_LAST_NONCE + 1, us);
    Serial.print(F(" flat out; "));
    print_cap();
    Serial.println();
}

static void refused(uint8_t letter, uint8_t verdict) {
    switch (verdict) {
    case '?': Serial.print(F("? unknown command (help lists them)")); break;
    case '!': Serial.print(F("! not now (hashing, or no result to hash again)")); break;
    case '#':
        if (letter == 'V') Serial.print(F("# address must be 08..99"));
        else Serial.print(F("# bad argument"));
        break;
    case '>': Serial.print(F("> too long (31 bytes at most)")); break;
    case '^': Serial.print(F("^ job chunk out of order (start with L)")); break;
    case '+': Serial.print(F("+ difficulty must be 1..655")); break;
    }
}

// A protocol command: the same bytes as an I2C write, then the reply of a read.
static void command(void) {
    uint8_t reply[SLAVE_REPLY_MAX], length, verdict;
    uint8_t letter = line[0];
    uint8_t n = typed < SLAVE_MAX_TRANSFER ? typed : SLAVE_MAX_TRANSFER;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        for (uint8_t i = 0; i < n; i++) slave_byte(i, line[i]);
        slave_command((const uint8_t *)line, n);
        length = slave_reply(reply);
        verdict = slave_verdict;
    }
    Serial.write(reply, length);
    if (!slave_is_selector(letter) && verdict != ' ') {
        Serial.print(F("  "));
        refused(typed >= SLAVE_MAX_TRANSFER ? 0 : letter, verdict);
    }
    Serial.println();
}

static bool is(const char *word) { return typed == strlen_P(word) && !strncmp_P(line, word, typed); }

static void run_line(void) {
    if (!typed) return;
    if (is(PSTR("help"))) help();
    else if (is(PSTR("status"))) status();
    else if (is(PSTR("address"))) address();
    else if (is(PSTR("test"))) self_test();
    else command();
}

// Short enough for the 64-byte transmit buffer: setup() does not wait for it.
void console_begin(void) {
    Serial.begin(BAUD);
    Serial.print(F("\r\nducorig Pro Mini, wire version e, I2C address "));
    Serial.print(TWAR >> 1);
    Serial.println(F(". Type help."));
}

void console_poll(void) {
    while (Serial.available()) {
        int c = Serial.read();
        if (c == '\r' || c == '\n') {
            if (c == '\n' && after_cr) {  // CR LF is one line end
                after_cr = false;
                continue;
            }
            after_cr = c == '\r';
            Serial.println();
            run_line();
            typed = 0;
            continue;
        }
        after_cr = false;
        if (c == '\b' || c == 0x7F) {
            if (typed) {
                typed--;
                Serial.print(F("\b \b"));
            }
        } else if (c >= ' ' && c <= '~') {
            if (typed < sizeof line) line[typed] = c;
            if (typed < 255) typed++;
            Serial.write(c);  // echo
        }
    }
}
