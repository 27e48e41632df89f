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


def test_yaum_write_before_loop_takes_a_data_command_is_dropped_whole():
    # Stock Wire drops an incoming write while bytes of the last one wait
    # unread; loop() reads the L payload ~50 us after the write.
    bus, clock = rig(YaumSlave(0x20, "DUCOID0000000000000002"))
    slave = bus.slave(0x20)
    bus.write(0x20, b"L" + LAST[:20].encode(), TIMEOUT)
    clock.now = 10e-6
    assert status(bus, 0x20) == b"\x00\xff\xff"  # the S was dropped: the empty reply buffer
    clock.now = 1e-3
    assert status(bus, 0x20) == b"I? " and slave.last_hash == LAST[:20].encode()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("frame", "busy_us"), [
    (b"A", 50), (b"D06", 60), (b"L" + LAST[:20].encode(), 722), (b"M" + LAST[20:].encode(), 702),
    (b"N" + LAST[:20].encode(), 692), (b"I", 251)])
def test_yaum_commands_stay_busy_as_long_as_the_real_sketch(frame: bytes, busy_us: int):
    bus, clock = rig(YaumSlave(0x20, "DUCOID0000000000000002"))
    clock.now = 1.0
    bus.write(0x20, frame, TIMEOUT)
    clock.now = 1.0 + (busy_us - 1) * 1e-6
    assert status(bus, 0x20)[0] == ord("B")
    clock.now = 1.0 + (busy_us + 1) * 1e-6
    assert status(bus, 0x20) in (b"I? ", b"Ic ")


def run_job(bus: Bus, clock: Clock, nonce: int, diff: int = 6) -> float:
    """Write a job the way the driver does (each frame once the last is
    done); the time its O was written."""
    for frame in proto.yaum_job_frames(LAST.encode(), expected(nonce).encode(), diff):
        clock.now += 1e-3
        bus.write(0x20, frame, TIMEOUT)
    return clock.now


def test_yaum_status_reads_c_o_briefly_after_a_hash():
    bus, clock = rig(YaumSlave(0x20, "DUCOID0000000000000002"))
    sent = run_job(bus, clock, 0)
    end = sent + 50e-6 + 1500e-6 + 1 / 196  # picked up, started, one nonce
    clock.now = end + 1e-6
    assert status(bus, 0x20) == b"C?O"
    clock.now = end + 479e-6
    assert status(bus, 0x20) == b"C?O"
    clock.now = end + 481e-6
    assert status(bus, 0x20) == b"C? "


def elapsed_ms(bus: Bus) -> int:
    bus.write(0x20, b"E", TIMEOUT)
    return int(bus.read(0x20, 5, TIMEOUT).data)


def test_yaum_job_start_up_costs_a_nonce_0_job_a_quarter_of_its_rate():
    # The real sketch: 146 H/s on nonce-0 jobs, 196.0 H/s on nonce-600 ones.
    bus, clock = rig(YaumSlave(0x20, "DUCOID0000000000000002"))
    rates = []
    for i in range(40):  # as many millis() phases
        clock.now = 1.0 + i * 1.0123
        run_job(bus, clock, 0)
        clock.now += 0.5
        rates.append(1000 / elapsed_ms(bus))
    assert 140 < sum(rates) / len(rates) < 160
    run_job(bus, clock, 600)
    clock.now += 5
    assert 601 * 1000 / elapsed_ms(bus) == pytest.approx(196, abs=0.5)


def test_yaum_data_command_while_hashing_locks_the_slave_until_a_power_cycle():
    bus, clock = rig(YaumSlave(0x20, "DUCOID0000000000000002"))
    slave = bus.slave(0x20)
    run_job(bus, clock, 300)
    clock.now += 0.1
    assert status(bus, 0x20) == b"B?O"
    bus.write(0x20, b"D06", TIMEOUT)  # the ISR reads the D; "06" stays in Wire's buffer
    clock.now += 5
    for command in (b"A", b"S", b"I", b"E", b"R", b"D06"):
        assert bus.write(0x20, command, TIMEOUT).acks == len(command)  # ACKed, then dropped
    clock.now += 1
    assert bus.read(0x20, 5, TIMEOUT).data == b"B?O\xff\xff"  # the old reply, then 0xFF
    assert slave.run_state == ord("C") and slave.result == 300  # type: ignore[attr-defined]
    slave.reboot(clock.now)
    clock.now += 1
    assert status(bus, 0x20) == b"Ic "


def test_a_power_cycle_frees_a_locked_slave_and_keeps_its_rate():
    # The soak's yaum_locked fault ends in one. A power cycle does not change
    # a slave's speed: a factory reset that did put a slave the pool had
    # moved to MEGA back at 196 H/s, and MEGA rejected it (2-h soak, stop 19).
    slave = YaumSlave(0x20, "DUCOID0000000000000002")
    slave.control("hashrate", "450", 0.0)
    slave.control("unplugged", "1", 0.0)
    slave.control("power", "1", 1.0)
    assert slave.hashrate == 450 and not slave.faults.unplugged and slave.answers(2.0)
    slave.control("factory", "1", 3.0)
    assert slave.hashrate == 196


def test_yaum_timings_are_settings():
    slave = YaumSlave(0x20, "DUCOID0000000000000002")
    slave.control("busy_L", "40000", 0.0)
    slave.control("settle_us", "7", 0.0)
    assert slave.timing.busy_us[ord("L")] == 40000 and slave.timing.settle_us == 7
    with pytest.raises(ValueError, match="unknown fault switch"):
        slave.control("settle", "7", 0.0)
    with pytest.raises(ValueError, match="negative"):
        slave.control("start_us", "-1", 0.0)
    slave.control("factory", "1", 0.0)
    assert slave.timing.busy_us[ord("L")] == 722 and slave.timing.settle_us == 480


def test_dropped_writes_and_garbled_status_switches():
    bus, clock = rig(YaumSlave(0x20, "DUCOID0000000000000002"))
    slave = bus.slave(0x20)
    slave.faults.garble_status = 1
    assert status(bus, 0x20) == b"Hc "  # I with bit 0 flipped
    assert status(bus, 0x20) == b"Ic "
    slave.faults.drop_writes = 1
    bus.write(0x20, b"E", TIMEOUT)
    assert bus.read(0x20, 3, TIMEOUT).data == b"Ic "  # still the status: the E was lost


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
