# firmware/esp8266/main.py and ducorig.autostart on both runtimes, against
# the fake chip of chipfakes.py: the RTC flag of the console's stop and the
# bypass pin keep the REPL, otherwise the rig starts headless: WiFi first,
# then mining with the watchdog armed and fed. The crash-loop guard counts
# the resets of a young rig by their cause, stays at the REPL after three and
# resets into mining on its timer; the fake Clock stands in for the minutes.
# The last test runs the whole rig.main() on the session's pool emulator and
# rig bus (as test_rig.py). Deadlines are safety nets; assertions count
# calls, feeds and the RTC record.
# mpunit: heapsize=512k
import asyncio
import json
import os
from binascii import hexlify

import chipfakes
from chipfakes import EXCEPTION_RESET, HARD_RESET, SOFT_RESET, SOFT_WDT_RESET, WDT_RESET, Clock, FakeChip
from ducorig.simi2c import SimI2C
from ducorig.ticks import ticks_diff, ticks_ms

SAFETY_MS = 30000
MAIN_PY = __file__.rsplit("/", 3)[0] + "/firmware/esp8266/main.py"


def boot(seen=None):
    """Run main.py as the chip does after a reset, with rig.main recorded:
    its calls, and in seen the RTC memory it ran with."""
    return with_rig_recorded(run_main_py, seen)


def run_main_py():
    with open(MAIN_PY) as f:
        exec(f.read(), {})


def with_rig_recorded(action, seen=None):
    from ducorig import rig as rigmod

    calls = []

    def main(*args, **kwargs):
        calls.append((args, kwargs))
        if seen is not None:
            seen.append(chipfakes.current.rtc)

    saved = rigmod.main
    rigmod.main = main
    try:
        action()
    finally:
        rigmod.main = saved
    return calls


def mine_then_reset(chip, cause):
    """A boot that mines until the chip resets (cause) under the rig: what
    start() does after rig.main returns never runs, so the RTC memory is
    left as the rig saw it."""
    seen = []
    assert len(boot(seen)) == 1, "mines"
    chip.rtc = seen[0]
    chip.cause = cause


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
        from ducorig import autostart, rig as rigmod

        rigmod.Rig.safe_reboot(None)  # what the console's q does once the watchdog is armed
        assert chip.rtc == b"dcr1\x01\x00" and chip.resets == 1  # the record's layout: flags NOAUTO, 0 crashes
        assert boot() == [] and autostart.record() == (0, 0)  # cleared as it is read
        assert len(boot()) == 1  # the next reset mines again


def test_the_bypass_pin_held_low_keeps_the_repl():
    with FakeChip() as chip:
        from ducorig import autostart

        chip.pins[autostart.BYPASS_PIN] = 0
        assert boot() == []
        chip.pins[autostart.BYPASS_PIN] = 1
        assert len(boot()) == 1


def test_other_rtc_memory_reads_as_a_fresh_record():
    with FakeChip() as chip:
        chip.rtc = b"something else"
        assert len(boot()) == 1 and chip.rtc == b"dcr1\x00\x00"


def test_only_watchdog_and_exception_resets_of_a_young_rig_count():
    counted = []
    for cause in range(7):
        with FakeChip() as chip:
            from ducorig import autostart

            mine_then_reset(chip, cause)
            assert len(boot()) == 1
            counted.append(autostart.record()[1])
    # power-on, machine.reset() (console R, mpremote, deploy), deep sleep and
    # the reset pin are no crashes
    assert counted == [0, 1, 1, 1, 0, 0, 0]


def test_a_rig_back_at_the_repl_leaves_no_crash_to_count():
    with FakeChip() as chip:
        from ducorig import autostart

        chip.cause = SOFT_WDT_RESET  # the last hard reset was a crash
        assert len(boot()) == 1  # the rig mines and returns (q, a config error)
        assert len(boot()) == 1  # Ctrl-D: a soft reset keeps the old cause
        assert autostart.record() == (0, 0)


def test_three_crashes_keep_the_repl_and_retry_after_10_20_40_then_60_minutes():
    with FakeChip() as chip:
        from ducorig import autostart

        lines = []
        autostart.print = lines.append
        for _ in range(3):
            mine_then_reset(chip, SOFT_WDT_RESET)
        waits = []
        for crashes in (3, 4, 5, 6, 7):
            assert boot() == []  # no mining: main.py returns to the REPL
            assert chip.wdts == [] and chip.sta.calls == []  # nothing armed, WiFi left to the SDK
            timer = chip.timers[-1]
            assert timer.pending() and timer.mode == timer.ONE_SHOT and chip.resets == crashes - 3
            waits.append(timer.period // 60000)
            timer.fire()  # the wait is over: a reset into mining (machine.reset(): no crash)
            assert chip.resets == crashes - 2 and chip.cause == SOFT_RESET
            assert autostart.record() == (autostart.RETRY, crashes)
            mine_then_reset(chip, EXCEPTION_RESET)  # the retry crashes again at once
        assert waits == [10, 20, 40, 60, 60]
        assert lines[0] == ("ducorig: no autostart (3 watchdog/exception resets within 60 s of boot);"
                            " mining again in 10 min, autostart.start() mines now")
        assert len(lines) == 5


def test_the_guard_leaves_the_console_stop_and_a_reset_alone():
    with FakeChip() as chip:
        from ducorig import autostart

        for _ in range(3):
            mine_then_reset(chip, WDT_RESET)
        assert boot() == [] and chip.rtc == b"dcr1\x00\x03" and len(chip.timers) == 1
        chip.cause = HARD_RESET  # the reset button: no crash, and the count stays
        assert boot() == [] and autostart.record() == (0, 3) and len(chip.timers) == 2
        autostart.reboot_to_repl()
        assert boot() == [] and len(chip.timers) == 2  # the stop's REPL: no retry timer


def test_mining_from_the_repl_cancels_the_guards_retry():
    with FakeChip() as chip:
        from ducorig import autostart

        for _ in range(3):
            mine_then_reset(chip, WDT_RESET)
        assert boot() == []
        assert len(with_rig_recorded(autostart.start)) == 1
        assert not chip.timers[-1].pending() and autostart.record() == (0, 3)


async def test_a_crash_counts_for_60_s_and_10_minutes_of_mining_clear_the_count():
    with FakeChip() as chip:
        from ducorig import autostart

        chip.ap = ("home", "secret")
        chip.sta.boot("home", "secret")
        autostart.save(autostart.STARTED, 2)  # as start() leaves it after two boot crashes
        clock = Clock()
        rig = StubRig()
        seen = {}

        async def run():  # the rig mines while the clock moves on
            await asyncio.sleep(0)  # the settling tasks start
            seen["ends"] = sorted(s[0] for s in clock.sleepers)
            for ms in (59999, 1, 600000 - 60000 - 1, 1):
                await clock.advance(ms)
                seen[clock.now] = chip.rtc

        rig.run = run
        await autostart.headless(rig, clock.sleep)
        await asyncio.sleep(0)
        assert clock.sleepers == []  # cancelled with the rig
        assert seen.pop("ends") == [60000, 600000]
        records = {}
        for at in seen:
            chip.rtc = seen[at]
            records[at] = autostart.record()
        assert records == {59999: (autostart.STARTED, 2), 60000: (0, 2), 599999: (0, 2), 600000: (0, 0)}
        for at, crashes in ((59999, 3), (60000, 2)):  # a watchdog reset at that time
            chip.rtc, chip.cause = seen[at], SOFT_WDT_RESET
            boot()
            assert autostart.record()[1] == crashes


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
