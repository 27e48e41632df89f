/* avrsim: the Pro Mini sketch (minipro.elf) in simavr, its I2C bus and UART
 * driven by host code through stdin/stdout (scripts/ducorig_host/simbus/avr.py).
 *
 *   avrsim [-f HZ] [-b BUS_HZ] [-e EEPROM_FILE] [-s SERIAL] [-r] minipro.elf
 *
 * -f  CPU clock (16000000)        -b  I2C clock (100000)
 * -e  EEPROM image, read at start (missing: erased, all 0xFF), rewritten
 *     whenever the firmware changed it: one file per simulated chip
 * -s  16 hex digits: the chip's serial in the signature row (0x0F..0x13,
 *     0x15..0x17), which simavr 1.6 does not model (LPM after SIGRD reads
 *     the flash instead): this harness swaps the row in for that one LPM
 * -r  real time: the AVR runs on, throttled to the wall clock, and commands
 *     act when they arrive. Default: lockstep, simulated time advances only
 *     inside commands (deterministic, as fast as the host allows).
 *
 * The I2C bus is modelled at register level (simavr's avr_twi_t, avr_twi.h):
 * the harness takes over the TWI registers of Debian's libsimavr 1.6 (whose
 * own slave emulation is broken) and plays the master side of the
 * ATmega328P datasheet's slave receiver/transmitter tables, with SCL
 * stretched for as long as TWINT stays set, and bit times from -b.
 *
 * Commands (one line each; every reply starts with '@'; libsimavr's own
 * stdout lines must be ignored):
 *   S <cycle> [<wall ms>]  run until that cycle (lockstep; at most wall ms)
 *   T <us>                 run that long (lockstep)
 *   A <addr> <timeout_us>          START and the address byte: does the slave ACK?
 *                                  (a W or R to that address next continues it)
 *   W <addr> <timeout_us> <hex|->  a write transaction (or the rest of one after A)
 *   R <addr> <timeout_us> <n>      a read transaction (or the rest of one after A)
 *   U <hex>                bytes into the UART (one per character time)
 *   K <data addr> <n>      peek at registers / SRAM
 *   H                      hang: loop() stuck in an endless loop, interrupts on
 *   P                      nothing (the state line only)
 *   Q                      quit
 * Replies: "@<cmd> <cycle> <sleep_cycles> <address> <armed> <ready> <result...>",
 * where address = TWAR >> 1, armed = TWEN && TWEA (it ACKs its address) and
 * ready = the level of the ready line (D4, open drain: 0 while driven low).
 * A: ACK | NACK | TIMEOUT;  W: OK <acks> <stretch_us> | NACK | TIMEOUT;
 * R: OK <hex> <stretch_us> | NACK | TIMEOUT;  K: <hex>. Lines the AVR causes on its own:
 * "@O <hex>" UART output, "@M <value> <cycle> <sleep_cycles>" GPIOR0 writes,
 * "@B <cycle>" a reset by the watchdog, "@X <why>" crash (then exit 3). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avr_eeprom.h"
#include "avr_twi.h"
#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_io.h"
#include "sim_irq.h"

#define GPIOR0_ADDR 0x3E
#define SPMCSR_ADDR 0x57
#define SIGRD_SPMEN 0x21
#define EEPROM_SIZE 1024
#define UART_BAUD 38400
/* TWCR bits */
#define TWINT 0x80
#define TWEA 0x40
#define TWSTO 0x10
#define TWWC 0x08
#define TWEN 0x04

enum { UNADDRESSED, RECEIVING, TRANSMITTING };

static struct sim {
    avr_t *avr;
    avr_twi_t *twi;
    avr_eeprom_t *eeprom; /* its bytes directly: libsimavr 1.6's EEPROM ioctls reject the full size */
    uint32_t freq, bit; /* CPU Hz, cycles per I2C bit */
    int realtime;
    int mode; /* of the slave's TWI: UNADDRESSED, RECEIVING, TRANSMITTING */
    uint64_t sleep_cycles;
    /* UART */
    avr_irq_t *uart_in;
    uint8_t rx[4096];
    int rx_head, rx_tail;
    int rx_pumping;
    char out[65536];
    size_t out_len;
    /* EEPROM */
    const char *eeprom_path;
    uint8_t eeprom_saved[EEPROM_SIZE];
    /* signature row */
    uint8_t sigrow[32], flash_saved[32];
    int sig_swapped;
} S;

