# ducorig.ticks on both runtimes.
import time

from ducorig.ticks import ticks_add, ticks_diff, ticks_ms


def test_ticks_advance_with_time():
    start = ticks_ms()
    time.sleep(0.02)
    assert ticks_diff(ticks_ms(), start) >= 15


def test_ticks_add_and_diff_are_inverse():
    t = ticks_ms()
    assert ticks_diff(ticks_add(t, 1234), t) == 1234
    assert ticks_diff(t, ticks_add(t, 1234)) == -1234
