/* Host <-> firmware channel of the benchmark image, shared by benchfw.cpp
 * (AVR) and ducosim.c (host): the harness writes a job straight into SRAM
 * between runs, the firmware marks progress in GPIOR0. Byte arrays only, so
 * both compilers lay it out alike; numbers are little-endian. */
#ifndef MAILBOX_H
#define MAILBOX_H

#include <stdint.h>

struct mailbox {
    uint8_t go;              /* host sets 1; firmware clears it at MARK_END */
    char last_hash[40];
    uint8_t expected[20];
    uint8_t first[4];        /* nonces first..last, */
    uint8_t last[4];
    uint8_t chunk[2];        /* nonces per duco_search call */
    uint8_t result[4];       /* found nonce or DUCO_NOT_FOUND */
};

/* GPIOR0 values; at boot GPIOR1/GPIOR2 hold the mailbox address before READY. */
#define MARK_READY 0x10
#define MARK_START 0x01      /* job received, before duco_job */
#define MARK_END   0x02      /* result written */

#endif
