"""The Pro Mini sketch (firmware/minipro/minipro.ino), built with Debian's
avr-gcc for both clocks and run in simavr (firmware/minipro/sim/avrsim.c)
through scripts/ducorig_host/simbus/avr.py: what the conformance suite
(tests/device/test_conformance_avr.py, the bus view) cannot see. Timing is
checked in simulated cycles. Under CI=true a missing tool chain fails these
tests instead of skipping them, and a failed build always fails them."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from ducorig import duco, proto
from ducorig_host.simbus import avr
from ducorig_host.simbus.bus import Bus
from ducorig_host.simbus.testrig import ducoid_for
from tests import avr_toolchain

HOME = 0x10
LAST = "ba29a15896fd2d792d5c4b60668bf2b9feebc51d"  # the official self-test job: nonce 50 at diff 10
EXPECTED = "d0beba883d7e8cd119ea2b0e09b78f60f29e0968"
OFFICIAL = proto.job_frames(LAST.encode(), EXPECTED.encode(), 10)
TIMEOUT_US = 50_000


@pytest.fixture(scope="module")
def elves() -> dict[int, Path]:
    avr_toolchain.require()
    try:
        return {f: avr.build(f) for f in avr.FREQUENCIES}
    except avr.HarnessError as e:
        pytest.fail(f"the sketch or the harness does not build: {e}")


def boot(elves, tmp_path: Path, *, f_cpu: int = 16_000_000, address: int | None = HOME,
         serial: str = "0123456789ABCDEF", eeprom: Path | None = None) -> avr.Harness:
    """A freshly powered simulated Pro Mini, run until it answers I2C."""
    if eeprom is None:
        eeprom = tmp_path / f"eeprom-{serial}.bin"
        eeprom.write_bytes(avr.factory_eeprom(address))
    sim = avr.Harness(elves[f_cpu], eeprom, serial, f_cpu=f_cpu)
    sim.run_until_armed()
    sim.run_us(20_000)  # the rest of setup(): the console greeting
    return sim


def status(sim: avr.Harness, address: int = HOME) -> bytes:
    assert sim.write(address, proto.STATUS)[0] == "OK"
    return sim.read(address, proto.STATUS_LEN)[1]


def result(sim: avr.Harness, address: int = HOME) -> tuple[int, int, int]:
    sim.write(address, proto.RESULT)
    return proto.parse_result(sim.read(address, proto.RESULT_LEN)[1])


def send(sim: avr.Harness, frames, address: int = HOME) -> None:
    for frame in frames:
        assert sim.write(address, frame)[:2] == ("OK", len(frame)), frame


def finish(sim: avr.Harness, limit_s: float = 10.0) -> bytes:
    """Run (simulated time) until the job is over; the final status."""
    start = sim.state.cycle
    while (st := status(sim))[0] == proto.BUSY:
        assert sim.state.cycle - start < limit_s * sim.f_cpu, st
        sim.run_us(5_000)
    return st


def hashing_span(sim: avr.Harness) -> tuple[int, int]:
    """(cycles, sleeping cycles) between the last job's start and end marks."""
    start = [m for m in sim.marks if m[0] == avr.MARK_START][-1]
    end = [m for m in sim.marks if m[0] == avr.MARK_END][-1]
    return end[1] - start[1], end[2] - start[2]


def console(sim: avr.Harness, line: bytes, run_us: float = 60_000) -> str:
    """Type a line (CR), let the sketch answer; what it printed meanwhile."""
    sim.uart.clear()
    sim.serial_in(line + b"\r")
    sim.run_us(run_us + 300 * len(line))
    return sim.uart.decode(errors="replace")


# --- build ----------------------------------------------------------------------


def test_builds_for_both_clocks_within_the_pro_mini(elves):
    for f_cpu, elf in elves.items():
        flash, ram = avr_size(elf)
        assert 4000 < flash <= 30720, (f_cpu, flash)  # the Pro Mini's bootloader leaves 30 KB
        assert ram < 1100, (f_cpu, ram)  # of 2 KB: the rest is stack
        assert elf.with_suffix(".hex").read_text().startswith(":")


def avr_size(elf: Path) -> tuple[int, int]:
    from ducorig_host import avrbench

    return avrbench.image_size(elf)


