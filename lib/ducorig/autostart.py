# What main.py runs on the ESP8266: mine headless after every reset, unless
# told not to. The port has no safe mode, so there are three ways to the REPL,
# two of them kept in the RTC record of ducorig.rtcmem (it survives a reset,
# not a power cut):
# - NOAUTO: the console's stop sets it and reboots, since an armed watchdog
#   cannot be stopped (Rig.safe_reboot). It is cleared as it is read: it
#   skips one start;
# - GPIO BYPASS_PIN held low at reset (a jumper to GND);
# - the crash-loop guard. A reset by the watchdog or by an exception while
#   the rig is less than BOOT_MS old counts as a crash; after CRASHES of them
#   main.py stays at the REPL and a timer resets the chip into mining after
#   10 minutes (20, 40, then 60 for each further crash). CLEAN_MS of mining
#   clears the count.
# Headless means WiFi first (for as long as it takes), then the rig, with the
# watchdog armed once mining runs.
import asyncio

import machine

from ducorig import rtcmem
from ducorig.config import BYPASS_PIN  # D7 on NodeMCU/Wemos boards: no boot-strap role, has a pull-up
from ducorig.ticks import sleep_ms

# machine.reset_cause() on the ESP8266 is the SDK's reset reason: 1 the
# hardware watchdog (machine.WDT_RESET), 2 an exception, 3 the software
# watchdog that machine.WDT is; machine names only the first. Not crashes:
# 0 power-on, 4 machine.reset() (console R, mpremote, deploy), 5 deep sleep,
# 6 the reset pin. A soft reset (Ctrl-D) keeps the last hard reset's cause.
CRASH_CAUSES = (1, 2, 3)
CRASHES = 3
BOOT_MS = 60000
CLEAN_MS = 600000
RETRY_MS = 600000
RETRY_MAX_MS = 3600000

retry = None  # the guard's pending machine.Timer (retry.deinit() stays at the REPL)


def skip_reason(flags):
    """Why not to autostart now, or None."""
    if flags & rtcmem.NOAUTO:
        return "stopped from the console"
    if machine.Pin(BYPASS_PIN, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0:
        return "GPIO%d is low" % BYPASS_PIN
    return None


def retry_ms(crashes):
    """The guard's wait: 10 minutes at CRASHES, doubling per crash, at most an hour."""
    return min(RETRY_MS << min(crashes - CRASHES, 3), RETRY_MAX_MS)


def main():
    """main.py's entry."""
    global retry
    flags, crashes = rtcmem.read()
    if flags & rtcmem.STARTED and machine.reset_cause() in CRASH_CAUSES:
        crashes += 1
    rtcmem.write(0, crashes)  # the flags are for this reset only
    why = skip_reason(flags)
    if why:
        print("ducorig: no autostart (%s); autostart.start() mines" % why)
        return
    if crashes >= CRASHES and not flags & rtcmem.RETRY:
        wait = retry_ms(crashes)
        retry = machine.Timer(-1)  # main.py returns: the REPL stays usable while it waits
        retry.init(period=wait, mode=machine.Timer.ONE_SHOT, callback=_retry_now)
        print("ducorig: no autostart (crash loop: %d resets by the watchdog or an exception within 60 s"
              " of boot); mining again in %d min, autostart.start() mines now" % (crashes, wait // 60000))
        return
    start()


def _retry_now(timer):
    """The guard's wait is over: reset into mining (a fresh heap, and RETRY
    passes the guard once). A reset, not the rig itself: a Timer's callback
    runs scheduled, and no other callback (WebREPL's) would run under it."""
    _set_flags(rtcmem.RETRY)
    machine.reset()


def _set_flags(flags):
    rtcmem.write(flags, rtcmem.read()[1])


def start(path="config.json"):
    """Mine as after a reset (from the REPL too: WiFi, then the watchdog)."""
    global retry
    from ducorig import rig

    if retry is not None:  # mining now: the guard's reset would cut it short
        retry.deinit()
        retry = None
    _set_flags(rtcmem.STARTED)
    try:
        rig.main(path, runner=headless)
    finally:
        _set_flags(0)  # back at the REPL: a soft reset from here is no crash


async def headless(rig, sleep=sleep_ms):
    """rig.main's runner on the chip: WiFi up, then the rig, with the link
    watched, the watchdog fed, and the crash count settled (sleep: the
    tests' clock)."""
    from ducorig.wifi import Station

    settled = [asyncio.create_task(_lived(sleep))]
    station = Station(rig.cfg.wifi.ssid, rig.cfg.wifi.password, rig.log)
    await station.up()  # Ctrl-C still reaches the REPL here: nothing is armed yet
    if rig.cfg.pool.discover:
        await rig.find_pool()  # before the watchdog: DNS and the TLS handshake block the loop
    keep = asyncio.create_task(station.keep())
    settled.append(asyncio.create_task(_mined(sleep)))
    rig.watchdog = machine.WDT  # the rig arms it once mining runs, and feeds it
    try:
        await rig.run()
    finally:
        keep.cancel()
        for task in settled:
            task.cancel()


async def _lived(sleep):
    """BOOT_MS after the start: a crash from now on is no boot crash."""
    await sleep(BOOT_MS)
    _set_flags(0)


async def _mined(sleep):
    """CLEAN_MS of mining without a reset: out of any crash loop."""
    await sleep(CLEAN_MS)
    rtcmem.write(rtcmem.read()[0], 0)


def reboot_to_repl():
    """Reboot, skipping the autostart once (Rig.safe_reboot)."""
    _set_flags(rtcmem.NOAUTO)
    machine.reset()
