"""The yaum driver against the yaum model on a fake clock that moves a fixed
step per bus transaction (0.1 ms: SoftI2C at ~400 kHz; 0.3 ms: ~100 kHz), so
that its polls meet the real sketch's command times (0.7 ms for L) exactly:
a stale or garbled status at any point of a job load never makes it send a
data command that the sketch's stock Wire would never read (the lock-up)."""
from __future__ import annotations

import hashlib
from binascii import hexlify

import pytest

from ducorig import proto
from ducorig.bus import Bus
from ducorig.slave import SlaveError, YaumDriver
from ducorig_host.simbus.bus import Bus as SimBus
from ducorig_host.simbus.yaum import YaumSlave

LAST = b"ba29a15896fd2d792d5c4b60668bf2b9feebc51d"
TIMEOUT_US = 50_000


class SteppingClock:
    def __init__(self, step_s: float) -> None:
        self.now = 0.0
        self.step_s = step_s

    def __call__(self) -> float:
        self.now += self.step_s
        return self.now


class Wire:
    """machine.I2C's calls on the model bus."""

    def __init__(self, bus: SimBus) -> None:
        self.bus = bus

    def writeto(self, addr: int, data: bytes) -> int:
        return self.bus.write(addr, bytes(data), TIMEOUT_US).acks

    def readfrom_into(self, addr: int, buf: bytearray) -> None:
        buf[:] = self.bus.read(addr, len(buf), TIMEOUT_US).data


@pytest.mark.parametrize("step_s", [0.0001, 0.00015, 0.0002, 0.0003])
@pytest.mark.parametrize("fault", ["garble_status", "drop_writes"])
@pytest.mark.parametrize("n", range(1, 13))
def test_no_status_reply_leads_the_driver_into_the_lockup(step_s: float, fault: str, n: int):
    clock = SteppingClock(step_s)
    slave = YaumSlave(0x20, "DUCOID0000000000000002")
    bus = SimBus([slave], clock=clock)
    driver = YaumDriver(Bus(Wire(bus)), 0x20)
    setattr(slave.faults, fault, n)
    expected = hexlify(hashlib.sha1(LAST + b"7").digest())
    try:
        driver.start(LAST, expected, 6)
    except SlaveError:
        pass  # a job it could not load is the worker's to retry
    clock.now += 5  # any hash is over
    bus.write(0x20, proto.STATUS, TIMEOUT_US)
    assert slave.unread == b"", "locked: Wire holds unread bytes"
    setattr(slave.faults, fault, 0)
    driver.start(LAST, expected, 6)
    clock.now += 5
    assert driver.poll() == proto.FOUND and driver.result()[:2] == (True, 7)
