"""The slave models and the bus on a fake clock: timing rules and the yaum
sketch's byte-level quirks that the device-side suite cannot pin exactly."""
from __future__ import annotations

import hashlib
import math

import pytest

from ducorig import proto
from ducorig_host.simbus.bus import Bus
from ducorig_host.simbus.faults import Faults
from ducorig_host.simbus.ducorig import ADDRESS_CHANGE_S, DucorigSlave
from ducorig_host.simbus.search import Search
from ducorig_host.simbus.yaum import YaumSlave

LAST = "ba29a15896fd2d792d5c4b60668bf2b9feebc51d"
TIMEOUT = 50_000


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def rig(*slaves):
    clock = Clock()
    return Bus(slaves, clock=clock), clock


def expected(nonce: int) -> str:
    return hashlib.sha1(f"{LAST}{nonce}".encode()).hexdigest()


def status(bus: Bus, address: int) -> bytes:
    assert bus.write(address, b"S", TIMEOUT).kind == "OK"
    return bus.read(address, 3, TIMEOUT).data


def write_all(bus: Bus, address: int, frames) -> None:
    for frame in frames:
        assert bus.write(address, frame, TIMEOUT).acks == len(frame)


def test_search_tries_exactly_the_nonces_due():
    target = bytes.fromhex(expected(50))
    search = Search(LAST.encode(), target, 600, 340.0, start=10.0)
    search.advance(10.0 + 50 / 340)  # 50 hashes done: nonces 0..49
    assert not search.finished
    search.advance(10.0 + 51 / 340)
    assert (search.found, search.elapsed_s, search.end) == (50, 51 / 340, 10.0 + 51 / 340)
    stuck = Search(LAST.encode(), target, 600, 0.0, start=0.0)
    stuck.advance(1e9)
    assert not stuck.finished and stuck.nonce_time() == math.inf


def test_ours_result_carries_elapsed_microseconds():
    bus, clock = rig(DucorigSlave(0x10, "DUCOID0000000000000001"))
    write_all(bus, 0x10, proto.job_frames(LAST.encode(), expected(50).encode(), 6))
    clock.now = 50 / 340
    assert status(bus, 0x10) == b"Be "
    clock.now = 51 / 340
    bus.write(0x10, b"R", TIMEOUT)
    assert proto.parse_result(bus.read(0x10, 20, TIMEOUT).data) == (proto.FOUND, 50, 150000)
    assert bus.ready() == 0


def test_ours_clear_stops_hashing_at_the_next_nonce():
    bus, clock = rig(DucorigSlave(0x10, "DUCOID0000000000000001"))
    write_all(bus, 0x10, proto.job_frames(LAST.encode(), expected(60000).encode(), 655))
    clock.now = 1.0
    bus.write(0x10, b"A", TIMEOUT)
    clock.now = 1.0 + 0.9 / 340
    assert status(bus, 0x10) == b"Be "
    clock.now = 1.0 + 1 / 340
    assert status(bus, 0x10) == b"Ie "


def test_ours_moves_after_its_eeprom_write():
    bus, clock = rig(DucorigSlave(0x10, "DUCOID0000000000000001"))
    bus.write(0x10, b"V42", TIMEOUT)
    clock.now = ADDRESS_CHANGE_S * 0.9
    assert status(bus, 0x10) == b"Ze " and bus.read(42, 3, TIMEOUT).kind == "NACK"
    clock.now = ADDRESS_CHANGE_S
    assert bus.read(0x10, 3, TIMEOUT).kind == "NACK" and status(bus, 42) == b"Ze "


def test_ours_rearms_after_an_over_long_write():
    bus, clock = rig(DucorigSlave(0x10, "DUCOID0000000000000001"))
    assert bus.write(0x10, b"L" + b"0" * 39, TIMEOUT).acks == 33
    assert bus.write(0x10, b"S", TIMEOUT).kind == "NACK"
    clock.now = 60e-6  # one pass of the idle loop
    assert status(bus, 0x10) == b"Ze>"


