# Millisecond ticks that work on MicroPython and CPython.
# MicroPython's ticks wrap (ticks_diff handles that); CPython gets a monotonic
# stand-in with the same three functions.
try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b