static void die(const char *why) {
    printf("@X %s\n", why);
    fflush(stdout);
    exit(3);
}

static void emit(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(S.out + S.out_len, sizeof S.out - S.out_len, fmt, ap);
    va_end(ap);
    if (n > 0 && S.out_len + n < sizeof S.out) S.out_len += n;
}

static char uart_line[8192];
static size_t uart_len;

static void flush_uart(void) {
    if (!uart_len) return;
    emit("@O ");
    for (size_t i = 0; i < uart_len; i++) emit("%02x", (uint8_t)uart_line[i]);
    emit("\n");
    uart_len = 0;
}

static void flush_out(void) {
    flush_uart();
    if (S.out_len) {
        fwrite(S.out, 1, S.out_len, stdout);
        S.out_len = 0;
    }
    fflush(stdout);
}

static void logger(avr_t *avr, const int level, const char *fmt, va_list ap) {
    (void)avr;
    if (level <= LOG_ERROR) vfprintf(stderr, fmt, ap);
}

/* ---- time ---------------------------------------------------------------- */

static void no_sleep(avr_t *avr, avr_cycle_count_t how_long) {
    (void)avr;
    S.sleep_cycles += how_long + 1; /* the run loop adds 1 + how_long cycles next */
}

static void step(void) {
    int state = avr_run(S.avr);
    if (state == cpu_Done) die("the AVR stopped (sleep with interrupts off)");
    if (state == cpu_Crashed) die("the AVR crashed");
}

static avr_cycle_count_t wake(avr_t *avr, avr_cycle_count_t when, void *param) {
    (void)avr, (void)when, (void)param;
    return 0;
}

/* Run until the cycle count reaches target (a sleeping AVR too: a timer ends the sleep there). */
static void run_until(avr_cycle_count_t target) {
    avr_t *avr = S.avr;
    if (avr->cycle >= target) return;
    avr_cycle_timer_register(avr, target - avr->cycle, wake, &S);
    while (avr->cycle < target) step();
}

static void run_for(avr_cycle_count_t cycles) { run_until(S.avr->cycle + cycles); }

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- UART ----------------------------------------------------------------- */

static void uart_output(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq, (void)param;
    if (uart_len < sizeof uart_line) uart_line[uart_len++] = (char)value;
    if (uart_len == sizeof uart_line) flush_uart();
}

/* One byte into the UART per character time (10 bits at UART_BAUD). */
static avr_cycle_count_t uart_pump(avr_t *avr, avr_cycle_count_t when, void *param) {
    (void)param;
    if (S.rx_head == S.rx_tail) {
        S.rx_pumping = 0;
        return 0;
    }
    avr_raise_irq(S.uart_in, S.rx[S.rx_tail]);
    S.rx_tail = (S.rx_tail + 1) % (int)sizeof S.rx;
    return when + (avr_cycle_count_t)avr->frequency * 10 / UART_BAUD;
}

static void uart_input(const uint8_t *bytes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int next = (S.rx_head + 1) % (int)sizeof S.rx;
        if (next == S.rx_tail) break;
        S.rx[S.rx_head] = bytes[i];
        S.rx_head = next;
    }
    if (!S.rx_pumping && S.rx_head != S.rx_tail) {
        S.rx_pumping = 1;
        avr_cycle_timer_register(S.avr, 1, uart_pump, &S);
    }
}

/* ---- EEPROM --------------------------------------------------------------- */

static void eeprom_load(void) {
    uint8_t image[EEPROM_SIZE];
    memset(image, 0xFF, sizeof image);
    FILE *f = S.eeprom_path ? fopen(S.eeprom_path, "rb") : NULL;
    if (f) {
        if (fread(image, 1, sizeof image, f) == 0) memset(image, 0xFF, sizeof image);
        fclose(f);
    }
    memcpy(S.eeprom->eeprom, image, sizeof image);
    memcpy(S.eeprom_saved, image, sizeof image);
}

