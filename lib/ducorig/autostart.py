# What main.py runs on the ESP8266: mine headless after every reset, unless
# told not to. The port has no safe mode, so there are three ways to the REPL:
# - the console's stop: it sets NOAUTO in the RTC record (below) and reboots,
#   since an armed watchdog cannot be stopped (Rig.safe_reboot). The flag is
#   cleared as it is read: it skips one start;
# - GPIO BYPASS_PIN held low at reset (a jumper to GND);
# - the crash-loop guard. A reset by the watchdog or by an exception while
#   the rig is less than 60 s old counts as a crash; after 3 of them main.py
#   stays at the REPL and a timer resets the chip into mining after 10
#   minutes (20, 40, then 60 for each further crash). 10 minutes of mining
#   clear the count.
# Headless means WiFi first (for as long as it takes), then the rig, with the
# watchdog armed once mining runs.
#
# The RTC record: machine.RTC().memory() keeps up to 492 bytes through every
# reset but a power cut, which empties it. 6 bytes:
#   0-3  b"dcr1", the layout. Anything else (empty after a power cut, another
#        program's bytes) reads as flags 0, crashes 0.
#   4    flags: NOAUTO skip the next start, once; STARTED the rig started
#        less than 60 s ago, so a crash reset now counts; RETRY the guard's
#        timed reset: mine, once.
#   5    crashes: watchdog and exception resets, each within 60 s of the
#        start, since the last 10 minutes of mining (at most 255).
import asyncio

import machine

from ducorig.config import BYPASS_PIN  # D7 on NodeMCU/Wemos boards: no boot-strap role, has a pull-up
from ducorig.ticks import sleep_ms

NOAUTO = 1
STARTED = 2
RETRY = 4
# machine.reset_cause() on the ESP8266 is the SDK's reset reason: 1 the
# hardware watchdog (machine.WDT_RESET), 2 an exception, 3 the software
# watchdog that machine.WDT is (machine names only the first). No crashes:
# 0 power-on, 4 machine.reset() (console R, mpremote, deploy), 5 deep sleep,
# 6 the reset pin. A soft reset (Ctrl-D) keeps the last hard reset's cause.
CRASH_CAUSES = (1, 2, 3)

retry = None  # the guard's pending machine.Timer (retry.deinit() stays at the REPL)


def record():
    """(flags, crashes) of the RTC record."""
    mem = machine.RTC().memory()
    if len(mem) == 6 and mem[:4] == b"dcr1":
        return mem[4], mem[5]
    return 0, 0


def save(flags, crashes):
    machine.RTC().memory(b"dcr1" + bytes((flags, min(crashes, 255))))


def skip_reason(flags):
    """Why not to autostart now, or None."""
    if flags & NOAUTO:
        return "stopped from the console"
    if machine.Pin(BYPASS_PIN, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0:
        return "GPIO%d is low" % BYPASS_PIN
    return None


def main():
    """main.py's entry."""
    global retry
    flags, crashes = record()
    if flags & STARTED and machine.reset_cause() in CRASH_CAUSES:
        crashes += 1
    save(0, crashes)  # the flags are for this reset only
    why = skip_reason(flags)
    if why:
        print("ducorig: no autostart (%s); autostart.start() mines" % why)
        return
    if crashes >= 3 and not flags & RETRY:
        minutes = min(10 << min(crashes - 3, 3), 60)
        retry = machine.Timer(-1)  # main.py returns: the REPL stays usable while it waits
        retry.init(period=minutes * 60000, mode=machine.Timer.ONE_SHOT, callback=_retry_now)
        print("ducorig: no autostart (%d watchdog/exception resets within 60 s of boot);"
              " mining again in %d min, autostart.start() mines now" % (crashes, minutes))
        return
    start()


def _retry_now(timer):
    """The guard's wait is over: reset into mining (a fresh heap, and RETRY
    passes the guard once). A reset, not the rig itself: a Timer's callback
    runs scheduled, and no other callback (WebREPL's) would run under it."""
    _flag(RETRY)
    machine.reset()


def _flag(flags):
    save(flags, record()[1])


def start(path="config.json"):
    """Mine as after a reset (from the REPL too: WiFi, then the watchdog)."""
    global retry
    from ducorig import rig

    if retry is not None:  # mining now: the guard's reset would cut it short
        retry.deinit()
        retry = None
    _flag(STARTED)
    try:
        rig.main(path, runner=headless)
    finally:
        _flag(0)  # back at the REPL: a soft reset from here is no crash


async def headless(rig, sleep=sleep_ms):
    """rig.main's runner on the chip: WiFi up, then the rig, with the link
    watched, the watchdog fed, and the crash count settled (sleep: the
    tests' clock)."""
    from ducorig.wifi import Station

    settle = [asyncio.create_task(_settle(sleep, 60000, None))]  # no boot crash after 60 s
    station = Station(rig.cfg.wifi.ssid, rig.cfg.wifi.password, rig.log)
    await station.up()  # Ctrl-C still reaches the REPL here: nothing is armed yet
    if rig.cfg.pool.discover:
        await rig.find_pool()  # before the watchdog: DNS and the TLS handshake block the loop
    settle.append(asyncio.create_task(_settle(sleep, 600000, 0)))  # no crash loop after 10 min of mining
    rig.watchdog = machine.WDT  # the rig arms it once mining runs, and feeds it while the workers progress
    try:
        await station.supervise(rig)  # the workers wait on its link while it is down
    finally:
        for task in settle:
            task.cancel()


async def _settle(sleep, ms, crashes):
    """After ms without a reset: STARTED off, and the count set to crashes
    (None: kept)."""
    await sleep(ms)
    save(0, record()[1] if crashes is None else crashes)


def reboot_to_repl():
    """Reboot, skipping the autostart once (Rig.safe_reboot)."""
    _flag(NOAUTO)
    machine.reset()
