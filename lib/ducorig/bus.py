# The one I2C bus all slave tasks share, and its one asyncio.Lock.
#
# A transfer is one blocking C call on the ESP8266 (bit-banged SoftI2C): no
# other task can run in the middle of it, so a transfer needs no lock of its
# own and costs no coroutine. The lock serialises bus *sessions* that span
# awaits and must not be interleaved with other traffic: the console's scan,
# raw command (write, wait, read) and clock change. A worker that finds
# the lock held waits for it (free()) before its next transfer.
#
# ESP8266 semantics (docs/i2c-protocol.md section 6): a data NACK is not an
# exception but a short ACK count; an address NACK is OSError(ENODEV); a clock
# held low past the timeout is OSError(ETIMEDOUT), with no STOP sent.
import asyncio
from errno import ENODEV, ETIMEDOUT

from ducorig.ticks import sleep_ms

# BusError.kind: what went wrong (one class, not one per kind: on the chip
# every exception class costs ~350 bytes of heap)
ABSENT = "absent"  # the address was not acknowledged (unplugged, rebooting)
STUCK = "stuck"  # a clock stretch past the timeout: the bus was recovered
SHORT = "short write"  # the slave stopped acknowledging in a write
FAILED = "I2C error"


class BusError(Exception):
    def __init__(self, addr, kind, text=""):
        super().__init__("0x%02x: %s%s" % (addr, kind, text))
        self.addr = addr
        self.kind = kind


class Bus:
    def __init__(self, i2c, recover=None, retries=4, retry_ms=8):
        self.i2c = i2c
        self.recover = recover  # called after ETIMEDOUT; returns a fresh i2c or None
        self.retries = retries
        self.retry_ms = retry_ms
        self.lock = asyncio.Lock()
        self.failures = 0
        # Reply buffers that every driver shares: a transfer and the parsing
        # of its reply never have an await between them.
        self.status = bytearray(3)
        self.result = bytearray(20)

    async def free(self):
        """Wait until no session holds the bus (call when lock.locked())."""
        async with self.lock:
            pass

    def transfer(self, addr, out, into):
        """Write out (if any), then read into (if any): one attempt, blocking.
        BusError on failure."""
        i2c = self.i2c
        try:
            if out is not None:
                acks = i2c.writeto(addr, out)
                if acks != len(out):
                    self.failures += 1
                    raise BusError(addr, SHORT, ": %d of %d bytes acknowledged" % (acks, len(out)))
            if into is not None:
                i2c.readfrom_into(addr, into)
        except OSError as e:
            raise self.failed(addr, e)

    def failed(self, addr, e):
        """The BusError for an I2C call's OSError (after a stuck clock, the bus is recovered)."""
        self.failures += 1
        code = e.args[0] if e.args else None
        if code == ENODEV:
            return BusError(addr, ABSENT)
        if code == ETIMEDOUT:
            if self.recover is not None:
                self.i2c = self.recover() or self.i2c
            return BusError(addr, STUCK, ": clock held low past the timeout")
        return BusError(addr, FAILED, " %s" % e)

    async def again(self, err, call, *args):
        """call(*args) failed with err: call it again after doubling pauses
        (8..64 ms, 120 ms in all: longer than a slave's reboot), other slaves
        using the bus meanwhile. Its result, or the last error. A short write
        is not retried here: the protocol's own resend handles it."""
        for attempt in range(self.retries):
            if err.kind == SHORT:
                break
            await sleep_ms(self.retry_ms << attempt)
            if self.lock.locked():
                await self.free()
            try:
                return call(*args)
            except BusError as e:
                err = e
        raise err


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