static void eeprom_save(void) {
    const uint8_t *image = S.eeprom->eeprom;
    if (!S.eeprom_path || !memcmp(image, S.eeprom_saved, EEPROM_SIZE)) return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", S.eeprom_path);
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(image, 1, EEPROM_SIZE, f) != EEPROM_SIZE || fclose(f) || rename(tmp, S.eeprom_path))
        die("cannot write the EEPROM file");
    memcpy(S.eeprom_saved, image, EEPROM_SIZE);
}

/* ---- signature row, marks, resets ------------------------------------------ */

static avr_cycle_count_t sig_restore(avr_t *avr, avr_cycle_count_t when, void *param) {
    (void)when, (void)param;
    if (S.sig_swapped) memcpy(avr->flash, S.flash_saved, sizeof S.flash_saved);
    S.sig_swapped = 0;
    return 0;
}

/* SIGRD|SPMEN in SPMCSR: the next LPM (within 3 cycles) reads the signature row. */
static void spmcsr_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param) {
    (void)param;
    avr->data[addr] = v;
    if ((v & SIGRD_SPMEN) != SIGRD_SPMEN || S.sig_swapped) return;
    memcpy(S.flash_saved, avr->flash, sizeof S.flash_saved);
    memcpy(avr->flash, S.sigrow, sizeof S.sigrow);
    S.sig_swapped = 1;
    avr_cycle_timer_register(avr, 4, sig_restore, &S);
}

static void gpior0_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param) {
    (void)param;
    avr->data[addr] = v;
    emit("@M %u %" PRIu64 " %" PRIu64 "\n", v, (uint64_t)avr->cycle, S.sleep_cycles);
}

static void (*core_reset)(avr_t *avr);

static void on_reset(avr_t *avr) {
    if (core_reset) core_reset(avr);
    S.mode = UNADDRESSED;
    S.sig_swapped = 0;
    S.rx_pumping = 0; /* avr_reset dropped the cycle timers */
    if (avr->state != cpu_Limbo) emit("@B %" PRIu64 "\n", (uint64_t)avr->cycle);
}

/* ---- the TWI, register level --------------------------------------------- */

#define TWCR_OF(avr) ((avr)->data[S.twi->r_twcr])

static void set_status(uint8_t status) {
    uint8_t *twsr = &S.avr->data[S.twi->r_twsr];
    *twsr = (*twsr & 0x03) | status;
}

static void twcr_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param) {
    (void)param;
    uint8_t old = avr->data[addr];
    uint8_t now = (v & ~(TWINT | TWWC)) | (old & (TWINT | TWWC)); /* TWINT: cleared by writing 1 */
    avr->data[addr] = now;
    if (v & TWINT) {
        avr_clear_interrupt(avr, &S.twi->twi);
        avr->data[addr] &= ~TWINT;
        set_status(0xF8); /* no state information while TWINT is low */
    }
    if (now & TWSTO) { /* slave mode: back to unaddressed (bus error recovery) */
        avr->data[addr] &= ~TWSTO;
        S.mode = UNADDRESSED;
    }
    if (!(now & TWEN)) { /* switched off: every transfer ends, nothing pending */
        S.mode = UNADDRESSED;
        if (avr->data[addr] & TWINT) {
            avr_clear_interrupt(avr, &S.twi->twi);
            avr->data[addr] &= ~TWINT;
        }
    } else if ((avr->data[addr] & TWINT) && (now & 0x01) && !(old & 0x01)) {
        avr_raise_interrupt(avr, &S.twi->twi); /* TWIE set while TWINT is: the interrupt is level-triggered */
    }
}

static void twsr_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param) {
    (void)param;
    avr->data[addr] = (avr->data[addr] & 0xF8) | (v & 0x03); /* only the prescaler is writable */
}

static void event(uint8_t status) {
    set_status(status);
    avr_raise_interrupt(S.avr, &S.twi->twi); /* sets TWINT; SCL is held low until it is cleared */
}

