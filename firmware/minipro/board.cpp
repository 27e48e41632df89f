// Watchdog, restarts, sleep, LED, chip ID, EEPROM address.
//
// Watchdog: interrupt first, system reset only as a last resort. The stock
// bootloader of the 16 MHz Pro Mini (ATmegaBOOT_168_atmega328, built without
// WATCHDOG_MODS) leaves the watchdog running at 16 ms after a watchdog
// *reset* and then waits about a second for an upload: it resets again and
// again, forever. So the watchdog runs in "interrupt and reset" mode: a hung
// loop() (interrupts still on) takes the watchdog interrupt, whose handler
// quiets the peripherals and jumps to the sketch's own reset vector. No
// reset happens, the bootloader never runs, any bootloader is fine. Only if
// interrupts stay off (a hung ISR) does the next time-out reset the chip;
// with Optiboot (or the 8 MHz Pro Mini bootloader) that recovers too.
// X restarts the same way (watchdog interrupt after 16 ms).
#include "board.h"

#include <Arduino.h>
#include <avr/boot.h>
#include <avr/eeprom.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <util/atomic.h>

#include "slave.h"

#define RESTART_MAGIC 0xD5C0
#define LED_BIT _BV(PB5)    // LED_BUILTIN, pin 13
#define READY_BIT _BV(PD4)  // pin 4 (not INT0/INT1: simavr 1.6 polls a low INT pin every few cycles)

// Survive the jump to the reset vector (not cleared by the C start-up).
static uint16_t restart_magic __attribute__((section(".noinit")));
static uint8_t restart_cause __attribute__((section(".noinit")));
static uint8_t reset_flags __attribute__((section(".noinit")));
static volatile uint8_t pending_cause;
static uint8_t boot_cause;

// First thing after a reset, before the C start-up: keep MCUSR for the
// status, clear it and stop the watchdog (a bootloader may have left it on).
void board_early(void) __attribute__((naked, used, section(".init3")));
void board_early(void) {
    reset_flags = MCUSR;
    MCUSR = 0;
    wdt_disable();
}

// WDTCSR in one timed sequence (the change-enable window is 4 cycles), then
// a fresh count (simavr 1.6 applies a new prescaler only from the next WDR).
static void watchdog_set(uint8_t value) {
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        wdt_reset();
        WDTCSR = _BV(WDCE) | _BV(WDE);
        WDTCSR = value;
        wdt_reset();
    }
}

// A hung loop(), or X: quiet everything the sketch uses and start over.
ISR(WDT_vect, ISR_NAKED) {
    __asm__ __volatile__("clr __zero_reg__");  // the hash core may have been in a MUL
    restart_magic = RESTART_MAGIC;
    restart_cause = pending_cause ? pending_cause : BOOT_WATCHDOG;
    wdt_disable();
    TWCR = 0;
    UCSR0B = 0;
    TIMSK0 = 0;
    TIMSK1 = 0;
    TIMSK2 = 0;
    ADCSRA = 0;
    EIMSK = 0;
    PCICR = 0;
    SMCR = 0;
    DDRB = DDRC = DDRD = 0;
    PORTB = PORTC = PORTD = 0;
    __asm__ __volatile__("jmp 0");
}

void board_begin(void) {
    if (restart_magic == RESTART_MAGIC) boot_cause = restart_cause;
    else if (reset_flags & _BV(WDRF)) boot_cause = BOOT_HW_WATCHDOG;
    else boot_cause = BOOT_POWER;
    restart_magic = 0;
    DDRB |= LED_BIT;
    PORTB &= ~LED_BIT;
    set_sleep_mode(SLEEP_MODE_IDLE);  // TWI, UART and Timer0 keep running and wake us
    watchdog_set(_BV(WDIE) | _BV(WDE) | _BV(WDP2) | _BV(WDP0));  // 0.5 s, interrupt then reset
}

uint8_t board_boot_cause(void) { return boot_cause; }

void board_pet(void) { wdt_reset(); }

void board_restart(uint8_t cause) {
    TWCR = 0;  // off the bus now
    pending_cause = cause;
    watchdog_set(_BV(WDIE) | _BV(WDE));  // 16 ms
    sei();
    for (;;) {
    }
}

void board_led(bool on) {
    if (on) PORTB |= LED_BIT;
    else PORTB &= ~LED_BIT;
}

// Open drain on D4: driven low, or an input without pull-up (the master's
// pull-up to 3.3 V holds it high, so a 5 V board never drives the line high).
void board_ready(bool low) {
    PORTD &= ~READY_BIT;
    if (low) DDRD |= READY_BIT;
    else DDRD &= ~READY_BIT;
}

// Timer0 (set up by the Arduino core: prescaler 64, overflow every 256 ticks)
// wakes us every 1.024 ms (2.048 ms at 8 MHz); compare B wakes us earlier.
#define US_PER_TICK (64000000UL / F_CPU)

ISR(TIMER0_COMPB_vect) { TIMSK0 &= ~_BV(OCIE0B); }  // a wake-up, nothing more

void board_sleep(uint32_t at_most_us, bool (*work)(void)) {
    uint32_t ticks = at_most_us / US_PER_TICK;
    if (at_most_us && ticks < 2) return;  // too short to bother
    cli();
    if (work()) {
        sei();
        return;
    }
    if (at_most_us && ticks < 250) {
        OCR0B = TCNT0 + (uint8_t)ticks;
        TIFR0 = _BV(OCF0B);
        TIMSK0 |= _BV(OCIE0B);
    }
    sleep_enable();
    sei();
    sleep_cpu();  // the instruction after SEI runs first: no wake-up is lost
    sleep_disable();
    TIMSK0 &= ~_BV(OCIE0B);
}

// The unique ID as the official sketch reads it (ArduinoUniqueID on the
// ATmega328P): signature row 0x0E..0x13 and 0x15..0x17; DUCOID uses the last 8.
void board_serial(uint8_t *serial8) {
    for (uint8_t i = 0; i < 8; i++) {
        uint8_t addr = i < 5 ? 0x0F + i : 0x10 + i;
        ATOMIC_BLOCK(ATOMIC_RESTORESTATE) serial8[i] = boot_signature_byte_get(addr);  // SIGRD lasts 3 cycles
    }
}

uint8_t board_eeprom_address(void) { return eeprom_read_byte((const uint8_t *)0); }

uint8_t board_address(void) {
    uint8_t address = board_eeprom_address();
    return address > 127 ? SLAVE_ERASED_ADDRESS : address;
}

void board_store_address(uint8_t address) { eeprom_update_byte((uint8_t *)0, address); }