@pytest.mark.parametrize("f_cpu", avr.FREQUENCIES)
def test_the_official_job_at_each_clock_flat_out(elves, tmp_path, f_cpu):
    with boot(elves, tmp_path, f_cpu=f_cpu) as sim:
        send(sim, [proto.rate_cap_frame(0), *OFFICIAL])
        assert finish(sim) == b"Ce "
        assert result(sim)[:2] == (proto.FOUND, 50)
        cycles, _ = hashing_span(sim)
        rate = 51 * f_cpu / cycles  # nonces 0..50, by the simulated clock
        assert 1900 * f_cpu / 16_000_000 < rate < 2100 * f_cpu / 16_000_000, rate


# --- EEPROM address -----------------------------------------------------------------


def test_address_is_kept_in_eeprom_across_resets_and_power_cycles(elves, tmp_path):
    eeprom = tmp_path / "eeprom.bin"
    eeprom.write_bytes(avr.factory_eeprom(HOME))
    with boot(elves, tmp_path, eeprom=eeprom) as sim:
        send(sim, [proto.address_frame(42)])
        sim.run_us(5_000)  # "answers there within 5 ms"
        assert status(sim, 42) == b"Ze " and sim.write(HOME, proto.STATUS)[0] == "NACK"
        send(sim, [proto.RESET], 42)
        sim.run_us(100_000)  # "off the bus up to 100 ms"
        assert status(sim, 42) == b"Ze "
    assert eeprom.read_bytes()[0] == 42
    with boot(elves, tmp_path, eeprom=eeprom) as sim:  # power off and on: a new process, same EEPROM file
        assert sim.state.address == 42 and status(sim, 42) == b"Ze "


def test_an_erased_eeprom_means_address_4(elves, tmp_path):
    with boot(elves, tmp_path, address=None) as sim:
        assert sim.state.address == 4 and status(sim, 4) == b"Ze "
        assert "EEPROM byte 0: 255, erased" in console(sim, b"address")
        send(sim, [proto.address_frame(8)], 4)
        sim.run_us(5_000)
        assert status(sim, 8) == b"Ze "


def test_bad_addresses_are_refused_with_a_message(elves, tmp_path):
    with boot(elves, tmp_path) as sim:
        for bad in (b"V07", b"V100", b"V7"):
            assert "Ze#  # address must be 08..99" in console(sim, bad)
            assert status(sim) == b"Ze#" and sim.state.address == HOME


# --- DUCOID ---------------------------------------------------------------------------


def test_ducoid_is_the_injected_serial_and_differs_per_instance(elves, tmp_path):
    ids = set()
    for serial in ("0123456789ABCDEF", "FEDCBA9876543210"):
        with boot(elves, tmp_path, serial=serial) as sim:
            sim.write(HOME, proto.DUCOID)
            ducoid = proto.parse_ducoid(sim.read(HOME, proto.DUCOID_LEN)[1])
            assert ducoid == "DUCOID" + serial  # as the official sketch forms it
            ids.add(ducoid)
    assert len(ids) == 2


def test_bus_slaves_report_their_own_ducoid(elves):
    homes = (0x21, 0x22)
    bus = Bus(avr.AvrSlave(home, ducoid_for(f"test/{home}")) for home in homes)
    try:
        for home in homes:
            assert bus.write(home, proto.DUCOID, TIMEOUT_US).kind == "OK"
            assert proto.parse_ducoid(bus.read(home, proto.DUCOID_LEN, TIMEOUT_US).data) == ducoid_for(f"test/{home}")
    finally:
        for home in homes:
            bus.slave(home).close()


# --- Serial console -------------------------------------------------------------------


def test_console_echoes_and_answers_like_a_read(elves, tmp_path):
    with boot(elves, tmp_path) as sim:
        assert sim.uart.decode() == "\r\nducorig Pro Mini, wire version e, I2C address 16. Type help.\r\n"
        assert console(sim, b"S") == "S\r\nZe \r\n"  # the echo, then the 3 status bytes
        assert console(sim, b"I") == "I\r\nDUCOID0123456789ABCDEF,DE\r\n"
        assert console(sim, b"Q") == "Q\r\nZe?  ? unknown command (help lists them)\r\n"
        assert console(sim, b"SX\x08\x08R") == "SX\x08 \x08\x08 \x08R\r\nZ00000,0000000000,7E\r\n"  # backspace


