// TWI slave (ATmega328P datasheet, "Slave Receiver Mode" and "Slave
// Transmitter Mode" status tables). The limits are those of Arduino's Wire,
// so masters see the same bus behaviour (docs/i2c-protocol.md section 1):
// a 32-byte receive buffer, byte 33 of a write ACKed and dropped, byte 34
// NACKed. Unlike Wire, the slave recognises its address again right after
// that NACK instead of going deaf, and a read past the reply gets 0xFF
// (TWEA cleared for the last byte: the hardware then releases SDA).
#include "twi_slave.h"

#include <avr/interrupt.h>
#include <avr/io.h>
#include <util/twi.h>

#include "slave.h"

#define ARMED (_BV(TWEA) | _BV(TWEN) | _BV(TWIE))  // ACK the next byte (or our address)
#define ACK (ARMED | _BV(TWINT))
#define NACK (_BV(TWEN) | _BV(TWIE) | _BV(TWINT))   // NACK the next byte / send the last one

static uint8_t buf[SLAVE_MAX_TRANSFER];  // the write being received, or the reply being read
static uint8_t count;                    // bytes received (ACKed) or sent
static uint8_t length;                   // of the reply

void twi_slave_begin(uint8_t address) {
    TWAR = address << 1;  // no general call
    TWAMR = 0;
    TWCR = ARMED;
}

void twi_slave_move(uint8_t address) { TWAR = address << 1; }

void twi_slave_end(void) { TWCR = 0; }

ISR(TWI_vect) {
    switch (TW_STATUS) {
    case TW_SR_SLA_ACK:  // a write to us starts
    case TW_SR_ARB_LOST_SLA_ACK:
        count = 0;
        TWCR = ACK;
        break;
    case TW_SR_DATA_ACK:
        if (count < sizeof buf) {
            uint8_t byte = TWDR;
            buf[count] = byte;
            slave_byte(count, byte);  // a CRC step and a hex check: the end of the write stays short
        }
        count++;
        TWCR = count <= sizeof buf ? ACK : NACK;  // ACK bytes 1..33, NACK byte 34
        break;
    case TW_SR_DATA_NACK:  // byte 34: over-long; no STOP will be reported
        TWCR = ACK;
        slave_command(buf, 0xFF);
        break;
    case TW_SR_STOP:  // STOP or repeated START ends the write
        TWCR = ACK;
        slave_command(buf, count);
        break;
    case TW_ST_SLA_ACK:  // a read starts: take the selected reply as it is now
    case TW_ST_ARB_LOST_SLA_ACK:
        length = slave_reply(buf);
        count = 0;
        // fall through
    case TW_ST_DATA_ACK:
        TWDR = buf[count++];
        TWCR = count < length ? ACK : NACK;
        break;
    case TW_BUS_ERROR:
        TWCR = ACK | _BV(TWSTO);  // release the lines, back to unaddressed
        break;
    default:  // TW_ST_DATA_NACK, TW_ST_LAST_DATA, general call (never enabled)
        TWCR = ACK;
        break;
    }
}
