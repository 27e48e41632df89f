# What main.py runs on the ESP8266: mine headless after every reset, unless
# told not to. The port has no safe mode, so there are two ways to the REPL:
# - the RTC-memory flag NOAUTO: the console's stop sets it and reboots, since
#   an armed watchdog cannot be stopped (Rig.safe_reboot). It survives a
#   reset, not a power cut, and is cleared as it is read: it skips one start;
# - GPIO BYPASS_PIN held low at reset (a jumper to GND).
# Headless means WiFi first (for as long as it takes), then the rig, with the
# watchdog armed once mining runs.
import asyncio

import machine

from ducorig.config import BYPASS_PIN  # D7 on NodeMCU/Wemos boards: no boot-strap role, has a pull-up

NOAUTO = b"ducorig:noauto"


def skip_reason():
    """Why not to autostart now, or None."""
    rtc = machine.RTC()
    if rtc.memory() == NOAUTO:
        rtc.memory(b"")
        return "stopped from the console"
    if machine.Pin(BYPASS_PIN, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0:
        return "GPIO%d is low" % BYPASS_PIN
    return None


def main():
    """main.py's entry."""
    why = skip_reason()
    if why:
        print("ducorig: no autostart (%s); autostart.start() mines" % why)
        return
    start()


def start(path="config.json"):
    """Mine as after a reset (from the REPL too: WiFi, then the watchdog)."""
    from ducorig import rig

    rig.main(path, runner=headless)


async def headless(rig):
    """rig.main's runner on the chip: WiFi up, then the rig, with the link
    watched and the watchdog fed."""
    from ducorig.wifi import Station

    station = Station(rig.cfg.wifi.ssid, rig.cfg.wifi.password, rig.log)
    await station.up()  # Ctrl-C still reaches the REPL here: nothing is armed yet
    if rig.cfg.pool.discover:
        await rig.find_pool()  # before the watchdog: DNS and the TLS handshake block the loop
    keep = asyncio.create_task(station.keep())
    rig.watchdog = machine.WDT  # the rig arms it once mining runs, and feeds it
    try:
        await rig.run()
    finally:
        keep.cancel()


def reboot_to_repl():
    """Reboot, skipping the autostart once (Rig.safe_reboot)."""
    machine.RTC().memory(NOAUTO)
    machine.reset()
