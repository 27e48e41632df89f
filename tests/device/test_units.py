# Small parts of the controller on both runtimes: stats, the bus's error
# mapping and retries, the ready line, tier choice, the stats report.
# The I2C object and the pin are test doubles: no GPIO exists here.
# mpunit: heapsize=256k
import asyncio
from errno import ENODEV, ETIMEDOUT

from ducorig import bus, report, slave, stats, worker
from ducorig.ready import PinReady


class FakeI2C:
    def __init__(self, errors=(), acks=None):
        self.errors = list(errors)
        self.acks = acks
        self.calls = 0

    def writeto(self, addr, buf, stop=True):
        self.calls += 1
        if self.errors:
            raise OSError(self.errors.pop(0))
        return len(buf) if self.acks is None else self.acks

    def readfrom_into(self, addr, buf, stop=True):
        self.calls += 1
        buf[:] = b"x" * len(buf)


async def expect(exc_type, coro):
    try:
        await coro
    except exc_type as e:
        return e
    raise AssertionError("%s not raised" % exc_type.__name__)


def test_histogram_keeps_its_proportions_past_16_bits():
    h = stats.Histogram()
    for _ in range(70000):
        h.add(10)
    for _ in range(30000):
        h.add(30)
    assert h.total < 70000 + 30000 and h.percentile(50) == 11 and h.percentile(95) == 31


def test_histogram_percentiles():
    h = stats.Histogram()
    assert h.percentile(50) is None
    for ms in range(100):
        h.add(ms)
    assert (h.percentile(50), h.percentile(95)) == (50, 95)
    h.add(10000)  # beyond the limit: the last bucket
    assert h.percentile(100) == 401


def test_slave_stats_rate_and_counts():
    s = stats.SlaveStats("pm0", 8)
    s.hashes, s.hash_us = 680, 2000000
    assert s.hashrate() == 340.0
    s.count(s.rejected, "Incorrect result")
    s.count(s.rejected, "Incorrect result")
    assert s.as_dict()["rejected"] == {"Incorrect result": 2}


def test_a_count_key_made_at_run_time_is_kept_once_for_every_slave():
    kind = "timeout"
    a, b = stats.SlaveStats("a", 8), stats.SlaveStats("b", 9)
    for s in (a, b, a):
        s.count(s.lost, "pool: " + kind)  # a new string each time
    [(key_a, n_a)], [(key_b, n_b)] = list(a.lost.items()), list(b.lost.items())
    assert key_a == "pool: timeout" and key_a is key_b and (n_a, n_b) == (2, 1)


def test_slave_stats_phase_times():
    s = stats.SlaveStats("pm0", 8)
    for ms in (100, 300, 200):  # job wait, I2C, hash (us), submit wait, hashes
        s.add_share(7, 12, 2000 * ms, ms, 301)
    assert s.phase(stats.SUBMIT_WAIT) == (3, 200.0, 300.0)
    assert s.phase(stats.HASH) == (3, 400.0, 600.0)
    assert s.as_dict()["phases"]["job"] == [3, 7.0, 7.0]
    assert (s.hashes, s.hash_us) == (903, 1200000)
    s.zero()
    assert s.phase(stats.SUBMIT_WAIT) == (0, 0.0, 0.0)


def test_a_transfer_is_one_blocking_call():
    i2c = FakeI2C()
    b = bus.Bus(i2c)
    assert b.transfer(8, b"S", bytearray(3)) is None  # write, then read: no coroutine
    assert (i2c.calls, b.failures) == (2, 0)


async def test_bus_retries_a_missing_ack_then_succeeds():
    i2c = FakeI2C(errors=[ENODEV, ENODEV])
    b = bus.Bus(i2c, retry_ms=1)
    call = lambda: b.transfer(8, b"S", None)  # noqa: E731
    e = raises_bus_error(call)
    await b.again(e, call)
    assert (i2c.calls, b.failures) == (3, 2)


async def test_bus_gives_up_with_slave_absent():
    b = bus.Bus(FakeI2C(errors=[ENODEV] * 10), retry_ms=1)
    call = lambda: b.transfer(8, b"S", None)  # noqa: E731
    e = await expect(bus.BusError, b.again(raises_bus_error(call), call))
    assert e.kind == bus.ABSENT and e.addr == 8 and "0x08" in str(e)