def test_a_typo_gets_a_short_error(elves, tmp_path):
    with boot(elves, tmp_path) as sim:
        assert console(sim, b"stauts") == "stauts\r\nZe?  ? unknown command (help lists them)\r\n"
        assert console(sim, b"L123") == "L123\r\nRe#  # bad argument\r\n"
        assert "> too long" in console(sim, b"L" + b"0" * 40)


def test_a_job_typed_on_the_console_is_the_same_job(elves, tmp_path):
    with boot(elves, tmp_path) as sim:
        for frame in OFFICIAL:
            assert console(sim, frame).endswith("\r\nLe \r\n" if frame[:1] != b"O" else "\r\nBe \r\n")
        assert finish(sim) == b"Ce "
        sim.write(HOME, proto.RESULT)
        over_i2c = sim.read(HOME, proto.RESULT_LEN)[1].decode()
        assert console(sim, b"R") == f"R\r\n{over_i2c}\r\n" and over_i2c.startswith("C00050,")


def test_local_commands(elves, tmp_path):
    with boot(elves, tmp_path) as sim:
        text = console(sim, b"test", 800_000)
        match = re.search(r"self-test ok: nonce 50, 1001 hashes in (\d+) us = ([\d.]+) H/s flat out; rate cap 370", text)
        assert match, text
        assert 1900 < float(match[2]) < 2100
        text = console(sim, b"status")
        assert "state Z (booted), last verdict ' ', I2C address 16, rate cap 370 H/s" in text
        assert "started by power-on or reset" in text
        assert "I2C address 16 (EEPROM byte 0: 16)" in console(sim, b"address")
        assert "local: status  address  test" in console(sim, b"help")


# --- watchdog ----------------------------------------------------------------------------


@pytest.mark.parametrize("f_cpu", avr.FREQUENCIES)
def test_a_hung_job_is_reset_by_the_watchdog_and_yields_no_share(elves, tmp_path, f_cpu):
    with boot(elves, tmp_path, f_cpu=f_cpu) as sim:
        send(sim, OFFICIAL)
        sim.run_us(20_000)
        assert status(sim) == b"Be "
        sim.hang()  # loop() stuck, interrupts on: the I2C ISR still answers
        seen = []
        for _ in range(70):
            sim.run_us(10_000)
            st = status(sim)
            seen.append(st)
            assert st[0] != proto.FOUND  # never a result of the hung job
        assert set(seen) == {b"Be ", b"Ze "} and seen.index(b"Ze ") <= 52  # 0.5 s watchdog
        assert result(sim) == (proto.BOOTED, 0, 0)
        assert sim.resets == 0  # the watchdog interrupt restarted the sketch: no chip reset
        assert "started by the watchdog (hung)" in console(sim, b"status")
        send(sim, OFFICIAL)  # and it works again
        assert finish(sim) == b"Ce " and result(sim)[:2] == (proto.FOUND, 50)


def test_x_restarts_through_the_watchdog_within_100_ms(elves, tmp_path):
    with boot(elves, tmp_path) as sim:
        send(sim, OFFICIAL)
        send(sim, [proto.RESET])
        start, seen = sim.state.cycle, []
        while not seen or seen[-1] != b"Ze ":
            sim.run_us(1_000)
            kind, _, _ = sim.write(HOME, proto.STATUS)
            seen.append(sim.read(HOME, 3)[1] if kind == "OK" else kind)
        assert "NACK" in seen and (sim.state.cycle - start) / 16e6 < 0.1  # off the bus, then booted
        assert set(seen) <= {b"Be ", "NACK", b"Ze "} and result(sim) == (proto.BOOTED, 0, 0)
        assert "started by X" in console(sim, b"status")


# --- rate cap -------------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [370, 100, 5])
def test_rate_cap_holds_in_simulated_cycles(elves, tmp_path, cap):
    with boot(elves, tmp_path) as sim:
        if cap != proto.DEFAULT_RATE_CAP:
            send(sim, [proto.rate_cap_frame(cap)])
        send(sim, OFFICIAL)
        assert finish(sim, 60) == b"Ce "
        state, nonce, elapsed_us = result(sim)
        cycles, sleeping = hashing_span(sim)
        effective = max(cap, 16)  # W1..W15 act as 16
        true_rate = (nonce + 1) * 16e6 / cycles
        assert 0.99 * effective < true_rate <= effective, true_rate
        assert 0.99 * effective < duco.hashrate(nonce, elapsed_us) <= effective  # elapsed includes the idling
        assert sleeping > 0.7 * cycles  # it sleeps between nonces, it does not spin