/* Wait while the slave holds SCL low (TWINT set): 0, or -1 past the timeout. */
static int stretch(avr_cycle_count_t timeout, avr_cycle_count_t *longest) {
    avr_t *avr = S.avr;
    avr_cycle_count_t start = avr->cycle;
    while (TWCR_OF(avr) & TWINT) {
        if (avr->cycle - start > timeout) return -1;
        step();
    }
    if (avr->cycle - start > *longest) *longest = avr->cycle - start;
    return 0;
}

static int armed(void) {
    uint8_t twcr = TWCR_OF(S.avr);
    return (twcr & TWEN) && (twcr & TWEA);
}

static int address(void) { return S.avr->data[S.twi->r_twar] >> 1; }

/* START: a pending event of the last transaction (its STOP) holds SCL first;
 * one left addressed by a master that timed out sees this START as its end. */
static int start(avr_cycle_count_t timeout, avr_cycle_count_t *longest) {
    run_for(3 * S.bit / 2);
    if (stretch(timeout, longest)) return -1;
    if (S.mode == RECEIVING) {
        S.mode = UNADDRESSED;
        event(0xA0);
        if (stretch(timeout, longest)) return -1;
    }
    S.mode = UNADDRESSED;
    return 0;
}

/* The slave ACKs SLA if enabled, armed and the address matches (TWAMR masks bits). */
static int addressed(int addr) {
    avr_t *avr = S.avr;
    uint8_t mask = ~avr->data[S.twi->r_twamr] >> 1;
    return armed() && ((addr ^ address()) & mask & 0x7F) == 0;
}

#define DDRD_ADDR 0x2A
#define PORTD_ADDR 0x2B
#define READY_PIN 0x10 /* PD4 */

static int ready_level(void) {
    avr_t *avr = S.avr;
    return !((avr->data[DDRD_ADDR] & READY_PIN) && !(avr->data[PORTD_ADDR] & READY_PIN));
}

static void reply_head(char cmd) {
    emit("@%c %" PRIu64 " %" PRIu64 " %d %d %d", cmd, (uint64_t)S.avr->cycle, S.sleep_cycles, address(), armed(),
         ready_level());
}

static double us_of(avr_cycle_count_t cycles) { return cycles * 1e6 / S.freq; }

/* An address phase done by A, waiting for the W or R that goes on with it. */
static int pending_addr = -1;
static avr_cycle_count_t pending_longest;

/* START and the address byte; the slave decides at the ACK bit: 1 ACK, 0 NACK
 * (then the master's STOP), -1 SCL held past the timeout before the address. */
static int address_phase(int addr, avr_cycle_count_t timeout, avr_cycle_count_t *longest) {
    if (start(timeout, longest)) return -1;
    run_for(9 * S.bit);
    int ack = addressed(addr);
    run_for(S.bit);
    if (!ack) run_for(2 * S.bit);
    return ack;
}

/* The address phase of a W or R: the one A did, or a new one. */
static int begin(int addr, avr_cycle_count_t timeout, avr_cycle_count_t *longest) {
    if (pending_addr == addr) {
        pending_addr = -1;
        *longest = pending_longest;
        return 1;
    }
    pending_addr = -1;
    return address_phase(addr, timeout, longest);
}

static void twi_address(int addr, avr_cycle_count_t timeout) {
    avr_cycle_count_t longest = 0;
    int ack = address_phase(addr, timeout, &longest);
    pending_addr = ack > 0 ? addr : -1;
    pending_longest = longest;
    reply_head('A');
    emit(ack > 0 ? " ACK\n" : ack ? " TIMEOUT\n" : " NACK\n");
}

