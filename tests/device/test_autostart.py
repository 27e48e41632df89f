# firmware/esp8266/main.py and ducorig.autostart on both runtimes, against
# the fake chip of chipfakes.py: the RTC flag of the console's stop and the
# bypass pin keep the REPL, otherwise the rig starts headless: WiFi first,
# then mining with the watchdog armed and fed. The last test runs the whole
# rig.main() on the session's pool emulator and rig bus (as test_rig.py).
# Deadlines are safety nets; assertions count calls and feeds.
# mpunit: heapsize=512k
import asyncio
import json
import os
from binascii import hexlify

from chipfakes import FakeChip
from ducorig.simi2c import SimI2C
from ducorig.ticks import ticks_diff, ticks_ms

SAFETY_MS = 30000
MAIN_PY = __file__.rsplit("/", 3)[0] + "/firmware/esp8266/main.py"


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))


def boot():
    """Run main.py as the chip does after a reset, with rig.main recorded."""
    from ducorig import rig as rigmod

    saved = rigmod.main
    rigmod.main = rec = Recorder()
    try:
        with open(MAIN_PY) as f:
            exec(f.read(), {})
    finally:
        rigmod.main = saved
    return rec.calls


async def until(cond, what):
    start = ticks_ms()
    while not cond():
        assert ticks_diff(ticks_ms(), start) < SAFETY_MS, what
        await asyncio.sleep(0.02)


class _NS:
    pass


class StubRig:
    """What autostart.headless uses of a rig; run() is the test's."""

    def __init__(self, ssid="home", password="secret", discover=None):
        self.cfg = _NS()
        self.cfg.wifi = _NS()
        self.cfg.wifi.ssid, self.cfg.wifi.password = ssid, password
        self.cfg.pool = _NS()
        self.cfg.pool.discover = discover
        self.running = True
        self.wdt = None
        self.lines = []
        self.log = self.lines.append


def test_main_py_starts_the_rig_headless():
    with FakeChip():
        calls = boot()
        from ducorig import autostart

        assert calls == [(("config.json",), {"runner": autostart.headless})]


def test_the_console_stops_flag_keeps_the_repl_once():
    with FakeChip() as chip:
        from ducorig import rig as rigmod

        rigmod.Rig.safe_reboot(None)  # what the console's q does once the watchdog is armed
        assert chip.rtc == b"ducorig:noauto" and chip.resets == 1
        assert boot() == [] and chip.rtc == b""  # cleared as it is read
        assert len(boot()) == 1  # the next reset mines again


def test_the_bypass_pin_held_low_keeps_the_repl():
    with FakeChip() as chip:
        from ducorig import autostart

        chip.pins[autostart.BYPASS_PIN] = 0
        assert boot() == []
        chip.pins[autostart.BYPASS_PIN] = 1
        assert len(boot()) == 1


def test_other_rtc_memory_does_not_stop_the_autostart():
    with FakeChip() as chip:
        chip.rtc = b"something else"
        assert len(boot()) == 1 and chip.rtc == b"something else"


async def test_headless_brings_wifi_up_first_and_leaves_the_watchdog_to_the_rig():
    with FakeChip() as chip:
        import machine

        from ducorig import autostart

        chip.ap = ("home", "secret")
        chip.sta.boot("home", "secret")
        rig = StubRig()
        seen = []

        async def run():
            seen.append((chip.sta.isconnected(), len(chip.wdts), rig.watchdog))

        rig.run = run
        await autostart.headless(rig)
        # online, nothing armed yet (Ctrl-C still works): the rig arms it once
        # mining runs, and feeds it (test_main_mines_with_wifi_up_and_the_watchdog_fed)
        assert seen == [(True, 0, machine.WDT)]
        assert rig.lines == ["WiFi: 192.168.4.7 on home"]


async def test_headless_asks_for_the_pool_before_the_watchdog_is_armed():
    with FakeChip() as chip:
        from ducorig import autostart

        chip.ap = ("home", "secret")
        chip.sta.boot("home", "secret")
        rig = StubRig(discover="https://server.duinocoin.com/getPool")
        asked = []

        async def find_pool():  # DNS and TLS block the loop: no watchdog may run yet
            asked.append((chip.sta.isconnected(), len(chip.wdts)))

        async def run():
            rig.running = False

        rig.find_pool = find_pool
        rig.run = run
        await autostart.headless(rig)
        assert asked == [(True, 0)]


def test_main_mines_with_wifi_up_and_the_watchdog_fed():
    with FakeChip() as chip:
        from ducorig import autostart, rig as rigmod

        chip.ap = ("home", "secret")
        SimI2C(os.getenv("DUCORIG_RIG_BUS")).sim_control(8, "factory", 1)
        host, port = os.getenv("DUCORIG_POOL").split(":")
        path = "/tmp/ducorig-autostart-%s.json" % hexlify(os.urandom(4)).decode()
        with open(path, "w") as f:
            json.dump({"user": "rig-autostart", "pool": {"host": host, "port": int(port)},
                       "wifi": {"ssid": "home", "password": "secret"}, "stagger_ms": 20,
                       "i2c": {"sim": os.getenv("DUCORIG_RIG_BUS")},
                       "slaves": [{"address": 8, "name": "s8"}]}, f)

        async def runner(rig):
            async def stop():
                await until(lambda: rig.wdt is not None and rig.wdt.feeds >= 3
                            and rig.stats.slaves[0].accepted >= 2, "mining, fed")
                rig.stop()

            asyncio.create_task(stop())
            await autostart.headless(rig)

        try:
            rig = rigmod.main(path, False, runner)
        finally:
            os.remove(path)
        assert rig.stats.slaves[0].accepted >= 2 and rig.stats.slaves[0].rejected == {}
        assert chip.sta.writes() == [("active", True), ("connect", "home", "secret")]
        assert chip.ap_if.writes() == [("active", False)]
        assert len(chip.wdts) == 1 and chip.wdts[0].feeds >= 3
