// The I2C slave on the ATmega328P's TWI, without the Wire library: one ISR
// that moves bytes between the bus and a 32-byte buffer and hands whole
// writes to slave_command() (and takes replies from slave_reply()).
// The internal pull-ups stay off (the ESP side pulls the bus up to 3.3 V).
#ifndef MINIPRO_TWI_SLAVE_H
#define MINIPRO_TWI_SLAVE_H

#include <stdint.h>

void twi_slave_begin(uint8_t address);  // on the bus at this 7-bit address
void twi_slave_move(uint8_t address);   // answer at another address from now on
void twi_slave_end(void);               // off the bus (NACKs its address)

#endif