static void twi_write(int addr, avr_cycle_count_t timeout, const uint8_t *data, int n) {
    avr_t *avr = S.avr;
    avr_cycle_count_t longest = 0;
    int acks = 0;
    int ack = begin(addr, timeout, &longest);
    if (ack < 0) goto timed_out;
    if (!ack) {
        reply_head('W');
        emit(" NACK\n");
        return;
    }
    S.mode = RECEIVING;
    event(0x60);
    if (stretch(timeout, &longest)) goto timed_out;
    for (int i = 0; i < n; i++) {
        run_for(10 * S.bit);
        if (S.mode != RECEIVING) break; /* the slave left (TWEN off): NACK */
        int ack = TWCR_OF(avr) & TWEA;
        avr->data[S.twi->r_twdr] = data[i];
        event(ack ? 0x80 : 0x88);
        if (stretch(timeout, &longest)) goto timed_out;
        if (!ack) {
            S.mode = UNADDRESSED;
            break;
        }
        acks++;
    }
    run_for(2 * S.bit); /* STOP */
    if (S.mode == RECEIVING) {
        S.mode = UNADDRESSED;
        event(0xA0); /* handled while the bus is idle; the next START waits for it */
    }
    reply_head('W');
    emit(" OK %d %.0f\n", acks, us_of(longest));
    return;
timed_out:
    reply_head('W');
    emit(" TIMEOUT\n");
}

static void twi_read(int addr, avr_cycle_count_t timeout, int n) {
    avr_t *avr = S.avr;
    avr_cycle_count_t longest = 0;
    uint8_t data[256];
    int ack = begin(addr, timeout, &longest);
    if (ack < 0) goto timed_out;
    if (!ack) {
        reply_head('R');
        emit(" NACK\n");
        return;
    }
    S.mode = TRANSMITTING;
    event(0xA8);
    if (stretch(timeout, &longest)) goto timed_out;
    for (int i = 0; i < n; i++) {
        int last = !(TWCR_OF(avr) & TWEA); /* the slave loaded its last byte */
        data[i] = S.mode == TRANSMITTING ? avr->data[S.twi->r_twdr] : 0xFF;
        run_for(10 * S.bit);
        if (S.mode != TRANSMITTING) continue; /* SDA released: 0xFF */
        if (i == n - 1) event(0xC0);          /* the master NACKs its last byte */
        else event(last ? 0xC8 : 0xB8);
        if (stretch(timeout, &longest)) goto timed_out;
        if (i == n - 1 || last) S.mode = UNADDRESSED;
    }
    run_for(2 * S.bit);
    reply_head('R');
    emit(" OK ");
    for (int i = 0; i < n; i++) emit("%02x", data[i]);
    if (!n) emit("-");
    emit(" %.0f\n", us_of(longest));
    return;
timed_out:
    reply_head('R');
    emit(" TIMEOUT\n");
}

/* ---- commands ------------------------------------------------------------ */

static int unhex(const char *hex, uint8_t *out, int max) {
    if (!strcmp(hex, "-")) return 0;
    int n = strlen(hex) / 2;
    if ((int)strlen(hex) != 2 * n || n > max) return -1;
    for (int i = 0; i < n; i++)
        if (sscanf(hex + 2 * i, "%2hhx", &out[i]) != 1) return -1;
    return n;
}

/* An endless loop with interrupts on, as a bug in loop() would leave it: a
 * "rjmp ." in the (unused) last flash word, the PC there, I set. */
static void hang(void) {
    avr_t *avr = S.avr;
    avr_flashaddr_t at = avr->flashend - 1;
    avr->flash[at] = 0xFF;
    avr->flash[at + 1] = 0xCF;
    avr->pc = at;
    avr->sreg[S_I] = 1;
    avr->data[R_SREG] |= 0x80;
    if (avr->state == cpu_Sleeping) avr->state = cpu_Running;
}

