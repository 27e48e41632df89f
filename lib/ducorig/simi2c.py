# Sim only: the chip's hardware as the simulator gives it to the controller.
# A machine.I2C stand-in that talks to the simulated bus server
# (scripts/ducorig_host/simbus) over a blocking loopback socket, with the
# ESP8266 SoftI2C's behaviour (docs/i2c-protocol.md sections 6 and 8):
# writeto returns the ACK count instead of raising on a data NACK, an address
# NACK raises OSError(ENODEV), a stretch past the timeout OSError(ETIMEDOUT)
# (no STOP sent), scan sees 0x08..0x77 only, and every call blocks for the
# time the bit-banged transfer takes on the wire. A WiFi station and a
# watchdog (SimStation, SimWDT) that online(), rig.main's runner in the sim,
# runs the rig with, as autostart.headless does on the chip. Never shipped to
# the ESP8266.
#
# Kept out of the chip bench's count (scripts/ducorig_host/chipbench.py): it
# runs the controller under callgrind with --toggle-collect=map_iternext, so
# nothing that runs inside a map object's next() is counted. This module does
# all its own work that way (formatting a request line, the loopback round
# trip, the ready line's level reports): a public method stores its arguments
# and calls next() of an endless map over the real work, which allocates
# nothing and stands in for the chip's call of a C method. No controller
# module may call map() (tests/host/test_chipbench.py checks), or its work
# would vanish from the count too.
import asyncio
import os
import socket
import sys
from binascii import hexlify, unhexlify
from errno import ENODEV, ETIMEDOUT

from ducorig.ticks import sleep_ms, ticks_ms

try:
    from asyncio.core import _io_queue  # MicroPython: wait for a socket without a stream
except ImportError:  # CPython
    _io_queue = None

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


def write_half_periods(nbytes, acks, stop=True):
    """A write of nbytes of which acks were ACKed: the master sends the byte
    that gets the NACK, then stops."""
    return transfer_half_periods(min(nbytes, acks + 1), stop)


def _forever():
    while True:
        yield None


def _apart(work):
    """An endless map of work's calls: next() of it runs work(None) where
    the chip bench does not count (see the top of this module)."""
    return map(work, _forever())


