/* ducosim: runs the benchmark image (benchfw.cpp) in simavr, one DUCO-S1 job
 * per stdin line, and reports the result with the exact cycle count.
 *
 *   ducosim [-f HZ] bench.elf
 *   stdin:  J <last_hash 40 chars> <expected 40 hex> <first> <last> <chunk>
 *   stdout: R <nonce or -1> <cycles from MARK_START to MARK_END>
 * Jobs go straight into the firmware's mailbox in SRAM while the AVR is
 * stopped; GPIOR0 writes mark progress. Other stdout lines (libsimavr's own
 * messages) must be ignored by the reader. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_io.h"

#include "mailbox.h"

#define GPIOR0_ADDR 0x3E
#define GPIOR1_ADDR 0x4A
#define GPIOR2_ADDR 0x4B
#define BOOT_CYCLES 10000000ULL
#define CYCLES_PER_NONCE 200000ULL /* generous bound against a hung image */

struct marks {
    uint8_t last;
    avr_cycle_count_t start, end;
};

static void gpior0_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param) {
    struct marks *m = param;
    avr->data[addr] = v;
    m->last = v;
    if (v == MARK_START) m->start = avr->cycle;
    if (v == MARK_END) m->end = avr->cycle;
}

/* Runs until GPIOR0 gets `mark`; 0 if it did, -1 on crash or budget. */
static int run_until(avr_t *avr, struct marks *m, uint8_t mark, avr_cycle_count_t budget) {
    avr_cycle_count_t stop = avr->cycle + budget;
    m->last = 0;
    while (m->last != mark) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed || avr->cycle > stop) return -1;
    }
    return 0;
}

static int parse_hex(const char *hex, uint8_t *out, size_t n) {
    if (strlen(hex) != 2 * n) return -1;
    for (size_t i = 0; i < n; i++)
        if (sscanf(hex + 2 * i, "%2hhx", &out[i]) != 1) return -1;
    return 0;
}

static void put_le(uint8_t *p, uint32_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = v >> (8 * i);
}

/* One "J ..." line: returns 0 and prints "R ..." or returns -1. */
static int job(avr_t *avr, struct marks *m, uint16_t box_addr, const char *line) {
    char last_hash[41], expected[41];
    uint32_t first, last, chunk;
    struct mailbox box = {0};
    if (sscanf(line, "J %40s %40s %" SCNu32 " %" SCNu32 " %" SCNu32, last_hash, expected, &first, &last, &chunk) != 5
        || strlen(last_hash) != 40 || first > last || parse_hex(expected, box.expected, 20) || chunk == 0 || chunk > 0xFFFF)
        return -1;
    box.go = 1;
    memcpy(box.last_hash, last_hash, 40);
    put_le(box.first, first, 4);
    put_le(box.last, last, 4);
    put_le(box.chunk, chunk, 2);
    memcpy(avr->data + box_addr, &box, sizeof box);
    if (run_until(avr, m, MARK_END, CYCLES_PER_NONCE * ((uint64_t)last - first + 2))) return -1;
    const uint8_t *r = avr->data + box_addr + offsetof(struct mailbox, result);
    uint32_t nonce = r[0] | r[1] << 8 | r[2] << 16 | (uint32_t)r[3] << 24;
    printf("R %" PRId64 " %" PRIu64 "\n", nonce == 0xFFFFFFFFu ? -1 : (int64_t)nonce, (uint64_t)(m->end - m->start));
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    uint32_t freq = 16000000;
    int opt;
    while ((opt = getopt(argc, argv, "f:")) != -1) {
        if (opt != 'f') break;
        freq = strtoul(optarg, NULL, 0);
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: ducosim [-f HZ] bench.elf < jobs\n");
        return 2;
    }
    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(argv[optind], &fw)) {
        fprintf(stderr, "ducosim: cannot read %s\n", argv[optind]);
        return 1;
    }
    strcpy(fw.mmcu, "atmega328p"); /* Arduino ELFs carry no .mmcu section */
    fw.frequency = freq;
    avr_t *avr = avr_make_mcu_by_name(fw.mmcu);
    avr_init(avr);
    avr_load_firmware(avr, &fw);

    struct marks m = {0};
    avr_register_io_write(avr, GPIOR0_ADDR, gpior0_write, &m);
    if (run_until(avr, &m, MARK_READY, BOOT_CYCLES)) {
        fprintf(stderr, "ducosim: firmware never signalled ready\n");
        return 1;
    }
    uint16_t box_addr = avr->data[GPIOR1_ADDR] | avr->data[GPIOR2_ADDR] << 8;
    printf("READY\n");
    fflush(stdout);

    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        if (line[0] == 'Q') break;
        if (job(avr, &m, box_addr, line)) {
            fprintf(stderr, "ducosim: bad job or firmware failure: %s", line);
            return 1;
        }
    }
    return 0;
}
