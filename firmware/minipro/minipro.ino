// ducorig: the Arduino Pro Mini (ATmega328P, 5 V/16 MHz or 3.3 V/8 MHz)
// hashing slave. It speaks docs/i2c-protocol.md (wire version e) on I2C and the
// same commands on Serial (38400 Bd), and hashes DUCO-S1 with the assembler
// core in duco_hash.S (2,052 H/s at 16 MHz flat out), idling between
// nonces to stay under the rate cap the master sets with W (370 H/s after
// every reset, just under the pool's AVR tier).
//
// Files: slave.cpp (the protocol state machine), twi_slave.cpp (the I2C ISR),
// console.cpp (Serial), board.cpp (watchdog, sleep, LED, chip ID, EEPROM),
// duco_hash.* (DUCO-S1). Build: make -C firmware/minipro (README.md), or the
// Arduino IDE with board "Arduino Pro or Pro Mini".
#include <Arduino.h>
#include <util/atomic.h>

#include "board.h"
#include "console.h"
#include "duco_hash.h"
#include "slave.h"
#include "twi_slave.h"

// Nonces per duco_search() call: about 2 ms of hashing, so A and X act
// within a few ms and the rate cap can idle in between.
#define CHUNK (F_CPU / 4000000UL)

void setup();
void loop();
bool work_waiting();
void service();
void mine();
void idle_until(uint32_t t0, uint32_t due_us);
uint32_t due_after(uint32_t hashes, uint16_t cap);

void setup() {
    board_begin();  // watchdog on, LED off
    uint8_t serial[8];
    board_serial(serial);
    slave_init(serial);
    twi_slave_begin(board_address());  // on the bus: state Z
    console_begin();
    GPIOR0 = MARK_READY;
}

void loop() {
    service();
    uint8_t requests = slave_requests;
    if (requests & REQ_RESET) board_restart(BOOT_COMMAND);
    else if (requests & REQ_ABORT) slave_abort_done();
    else if (requests & REQ_START) mine();
    else board_sleep(0, work_waiting);  // until the next interrupt (Timer0: every 1 ms)
}

// Anything for loop() to do (asked with interrupts off)?
bool work_waiting() { return slave_requests || Serial.available(); }

// Everything loop() does besides hashing; also called between nonces.
void service() {
    board_pet();
    console_poll();
    if (slave_requests & REQ_MOVE) {
        uint8_t address;
        ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
            address = slave_new_address;
            slave_requests &= ~REQ_MOVE;
        }
        twi_slave_move(address);       // answers there at once
        board_store_address(address);  // 3.3 ms of EEPROM write, in the background
    }
    uint8_t state = slave_state;
    board_led(state == 'L' || state == 'B');
    board_ready(state == 'C' || state == 'N');
}

// The time hashing must have taken after `hashes` nonces to stay at or under
// cap H/s: ceil(hashes * 10^6 / cap) us, in 32 bits (hashes <= 65501, cap >= 16),
// plus one micros() step, so that the true time (not only the reported) is enough.
uint32_t due_after(uint32_t hashes, uint16_t cap) {
    uint32_t whole = 1000000UL / cap, rest = 1000000UL % cap;
    return hashes * whole + (hashes * rest + cap - 1) / cap + 64000000UL / F_CPU;
}

// Sleep (and serve the console) until due_us after t0, or until A or X.
void idle_until(uint32_t t0, uint32_t due_us) {
    for (;;) {
        uint32_t spent = micros() - t0;
        if (spent >= due_us || (slave_requests & (REQ_ABORT | REQ_RESET))) return;
        service();
        board_sleep(due_us - spent, work_waiting);
    }
}

// Hash the job slave_take_job() gives: nonces 0..100*diff, paced by the cap.
void mine() {
    SlaveJob job;
    slave_take_job(&job);
    board_led(true);
    duco_job(job.last_hash, job.target);
    const uint16_t last = 100 * job.diff;
    GPIOR0 = MARK_START;
    uint32_t t0 = micros();
    for (uint16_t from = 0;;) {
        uint16_t to = last - from < CHUNK ? last : from + CHUNK - 1;
        uint32_t hit = duco_search(from, to);
        uint32_t hashes = (hit == DUCO_NOT_FOUND ? to : hit) + 1UL;
        if (job.cap) idle_until(t0, due_after(hashes, job.cap));
        if (slave_requests & (REQ_ABORT | REQ_RESET)) return;  // loop() handles them
        if (hit != DUCO_NOT_FOUND || to == last) {
            uint32_t elapsed_us = micros() - t0;  // idling included: the capped rate
            GPIOR0 = MARK_END;
            slave_finish(hit != DUCO_NOT_FOUND, hashes - 1, elapsed_us);
            service();  // the ready line goes low now
            return;
        }
        from = to + 1;
        service();
    }
}
