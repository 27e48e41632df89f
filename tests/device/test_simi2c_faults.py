# The slave models' fault switches, set through the shim's sim_control, on
# both runtimes: what the master sees, and that the protocol's recovery path
# (docs/i2c-protocol.md section 5) gets a good share afterwards. Model only:
# the conformance suite never uses these. Slaves: DUCORIG_FAULT_BUS.
import hashlib
import os
import time
from binascii import hexlify
from errno import ENODEV

from ducorig import duco, proto
from ducorig.simi2c import SimI2C, slave_address

BUS = "DUCORIG_FAULT_BUS"
LAST = b"ba29a15896fd2d792d5c4b60668bf2b9feebc51d"  # the official self-test job


def expected_for(nonce):
    return hexlify(hashlib.sha1(LAST + b"%d" % nonce).digest())


def fresh(role):
    """(i2c, address) of the slave `role`, power-cycled to factory state."""
    i2c = SimI2C(os.getenv(BUS), freq=100000)
    address = slave_address(BUS, role)
    i2c.sim_control(address, "factory")
    return i2c, address


def ask(i2c, a, selector, n):
    i2c.writeto(a, selector)
    return i2c.readfrom(a, n)


def send_job(i2c, a, nonce, diff=6):
    for frame in proto.job_frames(LAST, expected_for(nonce), diff):
        assert i2c.writeto(a, frame) == len(frame)


def poll(i2c, a, until, limit=2000):
    """Status reads (S selected once) until `until` holds, at most `limit` of them;
    a NACK (slave off the bus) counts as a poll."""
    for _ in range(limit):
        try:
            reply = ask(i2c, a, proto.STATUS, 3)
            if until(reply):
                return reply
        except OSError as e:
            assert e.args[0] == ENODEV
        time.sleep(0.001)
    raise AssertionError("no such status in %d polls" % limit)


def share(i2c, a, nonce=12):
    """A whole good share: job, poll, result."""
    send_job(i2c, a, nonce)
    poll(i2c, a, lambda st: st[0] in b"CN")
    return proto.parse_result(ask(i2c, a, proto.RESULT, proto.RESULT_LEN))


def expect_enodev(call):
    try:
        call()
    except OSError as e:
        return e.args[0] == ENODEV
    return False


def test_unplugged_slave_nacks_and_leaves_the_scan():
    for role in ("ducorig", "yaum"):
        i2c, a = fresh(role)
        i2c.sim_control(a, "unplugged", 1)
        assert expect_enodev(lambda: i2c.writeto(a, proto.STATUS)) and a not in i2c.scan()
        i2c.sim_control(a, "unplugged", 0)
        assert a in i2c.scan()


def test_hung_slave_stays_busy_until_reset():
    i2c, a = fresh("ducorig")
    i2c.sim_control(a, "hung", 1)
    send_job(i2c, a, 12)
    i2c.writeto(a, proto.CLEAR)  # the hash loop never looks at the abort flag
    i2c.writeto(a, proto.STATUS)
    assert [i2c.readfrom(a, 3) for _ in range(20)] == [b"Be "] * 20
    i2c.writeto(a, proto.RESET)  # the watchdog reset comes from the ISR
    assert poll(i2c, a, lambda st: st != b"Be ") == b"Ze "
    i2c.sim_control(a, "hung", 0)
    assert share(i2c, a)[:2] == (proto.FOUND, 12)


def test_slow_hashing_reports_its_own_rate():
    i2c, a = fresh("ducorig")
    i2c.sim_control(a, "hashrate", 100)
    state, nonce, elapsed_us = share(i2c, a, 9)
    assert (state, nonce, elapsed_us) == (proto.FOUND, 9, 100000)  # 10 hashes at 100 H/s
    assert duco.hashrate(nonce, elapsed_us) == 100.0


def test_garbled_job_is_refused_and_the_resent_job_works():
    i2c, a = fresh("ducorig")
    i2c.sim_control(a, "garble_job", 1)  # one bit of the L chunk flips on the wire
    send_job(i2c, a, 12)
    assert ask(i2c, a, proto.STATUS, 3) in (b"Ee ", b"Re#")
    assert share(i2c, a)[:2] == (proto.FOUND, 12)


def test_garbled_result_fails_its_crc_and_a_reread_is_right():
    i2c, a = fresh("ducorig")
    good = share(i2c, a)
    i2c.sim_control(a, "garble_result", 1)
    i2c.writeto(a, proto.RESULT)
    try:
        proto.parse_result(i2c.readfrom(a, proto.RESULT_LEN))
        raise AssertionError("garbled result accepted")
    except proto.ProtoError:
        pass
    assert proto.parse_result(i2c.readfrom(a, proto.RESULT_LEN)) == good  # read again, no new write


def send_yaum_job(i2c, a, nonce):
    """A yaum job whose answer is nonce, each frame once the slave is not busy."""
    for frame in proto.yaum_job_frames(LAST, expected_for(nonce), 6):
        poll(i2c, a, lambda st: st[0] != proto.BUSY)
        i2c.writeto(a, frame)


def test_yaum_cannot_notice_a_garbled_result():
    i2c, a = fresh("yaum")
    i2c.sim_control(a, "hashrate", 1000000)
    send_yaum_job(i2c, a, 12)
    poll(i2c, a, lambda st: st == b"C? ")
    i2c.sim_control(a, "garble_result", 1)
    assert proto.yaum_number(ask(i2c, a, proto.RESULT, 5)) == 13  # wrong, and nothing tells


def test_reset_mid_job_shows_booted_and_the_resent_job_works():
    i2c, a = fresh("ducorig")
    i2c.sim_control(a, "reset_after", 5)
    send_job(i2c, a, 300)
    assert poll(i2c, a, lambda st: st != b"Be ") == b"Ze "
    assert share(i2c, a)[:2] == (proto.FOUND, 12)


def test_yaum_reset_mid_job_forgets_everything():
    i2c, a = fresh("yaum")
    i2c.sim_control(a, "reset_after", 5)
    send_yaum_job(i2c, a, 300)
    assert poll(i2c, a, lambda st: st[0] != proto.BUSY) == b"Ic "  # as after power-on
    assert ask(i2c, a, proto.RESULT, 5) == b"    0"


def test_sda_held_low_acks_everything_and_reads_zeros():
    i2c, a = fresh("ducorig")
    i2c.sim_control(a, "sda_low", 1)
    assert i2c.scan() == list(range(0x08, 0x78))
    assert i2c.writeto(0x55, b"L" + b"0" * 39) == 40
    reply = ask(i2c, 0x55, proto.STATUS, 3)
    assert reply == b"\x00\x00\x00"
    try:
        proto.status_state(reply)
        raise AssertionError("a stuck bus passed for a status")
    except proto.ProtoError:
        pass
    i2c.sim_control(a, "sda_low", 0)
    assert i2c.scan() == [slave_address(BUS, "ducorig"), slave_address(BUS, "yaum")]


def test_deaf_after_an_over_long_write_until_power_cycled():
    for role in ("ducorig", "yaum"):  # yaum: stock Wire, deaf by default
        i2c, a = fresh(role)
        if role == "ducorig":
            i2c.sim_control(a, "deaf", 1)
        assert i2c.writeto(a, b"L" + b"0" * 39) == 33
        assert [expect_enodev(lambda: i2c.writeto(a, proto.STATUS)) for _ in range(20)] == [True] * 20
        i2c.sim_control(a, "factory")
        assert ask(i2c, a, proto.STATUS, 3)[1] == (proto.WIRE_VERSION if role == "ducorig" else proto.YAUM_WIRE_VERSION)
