# What main.py keeps in the ESP8266's RTC memory (machine.RTC().memory(): up
# to 492 bytes that survive every reset but a power cut, which empties them):
# one 6-byte record.
#   bytes 0-3  b"dcr1": the layout and its version. Anything else (the empty
#              memory after a power cut, another program's bytes) reads as
#              flags 0, crashes 0, and the next write replaces it.
#   byte 4     flags, each a bit:
#              NOAUTO   the console's stop: skip the next autostart, once;
#              STARTED  main.py started the rig less than 60 s ago: a crash
#                       reset now is a boot crash;
#              RETRY    the crash-loop guard's timed reset: mine, once.
#   byte 5     crashes: watchdog and exception resets, each within 60 s of
#              boot, since the last 10 minutes of clean mining (at most 255).
# ducorig.autostart reads and writes it; firmware/esp8266/README.md tells the
# story.
import machine

MAGIC = b"dcr1"
NOAUTO = 1
STARTED = 2
RETRY = 4


def read():
    """(flags, crashes) of the record."""
    mem = machine.RTC().memory()
    if len(mem) == 6 and mem[:4] == MAGIC:
        return mem[4], mem[5]
    return 0, 0


def write(flags, crashes):
    machine.RTC().memory(MAGIC + bytes((flags, min(crashes, 255))))
