# The one I2C bus all slave tasks share, behind one asyncio.Lock.
# An I2C transfer is a blocking C call on the ESP8266 (bit-banged SoftI2C), so
# each holds the lock only for one short transaction (or a write + read pair).
# ESP8266 semantics (shared/micropython-esp8266.md section 3): a data NACK is
# not an exception but a short ACK count; an address NACK is OSError(ENODEV);
# a clock held low past the timeout is OSError(ETIMEDOUT), with no STOP sent.
import asyncio
from errno import ENODEV, ETIMEDOUT


class BusError(Exception):
    def __init__(self, addr, text):
        super().__init__("0x%02x: %s" % (addr, text))
        self.addr = addr


class SlaveAbsent(BusError):
    """The address was not acknowledged (unplugged, rebooting, wrong address)."""


class BusStuck(BusError):
    """A clock stretch past the timeout: the bus was recovered, the transfer lost."""


class ShortWrite(BusError):
    """The slave stopped acknowledging in the middle of a write."""


class Bus:
    def __init__(self, i2c, recover=None, retries=4, retry_ms=8):
        self.i2c = i2c
        self.recover = recover  # called after ETIMEDOUT; returns a fresh i2c or None
        self.retries = retries
        self.retry_ms = retry_ms
        self.lock = asyncio.Lock()
        self.transfers = 0
        self.failures = 0
        self.wire_us = 0  # simulated wire time, when the i2c object reports it

    # Awaitables, not coroutines of their own: a status poll is the rig's
    # most frequent call, and every coroutine level is one more allocation.
    def write(self, addr, buf):
        return self._transfer(addr, buf, None)

    def read_into(self, addr, buf):
        return self._transfer(addr, None, buf)

    def write_read(self, addr, cmd, buf):
        """Write cmd, then read buf, holding the bus for both (no other
        master transaction in between)."""
        return self._transfer(addr, cmd, buf)

    async def _transfer(self, addr, out, into):
        attempt = 0
        while True:
            attempt += 1
            if self.lock.locked():  # held across awaits (the console) or handed to a waiter
                async with self.lock:
                    err = self._once(addr, out, into)
            else:  # free: a transfer is one blocking call, so nothing can take the bus meanwhile
                err = self._once(addr, out, into)
            if err is None:
                return
            self.failures += 1
            if attempt > self.retries or isinstance(err, ShortWrite):
                raise err
            # Doubling pauses (8..64 ms, 120 ms in all) outlast a slave's reboot
            # (protocol section 5); other slaves use the bus meanwhile.
            await asyncio.sleep(self.retry_ms * (1 << (attempt - 1)) / 1000)

    def _once(self, addr, out, into):
        """One attempt; the error to raise, or None."""
        i2c = self.i2c
        try:
            if out is not None:
                acks = i2c.writeto(addr, out)
                self._count()
                if acks != len(out):
                    return ShortWrite(addr, "%d of %d bytes acknowledged" % (acks, len(out)))
            if into is not None:
                i2c.readfrom_into(addr, into)
                self._count()
        except OSError as e:
            self._count()
            code = e.args[0] if e.args else None
            if code == ENODEV:
                return SlaveAbsent(addr, "no ACK for the address")
            if code == ETIMEDOUT:
                self._recover()
                return BusStuck(addr, "clock held low past the timeout")
            return BusError(addr, "I2C error %s" % e)
        return None

    def _count(self):
        self.transfers += 1
        self.wire_us += getattr(self.i2c, "last_wire_us", 0)

    def _recover(self):
        if self.recover is not None:
            fresh = self.recover()
            if fresh is not None:
                self.i2c = fresh


def pin_recovery(machine, scl, sda, freq):
    """Bus recovery on the chip: clock SCL (open drain) up to 9 times until the
    slave releases SDA, make a STOP, then a fresh SoftI2C. `machine` is the
    machine module (passed in so this file imports on every port)."""
    Pin = machine.Pin

    def recover():
        c = Pin(scl, Pin.OPEN_DRAIN, value=1)
        d = Pin(sda, Pin.OPEN_DRAIN, value=1)
        for _ in range(9):
            if d.value():
                break
            c.value(0)
            c.value(1)
        d.value(0)  # STOP: SDA rises while SCL is high
        c.value(1)
        d.value(1)
        return machine.SoftI2C(scl=Pin(scl), sda=Pin(sda), freq=freq)

    return recover