def test_rate_cap_off_runs_flat_out_and_applies_from_the_next_job(elves, tmp_path):
    with boot(elves, tmp_path) as sim:
        send(sim, OFFICIAL)
        sim.run_us(10_000)
        send(sim, [proto.rate_cap_frame(0)])  # accepted while hashing, for the next job
        assert status(sim) == b"Be "
        assert finish(sim) == b"Ce " and duco.hashrate(*result(sim)[1:]) <= 370
        send(sim, OFFICIAL)
        assert finish(sim) == b"Ce " and duco.hashrate(*result(sim)[1:]) > 1900


# --- board ---------------------------------------------------------------------------------


PORTB, DDRB, DDRC, PORTC, PORTD = 0x25, 0x24, 0x27, 0x28, 0x2B
LED = 1 << 5  # PB5, pin 13
READY = 1 << 4  # PD4, pin 4


def test_led_is_on_while_a_job_is_received_and_hashed(elves, tmp_path):
    with boot(elves, tmp_path) as sim:
        def led() -> bool:
            sim.run_us(3_000)
            return bool(sim.peek(PORTB)[0] & LED)

        assert sim.peek(DDRB)[0] & LED and not led()
        send(sim, OFFICIAL[:1])
        assert led()  # loading
        send(sim, OFFICIAL[1:])
        assert led()  # hashing
        finish(sim)
        assert not led()


def test_the_ready_line_is_low_while_a_result_is_held(elves):
    slave = avr.AvrSlave(0x23, ducoid_for("test/ready"))
    bus = Bus([slave])
    try:
        assert bus.ready() == 1
        for frame in OFFICIAL:
            bus.write(0x23, frame, TIMEOUT_US)
        assert bus.ready() == 1  # hashing
        slave.harness.run_us(300_000)
        assert bus.ready() == 0  # C: D4 driven low
        bus.write(0x23, proto.CLEAR, TIMEOUT_US)
        slave.harness.run_us(100)  # loop() sees the new state
        assert bus.ready() == 1  # I: released (an input without pull-up)
        assert not slave.harness.peek(PORTD)[0] & READY
    finally:
        slave.close()


def test_the_i2c_pins_have_no_pull_ups(elves, tmp_path):
    with boot(elves, tmp_path) as sim:
        sim.run_us(10_000)
        sda_scl = 0b0011_0000  # PC4, PC5: the bus is pulled up to 3.3 V on the ESP side
        assert not sim.peek(PORTC)[0] & sda_scl and not sim.peek(DDRC)[0] & sda_scl


def test_isrs_stretch_the_clock_briefly_at_8_mhz(elves, tmp_path):
    with boot(elves, tmp_path, f_cpu=8_000_000) as sim:
        stretches = [sim.write(HOME, frame)[2] for frame in OFFICIAL]
        for selector, n in ((proto.STATUS, 3), (proto.RESULT, 20), (proto.DUCOID, 25)):
            stretches.append(sim.write(HOME, selector)[2])
            stretches.append(sim.read(HOME, n)[2])
        # stretch_us counts from the START after the last STOP (15 us at 100 kHz)
        assert max(stretches) <= 100, stretches  # docs/i2c-protocol.md section 6: ISRs <= 100 us


def test_an_over_long_write_is_answered_at_once(elves, tmp_path):
    with boot(elves, tmp_path) as sim:
        assert sim.write(HOME, b"L" + b"0" * 39)[:2] == ("OK", 33)  # byte 34 NACKed, as with Wire
        assert status(sim) == b"Ze>"  # not deaf, unlike the stock Wire slave


# --- real time ---------------------------------------------------------------------------------


def test_real_time_mode_follows_the_wall_clock(elves, tmp_path):
    (slave,) = avr.slaves(1, 0x30)
    bus = Bus([slave])
    try:
        assert slave.realtime and bus.write(0x30, proto.STATUS, TIMEOUT_US).kind == "OK"
        assert bus.read(0x30, 3, TIMEOUT_US).data == b"Ze "
        start, cycle0 = time.monotonic(), slave.harness.probe().cycle
        time.sleep(0.3)
        rate = (slave.harness.probe().cycle - cycle0) / (time.monotonic() - start)
        assert 0.8 * 16e6 < rate < 1.2 * 16e6, rate
    finally:
        slave.close()
    with pytest.raises(ValueError):
        avr.slaves(avr.MAX_REALTIME_SLAVES + 1)
