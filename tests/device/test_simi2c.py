# ducorig.simi2c, the machine.I2C stand-in, on both runtimes: ESP8266 SoftI2C
# semantics and the wire time of every kind of transfer against the formula
# (docs/i2c-protocol.md section 6): half-period h = 500000 // freq us, 3 h per
# start, 20 h per byte (address byte included), 4 h per stop.
# Slaves: DUCORIG_SHIM_BUS (scripts/ducorig_host/simbus/testrig.py).
import os
from errno import ENODEV, ETIMEDOUT

from ducorig import proto
from ducorig.simi2c import SimI2C, half_period_us, slave_address, ticks_diff, ticks_us

BUS = "DUCORIG_SHIM_BUS"


def bus(freq=100000):
    return SimI2C(os.getenv(BUS), freq=freq)


def slave(i2c, role="ducorig"):
    address = slave_address(BUS, role)
    i2c.sim_control(address, "factory")
    return address


def expect_oserror(errno, call):
    try:
        call()
    except OSError as e:
        assert e.args[0] == errno, e.args
        return
    raise AssertionError("no OSError %d" % errno)


def timed(i2c, call):
    """call()'s result, and how long it blocked (us) next to the computed wire time."""
    start = ticks_us()
    result = call()
    return result, ticks_diff(ticks_us(), start), i2c.last_wire_us


def test_half_period_is_whole_microseconds():
    # 400 kHz asks for 1.25 us and gets 1 us: 500 kHz nominal
    assert [half_period_us(f) for f in (1000, 50000, 100000, 250000, 250001, 400000, 1000000)] == \
        [500, 10, 5, 2, 1, 1, 1]


def test_write_and_read_block_for_their_wire_time():
    for freq in (50000, 100000, 400000):
        i2c = bus(freq)
        a = slave(i2c)
        h = 500000 // freq
        acks, blocked, wire = timed(i2c, lambda: i2c.writeto(a, proto.STATUS))
        assert (acks, wire) == (1, h * (3 + 20 * 2 + 4)) and blocked >= wire
        reply, blocked, wire = timed(i2c, lambda: i2c.readfrom(a, 3))
        assert (reply, wire) == (b"Ze ", h * (3 + 20 * 4 + 4)) and blocked >= wire
        frame = proto.job_frames(b"0" * 40, b"1" * 40, 6)[0]
        acks, blocked, wire = timed(i2c, lambda: i2c.writeto(a, frame))
        assert (acks, wire) == (21, h * (3 + 20 * 22 + 4)) and blocked >= wire


def test_no_stop_saves_the_stop_and_the_read_is_a_repeated_start():
    i2c = bus()
    a = slave(i2c)
    assert i2c.writeto(a, proto.STATUS, False) == 1
    assert i2c.last_wire_us == 5 * (3 + 20 * 2)
    buf = bytearray(3)
    i2c.readfrom_into(a, buf)
    assert buf == b"Ze " and i2c.last_wire_us == 5 * (3 + 20 * 4 + 4)


def test_address_nack_raises_enodev():
    i2c = bus()
    expect_oserror(ENODEV, lambda: i2c.writeto(0x55, proto.STATUS))
    assert i2c.last_wire_us == 5 * (3 + 20 + 4)  # start, address byte, stop
    expect_oserror(ENODEV, lambda: i2c.readfrom(0x55, 3))


def test_data_nack_returns_the_ack_count():
    i2c = bus()
    a = slave(i2c)
    assert i2c.writeto(a, b"L" + b"0" * 39) == 33  # byte 34 is NACKed
    assert i2c.last_wire_us == 5 * (3 + 20 * (1 + 34) + 4)  # the master stops after it


def test_scan_sees_0x08_to_0x77_only():
    i2c = bus()
    low, high = slave(i2c, "below-scan"), slave(i2c, "above-scan")
    found, blocked, wire = timed(i2c, i2c.scan)
    assert found == [slave(i2c)]
    assert wire == 112 * 5 * (3 + 20 + 4) and blocked >= wire
    for a in (low, high):  # invisible to the scan, reachable directly
        i2c.writeto(a, proto.STATUS)
        assert i2c.readfrom(a, 3) == b"Ze "


def test_clock_stretch_adds_to_the_wire_time():
    i2c = bus()
    a = slave(i2c)
    i2c.sim_control(a, "slow", 300)
    i2c.writeto(a, proto.STATUS)
    assert i2c.last_wire_us == 5 * (3 + 20 * 2 + 4) + 300


def test_stretch_past_the_timeout_raises_etimedout():
    i2c = SimI2C(os.getenv(BUS), freq=100000, timeout=2000)
    a = slave(i2c)
    i2c.sim_control(a, "slow", 2001)
    _, blocked, wire = timed(i2c, lambda: expect_oserror(ETIMEDOUT, lambda: i2c.writeto(a, b"Q")))
    assert wire == 5 * (3 + 20) + 2000 and blocked >= wire  # no stop after a timeout
    i2c.sim_control(a, "slow", 0)
    i2c.writeto(a, proto.STATUS)
    assert i2c.readfrom(a, 3) == b"Ze "  # the timed-out write never arrived


def test_ready_line_is_low_while_a_result_is_held():
    i2c = bus()
    a = slave(i2c)
    line = i2c.ready_line()
    assert line.value() == 1
    i2c.sim_control(a, "hashrate", 1000000)
    i2c.writeto(a, proto.rate_cap_frame(0))  # flat out: the default cap (370 H/s) would take 0.27 s
    for frame in proto.job_frames(b"0" * 40, b"1" * 40, 1):  # no nonce in 0..100: N
        i2c.writeto(a, frame)
    polls = 0
    while line.value() and polls < 1000:
        polls += 1
    i2c.writeto(a, proto.STATUS)
    assert i2c.readfrom(a, 3) == b"Ne " and line.value() == 0
    i2c.writeto(a, proto.CLEAR)
    assert line.value() == 1


def test_sim_control_rejects_unknown_names():
    i2c = bus()
    try:
        i2c.sim_control(slave(i2c), "gremlins", 1)
    except ValueError as e:
        assert "gremlins" in str(e)
        return
    raise AssertionError("accepted")
