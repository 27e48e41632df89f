// The Serial console (38400 Bd): every I2C command typed as a line, byte for
// byte, answered with the reply a read would return; plus local commands
// for a person (help, status, address, test).
#ifndef MINIPRO_CONSOLE_H
#define MINIPRO_CONSOLE_H

void console_begin(void);  // Serial at 38400 and a greeting
void console_poll(void);   // take typed characters; runs a line at CR or LF

#endif
