# The yaum driver (ducorig.slave.YaumDriver) against the faithful model of the
# real yaum sketch (DUCORIG_FAULT_BUS, role yaum), on both runtimes. The
# sketch's stock Wire locks up for good when a data-carrying command reaches
# it while it hashes or runs a command: the driver must never send one then,
# whatever stale (dropped S) or garbled (flipped bit) status it reads, and
# must name a slave that is locked anyway. docs/i2c-protocol.md section 7.
import asyncio
import hashlib
import os
import time
from binascii import hexlify

from ducorig import proto
from ducorig.bus import Bus, BusError
from ducorig.simi2c import SimI2C, slave_address
from ducorig.slave import FAILED, LOCKED, REBOOTED, SlaveError, identify, wire_locked

BUS = "DUCORIG_FAULT_BUS"
LAST = b"ba29a15896fd2d792d5c4b60668bf2b9feebc51d"


def expected_for(nonce):
    return hexlify(hashlib.sha1(LAST + b"%d" % nonce).digest())


def fresh():
    """(driver, i2c, address) of the yaum slave, power-cycled to factory state."""
    i2c = SimI2C(os.getenv(BUS), freq=100000)
    address = slave_address(BUS, "yaum")
    i2c.sim_control(address, "factory")
    driver = asyncio.run(identify(Bus(i2c), address))
    assert driver.protocol == "yaum"
    return driver, i2c, address


def finish(driver, limit=3000):
    """Poll as the worker does until the driver says the result is there."""
    for _ in range(limit):
        if driver.poll() == proto.FOUND:
            return driver.result()
        time.sleep(0.002)
    raise AssertionError("no result in %d polls" % limit)


def share(driver, nonce, diff=6):
    driver.start(LAST, expected_for(nonce), diff)
    return finish(driver)


def error_of(call, *args):
    try:
        call(*args)
    except SlaveError as e:
        return e
    return None


def test_a_job_is_found_and_its_elapsed_read():
    driver, _, _ = fresh()
    found, nonce, elapsed_us = share(driver, 20)
    assert (found, nonce) == (True, 20) and elapsed_us >= 100000  # 21 nonces at 196 H/s


def test_nothing_found_is_reported_as_not_found():
    driver, _, _ = fresh()
    found, nonce, _ = share(driver, 101, diff=1)  # nonces 0..100 only
    assert (found, nonce) == (False, 0)


def test_a_job_for_a_slave_still_hashing_is_refused_not_sent():
    # The slave hashes an abandoned job (~0.5 s): the A is dropped at the
    # hash's end, the status never reads "Ic ", and no data command goes.
    driver, i2c, a = fresh()
    driver.start(LAST, expected_for(100), 1)
    e = error_of(driver.start, LAST, expected_for(5), 6)
    assert e is not None and e.kind == FAILED, e
    time.sleep(0.7)
    assert not wire_locked(driver.bus, a)
    assert share(driver, 5)[:2] == (True, 5)


def test_stale_and_garbled_status_replies_never_lock_the_slave():
    # Each fault hits one reply or write of the job load at a different place.
    # The data commands' busy times (0.7 ms for L) are stretched, so that on
    # this real-time bus the polls land while the slave is busy, as they do
    # on a chip (tests/host/test_yaum_driver_races.py: the real figures).
    driver, i2c, a = fresh()
    for letter in "DLMN":
        i2c.sim_control(a, "busy_" + letter, 20000)
    for fault in ("garble_status", "drop_writes"):
        for n in range(1, 13):
            i2c.sim_control(a, fault, n)
            e = error_of(share, driver, 7)
            i2c.sim_control(a, fault, 0)
            time.sleep(0.1)  # a dropped O: the slave is idle; a hash: over
            assert not wire_locked(driver.bus, a), (fault, n, e)
            assert e is None or e.kind == FAILED, (fault, n, e)
            assert share(driver, 7)[:2] == (True, 7), (fault, n)


def test_c_o_after_a_hash_is_not_yet_a_result():
    driver, i2c, a = fresh()
    i2c.sim_control(a, "settle_us", 300000)  # the real 0.5 ms, stretched past the bus's jitter
    driver.start(LAST, expected_for(2), 6)
    polls = []
    while not polls or polls[-1] != b"C?O":
        assert driver.poll() == proto.BUSY
        polls.append(bytes(driver.bus.status))
        assert len(polls) < 200, polls
    assert finish(driver)[:2] == (True, 2)


def test_a_slave_that_restarted_while_hashing_is_said_so():
    driver, i2c, a = fresh()
    i2c.sim_control(a, "reset_after", 3)
    driver.start(LAST, expected_for(300), 6)
    e = None
    for _ in range(500):
        try:
            e = error_of(driver.poll)
        except BusError:  # off the bus while it boots: the worker retries
            pass
        if e is not None:
            break
        time.sleep(0.002)
    assert e is not None and e.kind == REBOOTED, e


def test_a_locked_slave_is_named_and_a_power_cycle_frees_it():
    driver, i2c, a = fresh()
    driver.start(LAST, expected_for(300), 6)
    time.sleep(0.05)
    i2c.writeto(a, b"D06")  # what the driver never does: data while it hashes
    e = error_of(share, driver, 5)
    assert e is not None and e.kind == LOCKED and str(e) == "yaum slave locked: power-cycle it", e
    try:
        asyncio.run(identify(driver.bus, a))
        raise AssertionError("identified a locked slave")
    except SlaveError as e:
        assert e.kind == LOCKED, e
    i2c.sim_control(a, "factory")
    driver = asyncio.run(identify(driver.bus, a))
    assert share(driver, 5)[:2] == (True, 5)
