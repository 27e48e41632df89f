# Test doubles for what only the ESP8266 has: `machine` (RTC memory, Pin,
# WDT, Timer, reset and its cause), `network` (the WiFi chip and an access
# point within reach) and `esp` (sleep type). `with FakeChip() as chip:` puts
# them in sys.modules for the chip-only modules of lib/ducorig to import, and
# takes them (and those modules) out again afterwards. Clock stands in for
# time where a test needs minutes to pass.
import asyncio
import sys

import ducorig
from ducorig.ticks import ticks_diff, ticks_ms

CHIP_MODULES = ("ducorig.wifi", "ducorig.autostart")
JOIN_MS = 50  # how long the fake SDK takes to join (scan, auth, DHCP)

current = None  # the FakeChip in use

# machine.reset_cause() (the SDK's reset reasons; machine names 0, 1, 4, 5, 6)
PWRON_RESET, WDT_RESET, EXCEPTION_RESET, SOFT_WDT_RESET, SOFT_RESET, DEEPSLEEP_RESET, HARD_RESET = range(7)

# network's station status codes (ESP8266 values)
IDLE, CONNECTING, WRONG_PASSWORD, NO_AP_FOUND, CONNECT_FAIL, GOT_IP = 0, 1, 2, 3, 4, 5


class FakeWLAN:
    """One interface. The station models the SDK: the network and password
    stored in flash, an attempt that joins JOIN_MS after it starts when the
    access point (chip.ap) takes the stored password, and that keeps trying
    (as the SDK does) while it does not. calls records every write."""

    def __init__(self, on):
        self.on = on
        self.calls = []
        self.ssid = ""  # stored in flash
        self.password = ""
        self.since = None  # ticks when the current attempt started, None: idle
        self.joined = False
        self.join_ms = JOIN_MS

    def active(self, on=None):
        if on is None:
            return self.on
        self.calls.append(("active", bool(on)))
        self.on = bool(on)

    def connect(self, ssid=None, password=None):
        if ssid is None:
            self.calls.append(("connect",))
        else:
            self.calls.append(("connect", ssid, password))
            self.ssid, self.password = ssid, password
        self.since = ticks_ms()
        self.joined = False

    def disconnect(self):
        self.calls.append(("disconnect",))
        self.since = None
        self.joined = False

    def status(self):
        if self.joined:
            return GOT_IP
        if self.since is None:
            return IDLE
        if ticks_diff(ticks_ms(), self.since) < self.join_ms:
            return CONNECTING
        ap = current.ap
        if ap is None or ap[0] != self.ssid:
            return NO_AP_FOUND
        if ap[1] != self.password:
            return WRONG_PASSWORD
        self.joined = True
        return GOT_IP

    def isconnected(self):
        return self.status() == GOT_IP

    def config(self, key):
        assert key == "essid", key
        return self.ssid

    def ifconfig(self):
        return ("192.168.4.7" if self.joined else "0.0.0.0", "255.255.255.0", "192.168.4.1", "192.168.4.1")

    def writes(self):
        """The calls that write the SDK's flash."""
        return [c for c in self.calls if c[0] == "active" or len(c) > 1]

    # the test's hand on the world
    def boot(self, ssid, password, joined=False):
        """State after a reset: this network stored, the SDK joining it by
        itself (or joined already)."""
        self.ssid, self.password = ssid, password
        self.on = True
        self.since = ticks_ms()
        self.joined = joined

    def drop(self):
        """The link is lost and the SDK gives up."""
        self.since = None
        self.joined = False


class _Module:
    pass


class Pin:
    IN = 0
    PULL_UP = 1

    def __init__(self, n, mode=-1, pull=-1):
        self.n = n
        self.pull = pull

    def value(self):
        return current.pins.get(self.n, 1 if self.pull == Pin.PULL_UP else 0)


class RTC:
    def memory(self, data=None):
        if data is None:
            return current.rtc
        current.rtc = bytes(data)


class WDT:
    def __init__(self):
        self.feeds = 0
        current.wdts.append(self)

    def feed(self):
        self.feeds += 1


