# One asyncio task per Pro Mini. The data path of one share, top-down in
# Worker.share(): JOB -> job line -> write it to the slave -> wait -> poll ->
# read the result -> check it -> submit -> feedback. Every wait overlaps the
# other slaves' work; a failure here touches only this slave's task.
import asyncio
import hashlib
from binascii import unhexlify

from ducorig import duco, proto
from ducorig.bus import BusError
from ducorig.pool import Backoff, PoolError
from ducorig.slave import JobRefused, SlaveError, SlaveReset, identify
from ducorig.stats import HASH, I2C, JOB_WAIT, SUBMIT_WAIT
from ducorig.ticks import ticks_diff, ticks_ms

DEFAULT_RATE = 340.0  # H/s assumed until the slave has reported its own
REDISCOVER_AFTER = 3  # failed connects in a row before asking for the pool again
# Tier by measured rate, as the official AVR miner chooses (protocol.md 2.3).
_TIER_LIMITS = ((380, "AVR"), (550, "MEGA"), (1000, "ARM"))


def tier_for(rate):
    for limit, name in _TIER_LIMITS:
        if rate < limit:
            return name
    return "DUE"


class Worker:
    def __init__(self, rig, slave_cfg, stats, client):
        self.rig = rig
        self.cfg = slave_cfg
        self.stats = stats
        self.client = client
        self.slave = None  # the driver, once identified
        self.pool_backoff = Backoff()
        self.slave_backoff = Backoff(first_ms=500, max_ms=30000)
        self.wake = asyncio.Event()  # set by the ready-line watcher, and by a resume (rig.gate)
        self.hashing = False  # waiting for the slave's result
        self.done = False  # the slave holds a result
        self.started = 0  # ticks when the current job went to the slave
        self.limit_ms = 0  # the current job's worst case: past it the slave is reset
        self._last_feedback = None
        self.redial = False  # the console asks for a fresh pool connection
        self.quota = None  # shares left before it pauses (0: paused), None: no limit

    async def run(self):
        while self.rig.running:
            await self.rig.gate(self)
            try:
                if self.redial:
                    self.redial = False
                    await self.client.close()
                if self.slave is None:
                    await self._identify()
                if not self.client.connected:
                    await self._connect()
                await self.share()
            except PoolError as e:
                self._failed("pool", e)
                await self.client.close()
                self.pool_backoff.failed()
                if self.pool_backoff.failures >= REDISCOVER_AFTER:
                    self.rig.pool_trouble()
                await self.pool_backoff.wait()
            except (SlaveError, BusError) as e:
                self._failed("slave", e)
                self.slave = None
                self.slave_backoff.failed()
                await self.slave_backoff.wait()
            except Exception as e:  # a bug must not end this slave's task
                self._failed("internal", e)
                await self.client.close()
                self.slave = None
                self.slave_backoff.failed()
                await self.slave_backoff.wait()

    async def share(self):
        t0 = ticks_ms()
        job = await self.client.request_job()
        t1 = ticks_ms()
        self.stats.add_time(JOB_WAIT, ticks_diff(t1, t0))
        try:
            nonce, elapsed_us, proven = await self._hash(job)
        except JobRefused as e:
            # The pool moved this connection out of the slave's range:
            # reconnecting asks for the configured tier again.
            self.stats.count(self.stats.lost, "refused")
            await self.client.close()
            raise SlaveError(str(e))
        except (SlaveError, BusError):
            await self._abandon()
            raise
        t2 = ticks_ms()
        if elapsed_us <= 0:
            elapsed_us = int((nonce + 1) * 1000000 / self._rate())
        rate = duco.hashrate(nonce, elapsed_us)
        self.stats.add_time(HASH, elapsed_us / 1000)
        self.stats.hashes += nonce + 1
        self.stats.hash_us += elapsed_us
        self.stats.state = "submit"
        try:
            result = await self.client.submit(nonce, rate, self.slave.ducoid)
        except PoolError as e:
            self.stats.count(self.stats.lost, "pool: " + type(e).__name__)
            raise
        t3 = ticks_ms()
        self.stats.add_time(SUBMIT_WAIT, ticks_diff(t3, t2))
        if proven:  # an unproven answer is already counted as lost
            self._book(result)
        start = t0 if self._last_feedback is None else self._last_feedback
        self.rig.stats.overhead.add(
            ticks_diff(t3, start) - elapsed_us / 1000 - ticks_diff(t1, t0) - ticks_diff(t3, t2))
        self._last_feedback = t3
        self.pool_backoff.succeeded()
        self.slave_backoff.succeeded()

    async def _hash(self, job):
        """Run the job on the slave: (nonce, elapsed_us, proven)."""
        for _ in range(3):
            t = ticks_ms()
            await self.slave.start(job.last_hash, job.expected_hash, job.diff)
            self.stats.add_time(I2C, ticks_diff(ticks_ms(), t))
            try:
                return await self._wait_and_read(job)
            except SlaveReset:
                self.stats.count(self.stats.errors, "reset")
        raise SlaveError("slave keeps rebooting")

    async def _wait_and_read(self, job):
        self.stats.state = "hash"
        self.limit_ms = limit_ms = int((100 * job.diff + 1) * 2000 / self._rate()) + 1000
        self.started = ticks_ms()
        self.done = False
        self.hashing = True
        try:
            while True:
                await self._wait_poll_time()
                t = ticks_ms()
                if not self.done:  # the ready-line watcher may have polled for us
                    await self._poll()
                if self.done:
                    self.hashing = False
                    found, nonce, elapsed_us = await self.slave.result()
                    if self._uses_ready_line():
                        await self.slave.clear()  # release the ready line
                    self.done = False
                    self.stats.add_time(I2C, ticks_diff(ticks_ms(), t))
                    return self._checked(job, found, nonce, elapsed_us)
                if ticks_diff(ticks_ms(), self.started) > limit_ms:
                    await self.slave.reset()
                    raise SlaveError("hashing takes over %d ms: reset" % limit_ms)
        finally:
            self.hashing = False
            self.done = False
            self.rig.cleared.set()  # the ready-line watcher waits for done results to be read

    def _uses_ready_line(self):
        # Only a ducorig slave drives the ready line; a yaum slave is always polled.
        return self.rig.ready is not None and self.slave.protocol == "ducorig"

    async def _wait_poll_time(self):
        if not self._uses_ready_line():
            await asyncio.sleep(self.rig.poll_ms / 1000)
            return
        # Sleep until the ready-line watcher finds this slave done, or wakes
        # it past its limit_ms (a hung slave). No timeout of its own: a
        # wait_for per hashing slave would cost two tasks each, all the time.
        if self.done:  # found while this worker was busy elsewhere: its wake is spent
            return
        self.wake.clear()
        await self.wake.wait()

    async def poll_for_watcher(self):
        """One poll on behalf of the ready-line watcher; True if done (the
        worker is then woken to read the result)."""
        if await self._poll():
            self.wake.set()
        return self.done

    async def _poll(self):
        """One status poll, counted; True once the slave holds a result."""
        state = await self.slave.poll()
        self.stats.polls += 1
        self.done = state in (proto.FOUND, proto.NOT_FOUND)
        return self.done

    async def _abandon(self):
        """The slave failed mid-job. The pool takes the next message as this
        job's result, so answer it (wrongly) to keep the connection, its
        Kolka index and its first-10-shares credit."""
        self.stats.count(self.stats.lost, "slave failed")
        try:
            await self.client.submit(0, DEFAULT_RATE, self.slave.ducoid)
        except PoolError:
            await self.client.close()

    def _checked(self, job, found, nonce, elapsed_us):
        """One SHA-1 on the master proves the nonce before it goes to the pool
        (a yaum slave has no CRC, and a garbled nonce would earn a BAD)."""
        if found and 0 <= nonce <= 100 * job.diff:
            text = job.last_hash + str(nonce)
            if hashlib.sha1(text.encode()).digest() == unhexlify(job.expected_hash):
                return nonce, elapsed_us, True
            self.stats.count(self.stats.lost, "wrong nonce")
        else:
            self.stats.count(self.stats.lost, "not found")
        # The pool still waits for an answer to this job: a wrong one keeps the
        # connection (and its first-10-shares credit) alive at the cost of one BAD.
        return nonce, elapsed_us, False

    def _book(self, result):
        if result.accepted:
            self.stats.accepted += 1
            if result.kind == "BLOCK":
                self.stats.blocks += 1
        else:
            self.stats.count(self.stats.rejected, result.reason)
            self.stats.last_bad = result.reason
        if self.rig.verbose:
            self.rig.log("%s %s" % (self.stats.name, result))

    async def _identify(self):
        self.stats.state = "identify"
        self.slave = await identify(self.rig.bus, self.cfg.address, self.cfg.protocol)
        self.stats.protocol = self.slave.protocol
        self.stats.ducoid = self.slave.ducoid

    async def _connect(self):
        self.stats.state = "connect"
        if self.rig.cfg.tier == "auto":
            self.client.tier = tier_for(self._rate())
        await self.client.connect()

    def _rate(self):
        return self.stats.hashrate() or DEFAULT_RATE

    def _failed(self, kind, e):
        self.stats.state = kind + " error"
        name = kind + ": " + type(e).__name__
        if self.stats.errors.get(name, 0) == 0 or self.rig.verbose:
            self.rig.log("%s: %s %s" % (self.stats.name, name, e))  # once per kind, not a flood
        self.stats.count(self.stats.errors, name)