def _readable(sock):
    """Awaitable (MicroPython): until sock has something to read."""
    yield _io_queue.queue_read(sock)


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
    machine.I2C that the controller uses, plus sim-only controls.
    DUCORIG_SIMI2C_BURN=n in the environment makes every request burn n
    loop passes more (a test shows the chip bench does not count them)."""

    def __init__(self, bus, freq=400000, timeout=50000):
        self.bus = bus
        self.freq = freq
        self.timeout = timeout  # clock-stretch limit, us
        self.half_us = half_period_us(freq)
        self.last_wire_us = 0  # computed wire time of the last transfer (for tests)
        self._burn = int(os.getenv("DUCORIG_SIMI2C_BURN") or 0)
        self._addr = 0  # the arguments of the call in progress
        self._buf = None
        self._stop = True
        self._write = _apart(self._write_now)
        self._read = _apart(self._read_now)
        self._level = _apart(self._level_now)
        self._sock = self.connect()

    def connect(self):
        host, port = self.bus.split(":")
        sock = socket.socket()
        sock.connect(socket.getaddrinfo(host, int(port))[0][-1])
        return sock

    def writeto(self, addr, buf, stop=True):
        self._addr = addr
        self._buf = buf
        self._stop = stop
        return next(self._write)

    def readfrom_into(self, addr, buf, stop=True):
        self._addr = addr
        self._buf = buf
        self._stop = stop
        next(self._read)

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
        for _ in range(self._burn):
            pass
        self._sock.sendall(request.encode() + b"\n")
        try:
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = self._sock.recv(256)
                if not chunk:
                    raise OSError("simulated bus closed the connection")
                reply += chunk
            words = reply.decode().split()
        except BaseException:  # a MemoryError in a small heap, say: a reply read half
            self._sock.close()  # would answer the next request, so start afresh
            self._sock = self.connect()
            raise
        if words[0] == "ERR":
            raise ValueError("simulated bus: " + reply.decode().strip())
        return words

    def _write_now(self, _):
        addr, buf, stop = self._addr, self._buf, self._stop
        t0 = ticks_us()
        reply = self.request("WRITE %d %d %s" % (addr, self.timeout, hexlify(buf).decode() or "-"))
        self._settle(t0, reply)
        acks = int(reply[1])
        self._block(t0, write_half_periods(len(buf), acks, stop), int(reply[2]))
        return acks

    def _read_now(self, _):
        addr, buf, stop = self._addr, self._buf, self._stop
        t0 = ticks_us()
        reply = self.request("READ %d %d %d" % (addr, self.timeout, len(buf)))
        self._settle(t0, reply)
        if reply[1] != "-":
            data = unhexlify(reply[1])
            if len(data) != len(buf):  # never resize the caller's buffer
                raise ValueError("simulated bus: %d bytes for a %d-byte read" % (len(data), len(buf)))
            buf[:] = data
        self._block(t0, transfer_half_periods(len(buf), stop), int(reply[2]))

    def _level_now(self, _):
        return int(self.request("READY")[1])

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
    """value() like a Pin; fell() stands in for the pin interrupt: the bus
    server sends the line's level at every change on a second connection.
    On MicroPython the event loop waits for that socket and the reports are
    read apart (not counted); CPython reads them as a stream."""

    def __init__(self, i2c):
        self._i2c = i2c
        self._watch = None  # the WATCH connection
        self._fell = _apart(self._fell_now)

    def value(self):
        return next(self._i2c._level)

    async def fell(self):
        """Until the line has fallen since the last call (the first call:
        until it is low)."""
        if _io_queue is None:
            await self._fell_stream()
            return
        while not next(self._fell):
            await _readable(self._watch)

    def _fell_now(self, _):
        """Read every level report that arrived: did the line fall? The
        first call opens the WATCH connection (its first report is the level)."""
        if self._watch is None:
            self._watch = self._i2c.connect()
            self._watch.sendall(b"WATCH\n")
            self._watch.setblocking(False)
            return False
        fell = False
        while True:
            try:
                chunk = self._watch.recv(64)
            except OSError:  # nothing more (EAGAIN)
                return fell
            if not chunk:
                raise OSError("simulated bus closed the ready line's connection")
            fell = fell or b"0" in chunk

    async def _fell_stream(self):
        if self._watch is None:
            host, port = self._i2c.bus.split(":")
            self._watch, self._writer = await asyncio.open_connection(host, int(port))
            self._writer.write(b"WATCH\n")
            await self._writer.drain()
        while (await self._watch.readline()).strip() != b"0":
            pass


class SimStation:
    """network.WLAN(STA_IF) as ducorig.wifi uses it: joined, except while
    the file `down` names exists (a test or the fault bench creates it): the
    access point is gone, isconnected() is False and every connect fails,
    until the file is removed and the station joins again by itself."""

    def __init__(self, down=None):
        self.down = down

    def isconnected(self):
        if self.down:
            try:
                os.stat(self.down)
                return False
            except OSError:
                pass
        return True

    def status(self):
        return 5 if self.isconnected() else 3  # wifi.GOT_IP, wifi.NO_AP_FOUND

    def connect(self, ssid=None, password=None):
        pass

    def disconnect(self):
        pass

    def config(self, key):
        return "sim"

    def ifconfig(self):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")


class SimWDT:
    """machine.WDT: armed when made. Not fed for timeout_ms (the chip's
    window is 1.6-3.2 s), it resets the controller: reset() (by default the
    process exits with status WDT_EXIT, its last line saying why). A task of
    its own looks, and feed() too, so a loop that blocked is caught as soon
    as it runs again."""

    WDT_EXIT = 3  # the SDK's reset cause for the software watchdog

    def __init__(self, timeout_ms=3200, reset=None):
        self.timeout_ms = timeout_ms
        self.reset = reset or self._exit
        self.fed = ticks_ms()  # None once it has reset
        asyncio.create_task(self._watch())

    def feed(self):
        self._check()
        if self.fed is not None:
            self.fed = ticks_ms()

    def _check(self):
        if self.fed is not None and ticks_diff(ticks_ms(), self.fed) > self.timeout_ms:
            starved = ticks_diff(ticks_ms(), self.fed)
            self.fed = None
            self.reset("watchdog reset: not fed for %d ms" % starved)

    async def _watch(self):
        while self.fed is not None:
            await sleep_ms(100)
            self._check()

    def _exit(self, why):
        print("ducorig:", why)
        sys.exit(self.WDT_EXIT)


async def online(rig, down=None, watchdog_ms=None):
    """rig.main's runner in the sim: the station up (SimStation: down, or
    the file DUCORIG_SIM_LINK names), then the rig mines on its link, with
    a SimWDT of watchdog_ms (DUCORIG_SIM_WATCHDOG_MS; none without)."""
    from ducorig.wifi import Station

    station = Station(rig.cfg.wifi.ssid, rig.cfg.wifi.password, rig.log,
                      SimStation(down or os.getenv("DUCORIG_SIM_LINK")))
    await station.up()
    ms = watchdog_ms or int(os.getenv("DUCORIG_SIM_WATCHDOG_MS") or 0)
    if ms:
        rig.watchdog = lambda: SimWDT(ms)
    await station.supervise(rig)
