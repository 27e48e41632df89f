# Sim only: a machine.I2C stand-in that talks to the simulated bus server
# (scripts/ducorig_host/simbus) over a blocking loopback socket, with the
# ESP8266 SoftI2C's behaviour (docs/i2c-protocol.md sections 6 and 8):
# writeto returns the ACK count instead of raising on a data NACK, an address
# NACK raises OSError(ENODEV), a stretch past the timeout OSError(ETIMEDOUT)
# (no STOP sent), scan sees 0x08..0x77 only, and every call blocks for the
# time the bit-banged transfer takes on the wire. Never shipped to the ESP8266.
import asyncio
import os
import socket
from binascii import hexlify, unhexlify
from errno import ENODEV, ETIMEDOUT

try:
    from time import sleep_us, ticks_diff, ticks_us
except ImportError:  # CPython
    import time

    def ticks_us():
        return time.perf_counter_ns() // 1000

    def ticks_diff(a, b):
        return a - b

    def sleep_us(us):
        time.sleep(us / 1000000)

# SoftI2C wire time in half-periods (extmod/machine_i2c.c): a start or repeated
# start 3, each byte 20 (8 bits, ACK, framing; the address byte too), a stop 4.
START = 3
BYTE = 20
STOP = 4
SCAN_FIRST = 0x08
SCAN_LAST = 0x77


def half_period_us(freq):
    """SoftI2C's delay: 500000 // freq whole microseconds, at least 1."""
    return max(1, 500000 // freq)


def transfer_half_periods(nbytes, stop=True):
    """One transaction: start, address byte, nbytes data bytes, stop."""
    return START + BYTE * (1 + nbytes) + (STOP if stop else 0)


def slave_address(bus_var, role):
    """The address of slave `role` on the simulated bus announced in the
    environment variable bus_var (host:port); its companion bus_var + "_SLAVES"
    lists role=address,... (scripts/ducorig_host/simbus/testrig.py)."""
    for pair in os.getenv(bus_var + "_SLAVES").split(","):
        if pair.split("=")[0] == role:
            return int(pair.split("=")[1])
    raise KeyError(role)


class SimI2C:
    """SimI2C("127.0.0.1:port", freq=..., timeout=...): the methods of
    machine.I2C that the controller uses, plus sim-only controls."""

    def __init__(self, bus, freq=400000, timeout=50000):
        host, port = bus.split(":")
        self.bus = bus
        self.freq = freq
        self.timeout = timeout  # clock-stretch limit, us
        self.half_us = half_period_us(freq)
        self.last_wire_us = 0  # computed wire time of the last transfer (for tests)
        self.requests = 0  # round trips to the bus server: the sim's own cost, not the chip's
        self._sock = socket.socket()
        self._sock.connect(socket.getaddrinfo(host, int(port))[0][-1])

    def writeto(self, addr, buf, stop=True):
        t0 = ticks_us()
        reply = self.request("WRITE %d %d %s" % (addr, self.timeout, hexlify(buf).decode() or "-"))
        self._settle(t0, reply)
        acks = int(reply[1])
        # the master sends the byte that gets the NACK, then stops
        self._block(t0, transfer_half_periods(min(len(buf), acks + 1), stop), int(reply[2]))
        return acks

    def readfrom_into(self, addr, buf, stop=True):
        t0 = ticks_us()
        reply = self.request("READ %d %d %d" % (addr, self.timeout, len(buf)))
        self._settle(t0, reply)
        if reply[1] != "-":
            buf[:] = unhexlify(reply[1])
        self._block(t0, transfer_half_periods(len(buf), stop), int(reply[2]))

    def readfrom(self, addr, nbytes, stop=True):
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf, stop)
        return bytes(buf)

    def scan(self):
        t0 = ticks_us()
        reply = self.request("SCAN %d %d %d" % (SCAN_FIRST, SCAN_LAST, self.timeout))
        # each address: start, address byte, stop
        self._block(t0, (SCAN_LAST - SCAN_FIRST + 1) * transfer_half_periods(0), 0)
        return [int(a) for a in reply[1:]]

    def ready_line(self):
        """The open-drain ready line as a Pin-like object (value() 0 = some
        slave holds a result)."""
        return ReadyLine(self)

    def sim_control(self, addr, name, value=1):
        """Set a slave model's fault switch or setting; addr is the slave's
        home (factory) address. Name "factory" power-cycles it to factory state."""
        self.request("CTL %d %s %s" % (addr, name, value))

    def request(self, request):
        """One request line to the bus server; its reply split into words."""
        self.requests += 1
        self._sock.sendall(request.encode() + b"\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = self._sock.recv(256)
            if not chunk:
                raise OSError("simulated bus closed the connection")
            reply += chunk
        words = reply.decode().split()
        if words[0] == "ERR":
            raise ValueError("simulated bus: " + reply.decode().strip())
        return words

    def _settle(self, t0, reply):
        """Raise as SoftI2C does, after blocking as long as it would."""
        if reply[0] == "NACK":  # start, address byte, stop
            self._block(t0, transfer_half_periods(0), 0)
            raise OSError(ENODEV)
        if reply[0] == "TIMEOUT":  # start, address byte, then the stretch wait; no stop
            self._block(t0, transfer_half_periods(0, False), self.timeout)
            raise OSError(ETIMEDOUT)

    def _block(self, t0, half_periods, stretch_us):
        self.last_wire_us = half_periods * self.half_us + stretch_us
        left = self.last_wire_us - ticks_diff(ticks_us(), t0)
        if left > 0:
            sleep_us(left)


class ReadyLine:
    """value() like a Pin; wait_low() stands in for the pin interrupt: the bus
    server sends the line's level at every change on a second connection."""

    def __init__(self, i2c):
        self._i2c = i2c
        self._levels = None

    def value(self):
        return int(self._i2c.request("READY")[1])

    async def wait_low(self):
        if self._levels is None:
            host, port = self._i2c.bus.split(":")
            self._levels, self._writer = await asyncio.open_connection(host, int(port))
            self._writer.write(b"WATCH\n")
            await self._writer.drain()
        while (await self._levels.readline()).strip() != b"0":
            pass