async def test_bus_short_write_is_not_retried():
    i2c = FakeI2C(acks=2)
    b = bus.Bus(i2c, retry_ms=1)
    call = lambda: b.transfer(8, b"Labc", None)  # noqa: E731
    e = await expect(bus.BusError, b.again(raises_bus_error(call), call))
    assert e.kind == bus.SHORT and i2c.calls == 1


async def test_a_session_holding_the_lock_makes_transfers_wait():
    # as the console's raw command holds it across awaits: a worker checks
    # the lock before its blocking transfer (worker._io, bus.again)
    i2c = FakeI2C(errors=[ENODEV])
    b = bus.Bus(i2c, retry_ms=1)
    call = lambda: b.transfer(8, b"S", None)  # noqa: E731
    e = raises_bus_error(call)
    await b.lock.acquire()
    task = asyncio.create_task(b.again(e, call))
    for _ in range(20):
        await asyncio.sleep(0.005)
    assert i2c.calls == 1 and not task.done()
    b.lock.release()
    await task
    assert i2c.calls == 2 and not b.lock.locked()


def raises_bus_error(call):
    try:
        call()
    except bus.BusError as e:
        return e
    raise AssertionError("no BusError")


async def test_bus_recovers_after_a_stretch_timeout():
    fresh = FakeI2C()
    recovered = []

    def recover():
        recovered.append(1)
        return fresh

    b = bus.Bus(FakeI2C(errors=[ETIMEDOUT]), recover, retry_ms=1)
    call = lambda: b.transfer(8, b"S", None)  # noqa: E731
    e = raises_bus_error(call)
    assert e.kind == bus.STUCK and recovered == [1] and b.i2c is fresh
    await b.again(e, call)
    assert fresh.calls == 1


class FakePin:
    IRQ_FALLING = 2

    def __init__(self):
        self.level = 1
        self.handler = None

    def irq(self, handler, trigger):
        assert trigger == self.IRQ_FALLING
        self.handler = handler

    def value(self):
        return self.level

    def fall(self):
        self.level = 0
        self.handler(self)


async def test_ready_line_wakes_on_a_falling_edge():
    pin = FakePin()
    line = PinReady(pin)
    waiter = asyncio.create_task(line.fell())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    pin.fall()
    await asyncio.wait_for(waiter, 1)
    assert line.value() == 0
    waiter = asyncio.create_task(line.fell())  # no new edge: it waits
    await asyncio.sleep(0.01)
    assert not waiter.done()
    pin.level = 1
    pin.fall()  # an edge before the next wait is latched
    await asyncio.wait_for(waiter, 1)


def test_tier_follows_the_measured_rate():
    assert [worker.tier_for(r) for r in (196, 379, 380, 600, 2068)] == ["AVR", "AVR", "MEGA", "ARM", "DUE"]


class Writer:
    """A stream writer that keeps what it is given, piece by piece."""

    def __init__(self):
        self.pieces = []

    def write(self, data):
        self.pieces.append(bytes(data))

    async def drain(self):
        pass


async def report_line(slaves, poll_ms):
    """The report's JSON line for a rig of `slaves` slaves, and its pieces."""
    class Rig:
        pass

    rig = Rig()
    rig.stats = stats.RigStats()
    for i in range(slaves):
        rig.stats.add_slave("pm%d" % i, 8 + i)
    rig.bus = bus.Bus(FakeI2C())
    rig.poll_ms = poll_ms
    w = Writer()
    await report.write_snapshot(w, rig)
    return b"".join(w.pieces), w.pieces


async def test_report_snapshot_has_rig_and_slaves():
    import json

    line, _ = await report_line(1, 30)
    snap = json.loads(line)
    assert snap["rig"]["poll_ms"] == 30 and snap["slaves"][0]["name"] == "pm0"


async def test_report_line_is_written_a_slave_at_a_time():
    import json

    line, pieces = await report_line(20, 200)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    sent = json.loads(line)
    assert [s["name"] for s in sent["slaves"]] == ["pm%d" % i for i in range(20)]
    assert sent["rig"]["poll_ms"] == 200 and sent["rig"]["bus_failures"] == 0
    assert max(len(p) for p in pieces) < len(line) // 10  # no piece holds the whole line


async def test_identify_refuses_what_is_not_a_duco_slave():
    e = await expect(slave.SlaveError, slave.identify(bus.Bus(FakeI2C()), 8))
    assert "not a DUCO slave" in str(e)