def test_yaum_status_poll_before_loop_picks_up_the_chunk_loses_its_payload():
    # The S write replaces Wire's buffer before loop() copied the L payload:
    # the race hauchel's master gets away with because loop() is quick.
    bus, clock = rig(YaumSlave(0x20, "DUCOID0000000000000002"))
    slave = bus.slave(0x20)
    bus.write(0x20, b"L" + LAST[:20].encode(), TIMEOUT)
    clock.now = 10e-6
    assert status(bus, 0x20) == b"BcL"
    clock.now = 1e-3
    assert status(bus, 0x20) == b"I? " and slave.last_hash == b""  # type: ignore[attr-defined]
    bus.write(0x20, b"L" + LAST[:20].encode(), TIMEOUT)
    clock.now = 2e-3
    assert status(bus, 0x20) == b"I? " and slave.last_hash == LAST[:20].encode()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("frame", "address"), [(b"V42", 42), (b"Vz0", 4), (b"V0z", 74)])
def test_yaum_takes_any_two_characters_as_its_address(frame: bytes, address: int):
    # slNum() is (c1-'0')*10 + (c2-'0') into a uint8_t; > 127 falls back to 4
    bus, clock = rig(YaumSlave(0x20, "DUCOID0000000000000002"))
    bus.write(0x20, frame, TIMEOUT)
    clock.now = 0.1
    assert status(bus, address) == b"I? "


def test_yaum_scan_probe_turns_complete_into_idle():
    bus, clock = rig(YaumSlave(0x20, "DUCOID0000000000000002", hashrate=1e6))
    for i, frame in enumerate(proto.yaum_job_frames(LAST.encode(), expected(7).encode(), 6)):
        clock.now = i * 1e-3
        write_all(bus, 0x20, [frame])
    clock.now = 0.1
    assert status(bus, 0x20) == b"C? "
    assert bus.scan(0x08, 0x77, TIMEOUT) == [0x20]
    clock.now = 0.2
    assert status(bus, 0x20) == b"I? "
    bus.write(0x20, b"R", TIMEOUT)
    assert bus.read(0x20, 5, TIMEOUT).data == b"    7"


def test_two_slaves_at_one_address_and_the_wire():
    a = DucorigSlave(0x10, "DUCOID0000000000000001")
    b = YaumSlave(0x20, "DUCOID0000000000000002")
    bus, clock = rig(a, b)
    b.eeprom_address = b.address = 0x10
    write_all(bus, 0x10, [b"S"])  # both take it
    assert bus.read(0x10, 3, TIMEOUT).data == bytes(x & y for x, y in zip(b"Ze ", b"Ic "))
    assert bus.read(0x11, 3, TIMEOUT).kind == "NACK"
    a.faults.sda_low = True
    assert bus.read(0x11, 2, TIMEOUT).data == b"\x00\x00" and len(bus.scan(0x08, 0x77, TIMEOUT)) == 112


def test_fault_switches_parse_their_values():
    faults = Faults()
    faults.set("hung", "1")
    faults.set("slow", "250")
    assert (faults.hung, faults.slow) == (True, 250)
    with pytest.raises(ValueError, match="gremlins"):
        faults.set("gremlins", "1")


class Holder:
    """Just enough of a slave for the ready line: it holds a result or not."""

    def __init__(self, home: int) -> None:
        self.home = home
        self.holding = False

    def advance(self, now: float) -> None:
        pass

    def holds_result(self) -> bool:
        return self.holding


def test_a_fall_one_look_saw_reaches_every_later_look():
    # One result read and cleared, the next one done, between two of the
    # watcher's samples: both find the line low, yet a master's READY saw it
    # high in between. The falls count carries that edge to the watcher.
    a, b = Holder(8), Holder(9)
    bus = Bus([a, b])  # type: ignore[list-item]
    assert bus.ready_state() == (1, 0)
    a.holding = True
    assert bus.ready_state() == (0, 1)  # the watcher's sample
    a.holding = False
    assert bus.ready() == 1  # a master's READY
    b.holding = True
    assert bus.ready_state() == (0, 2)  # the next sample: same level, one more fall
    a.holding = True
    assert bus.ready_state() == (0, 2)  # wired-AND: a second holder makes no edge
