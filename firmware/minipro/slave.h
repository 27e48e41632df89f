// The protocol of docs/i2c-protocol.md (wire version e) as the sketch runs it: the
// command state machine and the replies, shared by the TWI ISR (twi_slave.cpp)
// and the Serial console (console.cpp), so both take the same bytes.
//
// slave_command() and slave_reply() run with interrupts off (inside the TWI
// ISR, or in an ATOMIC_BLOCK from the console). They only copy and check
// bytes (hex digits, a table-driven CRC-8); hashing, number formatting and
// EEPROM writes happen in loop(), which the ISR side asks for through
// slave_requests.
#ifndef MINIPRO_SLAVE_H
#define MINIPRO_SLAVE_H

#include <stdint.h>

#define SLAVE_WIRE_VERSION 'e'
#define SLAVE_MAX_TRANSFER 32  // a write of 32 bytes or more is over-long (verdict '>')
#define SLAVE_REPLY_MAX 25     // the longest reply: the DUCOID
#define SLAVE_MAX_DIFF 655     // 100 * diff fits the 16-bit nonce
#define SLAVE_DEFAULT_CAP 370  // H/s after every reset: just under the pool's AVR tier (380)
#define SLAVE_MIN_CAP 16       // W1..W15 act as 16: slower, a diff-655 job overflows the 32-bit elapsed_us
#define SLAVE_ERASED_ADDRESS 4 // EEPROM byte 0 > 127 (erased): docs/i2c-protocol.md section 2

// What the ISR side asks loop() to do (bits of slave_requests).
#define REQ_START 0x01  // a checked job (O) or H: hash it
#define REQ_ABORT 0x02  // A while hashing: stop at the next nonce
#define REQ_RESET 0x04  // X: restart through the watchdog
#define REQ_MOVE 0x08   // V: use and store slave_new_address

extern volatile uint8_t slave_state;    // 'Z' 'I' 'L' 'B' 'C' 'N' 'R' 'E'
extern volatile uint8_t slave_verdict;  // ' ' '?' '!' '#' '>' '^' '+'
extern volatile uint8_t slave_requests;
extern volatile uint8_t slave_new_address;

struct SlaveJob {
    char last_hash[40];  // as sent, hashed as is
    uint8_t target[20];
    uint16_t diff;
    uint16_t cap;  // H/s, 0 = flat out (already raised to SLAVE_MIN_CAP)
};

struct SlaveResult {
    uint8_t held;  // 0 unless the state is C or N
    uint16_t nonce;
    uint32_t elapsed_us;
};

// Power-on state (Z) and the DUCOID reply from the chip's 8-byte serial.
void slave_init(const uint8_t *serial8);

// One write: slave_byte() for each byte as it arrives (index 0: the command
// letter; bytes past the 32nd are not passed), then slave_command() with all
// of them (n >= SLAVE_MAX_TRANSFER: over-long; msg unused).
void slave_byte(uint8_t index, uint8_t byte);
void slave_command(const uint8_t *msg, uint8_t n);

// The selected reply, as a read would return it now: into out, returns its length.
uint8_t slave_reply(uint8_t *out);

// Is this command letter a selector (S R E I: the reply changes, nothing else)?
bool slave_is_selector(uint8_t letter);

// loop()'s side (call with interrupts on).
void slave_take_job(SlaveJob *job);  // the job REQ_START asks for; clears REQ_START
void slave_finish(bool found, uint16_t nonce, uint32_t elapsed_us);  // B -> C or N
void slave_abort_done(void);  // B -> I after REQ_ABORT
uint16_t slave_cap(void);     // the rate cap W set (0 = none)
void slave_result(SlaveResult *result);
const char *slave_ducoid(void);  // "DUCOID" + 16 hex, NUL-terminated

#endif