static int command(char *line) {
    char hex[1024];
    unsigned addr, n;
    uint64_t cycle, timeout_us, wall_ms = 0;
    uint8_t data[512];
    avr_t *avr = S.avr;
    if (line[0] != 'W' && line[0] != 'R') pending_addr = -1; /* the master gave up after the address */
    switch (line[0]) {
    case 'A':
        if (sscanf(line + 1, "%x %" SCNu64, &addr, &timeout_us) != 2) return -1;
        twi_address(addr, timeout_us * S.freq / 1000000);
        return 0;
    case 'S':
        if (sscanf(line + 1, "%" SCNu64 " %" SCNu64, &cycle, &wall_ms) < 1) return -1;
        if (!S.realtime) {
            if (wall_ms) { /* within a wall-clock budget, in slices */
                double deadline = wall_s() + wall_ms / 1e3;
                while (avr->cycle < cycle && wall_s() < deadline) run_until(avr->cycle + S.freq / 1000 < cycle ? avr->cycle + S.freq / 1000 : cycle);
            } else run_until(cycle);
        }
        reply_head('S');
        emit("\n");
        return 0;
    case 'T':
        if (sscanf(line + 1, "%" SCNu64, &cycle) != 1) return -1;
        if (!S.realtime) run_for(cycle * S.freq / 1000000);
        reply_head('T');
        emit("\n");
        return 0;
    case 'W':
        if (sscanf(line + 1, "%x %" SCNu64 " %1023s", &addr, &timeout_us, hex) != 3) return -1;
        {
            int len = unhex(hex, data, sizeof data);
            if (len < 0) return -1;
            twi_write(addr, timeout_us * S.freq / 1000000, data, len);
        }
        return 0;
    case 'R':
        if (sscanf(line + 1, "%x %" SCNu64 " %u", &addr, &timeout_us, &n) != 3 || n > 255) return -1;
        twi_read(addr, timeout_us * S.freq / 1000000, n);
        return 0;
    case 'U':
        if (sscanf(line + 1, " %1023s", hex) != 1) return -1;
        {
            int len = unhex(hex, data, sizeof data);
            if (len < 0) return -1;
            uart_input(data, len);
        }
        reply_head('U');
        emit("\n");
        return 0;
    case 'K':
        if (sscanf(line + 1, "%x %u", &addr, &n) != 2 || addr + n > avr->ramend + 1u || n > 256) return -1;
        reply_head('K');
        emit(" ");
        for (unsigned i = 0; i < n; i++) emit("%02x", avr->data[addr + i]);
        emit("\n");
        return 0;
    case 'H':
        hang();
        reply_head('H');
        emit("\n");
        return 0;
    case 'P':
        reply_head('P');
        emit("\n");
        return 0;
    case 'Q':
        return 1;
    }
    return -1;
}

static int run_command(char *line) {
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) return 0;
    int r = command(line);
    if (r < 0) emit("@? bad command: %.80s\n", line);
    eeprom_save();
    flush_out();
    return r > 0;
}

static void lockstep(void) {
    char line[2048];
    while (fgets(line, sizeof line, stdin))
        if (run_command(line)) return;
}

/* Real time: simulated time follows the wall clock, running up to 1 ms ahead
 * and then sleeping; commands run when they arrive. If the host can't keep
 * up, the lag is dropped (after half a second). */
static void realtime(void) {
    avr_t *avr = S.avr;
    char buf[8192];
    size_t have = 0;
    double wall0 = wall_s(), last_save = wall0;
    avr_cycle_count_t cycle0 = avr->cycle;
    for (;;) {
        double now = wall_s();
        avr_cycle_count_t target = cycle0 + (avr_cycle_count_t)((now - wall0) * S.freq);
        if (target > avr->cycle + S.freq / 2) { /* half a second behind: start afresh */
            wall0 = now;
            cycle0 = avr->cycle;
            target = cycle0;
        }
        if (avr->cycle < target) run_until(target + S.freq / 1000); /* 1 ms ahead, then wait for the clock */
        int wait_ms = (int)((avr->cycle - target) * 1000 / S.freq);
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        if (poll(&pfd, 1, wait_ms > 5 ? 5 : wait_ms) > 0) {
            ssize_t got = read(0, buf + have, sizeof buf - 1 - have);
            if (got <= 0) return; /* the host went away */
            have += got;
            char *nl;
            while ((nl = memchr(buf, '\n', have))) {
                *nl = 0;
                if (run_command(buf)) return;
                have -= nl + 1 - buf;
                memmove(buf, nl + 1, have);
            }
            if (have == sizeof buf - 1) have = 0; /* an absurd line */
        }
        if (now - last_save > 0.1) {
            eeprom_save();
            last_save = now;
        }
        flush_out();
    }
}

static int parse_serial(const char *hex, uint8_t *out) {
    if (strlen(hex) != 16) return -1;
    for (int i = 0; i < 8; i++)
        if (sscanf(hex + 2 * i, "%2hhx", &out[i]) != 1) return -1;
    return 0;
}