class Timer:
    """A virtual timer (id -1). The test fires it: fire() runs the callback,
    as the chip's scheduler would once the period is over."""
    ONE_SHOT, PERIODIC = 0, 1

    def __init__(self, n):
        assert n == -1, n
        self.period = self.callback = None
        current.timers.append(self)

    def init(self, mode=PERIODIC, period=-1, callback=None):
        self.mode, self.period, self.callback = mode, period, callback

    def deinit(self):
        self.callback = None

    def pending(self):
        return self.callback is not None

    def fire(self):
        callback = self.callback
        if self.mode == Timer.ONE_SHOT:
            self.callback = None
        callback(self)


class Clock:
    """Minutes in no time: sleep(ms) (what the code under test is given in
    place of ticks.sleep_ms) ends once advance() has moved now past its end."""

    def __init__(self):
        self.now = 0
        self.sleepers = []  # [end, Event]

    async def sleep(self, ms):
        sleeper = [self.now + ms, asyncio.Event()]
        self.sleepers.append(sleeper)
        try:
            await sleeper[1].wait()
        finally:
            if sleeper in self.sleepers:
                self.sleepers.remove(sleeper)

    async def advance(self, ms):
        """Move the time on and let the sleepers it wakes run to their next wait."""
        self.now += ms
        for sleeper in list(self.sleepers):
            if sleeper[0] <= self.now:
                self.sleepers.remove(sleeper)
                sleeper[1].set()
        for _ in range(3):
            await asyncio.sleep(0)


class FakeChip:
    def __init__(self):
        self.sta = FakeWLAN(False)
        self.ap_if = FakeWLAN(True)  # on after a fresh flash
        self.ap = None  # the access point within reach: (ssid, password), None: none
        self.rtc = b""
        self.pins = {}  # GPIO -> level; an unset pin reads its pull
        self.wdts = []
        self.timers = []
        self.resets = 0
        self.cause = PWRON_RESET  # of the last reset
        self.sleep_types = []

    def _modules(self):
        machine = _Module()
        machine.Pin, machine.RTC, machine.WDT, machine.Timer = Pin, RTC, WDT, Timer
        machine.reset = self._reset
        machine.reset_cause = lambda: self.cause
        machine.PWRON_RESET, machine.WDT_RESET, machine.SOFT_RESET = PWRON_RESET, WDT_RESET, SOFT_RESET
        machine.DEEPSLEEP_RESET, machine.HARD_RESET = DEEPSLEEP_RESET, HARD_RESET
        network = _Module()
        network.STA_IF, network.AP_IF = 0, 1
        network.STAT_IDLE, network.STAT_CONNECTING, network.STAT_GOT_IP = IDLE, CONNECTING, GOT_IP
        network.STAT_WRONG_PASSWORD, network.STAT_NO_AP_FOUND = WRONG_PASSWORD, NO_AP_FOUND
        network.STAT_CONNECT_FAIL = CONNECT_FAIL
        network.WLAN = self._wlan
        esp = _Module()
        esp.SLEEP_NONE, esp.SLEEP_LIGHT, esp.SLEEP_MODEM = 0, 1, 2
        esp.sleep_type = self.sleep_types.append
        return {"machine": machine, "network": network, "esp": esp}

    def _wlan(self, interface=0):
        return self.ap_if if interface == 1 else self.sta

    def _reset(self):
        """machine.reset(); the test boots the chip again when it likes."""
        self.resets += 1
        self.cause = SOFT_RESET

    def __enter__(self):
        global current
        current = self
        _forget(CHIP_MODULES)  # imported afresh, against these fakes
        sys.modules.update(self._modules())
        return self

    def __exit__(self, *exc):
        global current
        current = None
        _forget(CHIP_MODULES + ("machine", "network", "esp"))


def _forget(names):
    for name in names:
        sys.modules.pop(name, None)
        attr = name.split(".")[-1]
        if name.startswith("ducorig.") and hasattr(ducorig, attr):
            delattr(ducorig, attr)
