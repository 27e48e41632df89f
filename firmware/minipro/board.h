// The Pro Mini itself: watchdog and restarts, sleeping between nonces,
// the LED, the chip's serial number, the address in EEPROM, and the GPIOR0
// marks the simavr harness (sim/avrsim.c) timestamps.
#ifndef MINIPRO_BOARD_H
#define MINIPRO_BOARD_H

#include <stdint.h>

// GPIOR0 marks: one OUT each, nothing on a real board.
#define MARK_READY 0x10  // setup() done, on the bus
#define MARK_START 0x01  // hashing starts (after the job's set-up)
#define MARK_END 0x02    // the result is taken (just before it is published)

// Why the sketch (re)started; board_boot_cause() returns one of these.
#define BOOT_POWER 'P'     // power-on, brown-out or reset pin (or flags cleared by a bootloader)
#define BOOT_WATCHDOG 'W'  // loop() hung: the watchdog interrupt restarted the sketch
#define BOOT_COMMAND 'X'   // the X command
#define BOOT_HW_WATCHDOG 'H'  // a watchdog system reset (interrupts were off)

void board_begin(void);  // LED pin, sleep mode, watchdog on
uint8_t board_boot_cause(void);
void board_pet(void);  // the watchdog: at least every 500 ms
void board_restart(uint8_t cause) __attribute__((noreturn));  // off the bus, then restart
void board_led(bool on);
void board_ready(bool low);  // the shared ready line (D4, open drain): low while a result is held
// Sleep until an interrupt, or about at_most_us (0: no limit); not at all if
// work() (asked with interrupts off, so no wake-up is lost) says there is some.
void board_sleep(uint32_t at_most_us, bool (*work)(void));
void board_serial(uint8_t *serial8);     // the last 8 bytes of the signature-row ID
uint8_t board_address(void);             // from EEPROM byte 0 (> 127: SLAVE_ERASED_ADDRESS)
uint8_t board_eeprom_address(void);      // the raw byte
void board_store_address(uint8_t address);

#endif