int main(int argc, char **argv) {
    uint32_t freq = 16000000, bus_hz = 100000;
    uint8_t serial[8] = {0x5A, 0x3F, 0x1C, 0x0B, 0x99, 0x12, 0x4E, 0x31};
    int opt;
    while ((opt = getopt(argc, argv, "f:b:e:s:r")) != -1) {
        switch (opt) {
        case 'f': freq = strtoul(optarg, NULL, 0); break;
        case 'b': bus_hz = strtoul(optarg, NULL, 0); break;
        case 'e': S.eeprom_path = optarg; break;
        case 's':
            if (parse_serial(optarg, serial)) {
                fprintf(stderr, "avrsim: -s takes 16 hex digits\n");
                return 2;
            }
            break;
        case 'r': S.realtime = 1; break;
        default: optind = argc + 1;
        }
    }
    if (optind != argc - 1 || !freq || !bus_hz) {
        fprintf(stderr, "usage: avrsim [-f HZ] [-b BUS_HZ] [-e EEPROM_FILE] [-s SERIAL16HEX] [-r] minipro.elf\n");
        return 2;
    }
    avr_global_logger_set(logger);
    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(argv[optind], &fw)) {
        fprintf(stderr, "avrsim: cannot read %s\n", argv[optind]);
        return 1;
    }
    strcpy(fw.mmcu, "atmega328p"); /* Arduino ELFs carry no .mmcu section */
    fw.frequency = freq;
    avr_t *avr = S.avr = avr_make_mcu_by_name(fw.mmcu);
    if (!avr) return 1;
    avr_init(avr);
    avr->log = LOG_NONE;
    avr_load_firmware(avr, &fw);
    avr->sleep = no_sleep;
    S.freq = freq;
    S.bit = freq / bus_hz;

    /* the signature row: device signature, and the serial where ArduinoUniqueID reads it */
    memset(S.sigrow, 0xFF, sizeof S.sigrow);
    S.sigrow[0x00] = 0x1E, S.sigrow[0x02] = 0x95, S.sigrow[0x04] = 0x0F, S.sigrow[0x0E] = 0x59;
    memcpy(S.sigrow + 0x0F, serial, 5);
    S.sigrow[0x14] = 0x14;
    memcpy(S.sigrow + 0x15, serial + 5, 3);

    for (avr_io_t *io = avr->io_port; io; io = io->next)
        if (!strcmp(io->kind, "twi")) S.twi = (avr_twi_t *)io;
        else if (!strcmp(io->kind, "eeprom")) S.eeprom = (avr_eeprom_t *)io;
    if (!S.twi || !S.eeprom || S.eeprom->size != EEPROM_SIZE) {
        fprintf(stderr, "avrsim: no TWI or EEPROM in this core\n");
        return 1;
    }
    S.twi->twi.raise_sticky = 1; /* TWINT stays set in the ISR until written 1 */
    avr->io[AVR_DATA_TO_IO(S.twi->r_twcr)].w.c = twcr_write;
    avr->io[AVR_DATA_TO_IO(S.twi->r_twdr)].w.c = NULL; /* plain registers */
    avr->io[AVR_DATA_TO_IO(S.twi->r_twdr)].r.c = NULL;
    avr->io[AVR_DATA_TO_IO(S.twi->r_twsr)].w.c = twsr_write;
    avr->data[S.twi->r_twsr] = 0xF8;

    uint32_t flags = 0;
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags); /* no stdio echo, no polling sleep */
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_output, NULL);
    S.uart_in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    avr_register_io_write(avr, GPIOR0_ADDR, gpior0_write, NULL);
    avr_register_io_write(avr, SPMCSR_ADDR, spmcsr_write, NULL);
    core_reset = avr->reset;
    avr->reset = on_reset;
    eeprom_load();

    printf("@READY %" PRIu32 " %s\n", freq, S.realtime ? "realtime" : "lockstep");
    fflush(stdout);
    if (S.realtime) realtime();
    else lockstep();
    eeprom_save();
    flush_out();
    return 0;
}
