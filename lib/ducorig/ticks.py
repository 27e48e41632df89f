# Millisecond ticks and an integer-millisecond sleep that work on MicroPython
# and CPython. MicroPython's ticks wrap (ticks_diff handles that); CPython gets
# monotonic stand-ins with the same names. sleep_ms: MicroPython's own takes
# an int, with no float to build on every poll.
import asyncio

try:
    from time import ticks_add, ticks_diff, ticks_ms, ticks_us
except ImportError:
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_us():
        return int(time.monotonic() * 1000000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b

try:
    sleep_ms = asyncio.sleep_ms
except AttributeError:  # CPython

    def sleep_ms(ms):
        return asyncio.sleep(ms / 1000)
