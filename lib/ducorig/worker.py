# One asyncio task per Pro Mini. The data path of one share, top-down in
# Worker.share(): JOB -> job line -> write it to the slave -> wait (sleep
# between status polls, or for the ready line) -> read the result -> check it
# -> submit -> feedback. Every wait overlaps the other slaves' work; a failure
# here touches only this slave's task.
#
# Cost matters here (docs/chip-budget.md): this loop runs ~20 times a second
# on a chip that retires ~30 x86-instruction-equivalents per microsecond. So
# the slave's calls are plain blocking calls (one I2C transfer each, no
# coroutine), sleeps take integer milliseconds, and the hot loop keeps what
# it uses in locals (the ESP8266 port has no attribute lookup cache).
import asyncio
import hashlib

from ducorig import proto
from ducorig.bus import BusError
from ducorig.pool import PoolError, backoff_ms
from ducorig.slave import FAILED, LOCKED, REBOOTED, REFUSED, SlaveError, identify
from ducorig.ticks import sleep_ms, ticks_diff, ticks_ms, ticks_us

DEFAULT_RATE = 340.0  # H/s assumed until the slave has reported its own
REDISCOVER_AFTER = 3  # failed connects in a row before asking for the pool again
POLLS_PER_SHARE = 24  # polls over a job's expected hash time (polling mode)
JOB_TRIES = 3  # sends of one job to a slave that reboots while hashing it
LOCKED_LOOK_MS = 60000  # a locked slave is looked at again once a minute: has it been power-cycled?
BOUNCE_CAP = 0.95  # a bounce lowers the rate cap to this much of the rate the lower tier refused
BOUNCE_PARK_MS = 600000  # a slave without a cap that bounces waits this long before it tries again
# The pool's tiers in the order it moves a connection (config.TIERS, whose
# module is not kept resident), and the rates at which the official AVR miner
# picks the next one (README, "The pool emulator").
_TIERS = ("AVR", "MEGA", "ARM", "DUE")
_TIER_LIMITS = (380, 550, 1000)


def tier_for(rate):
    i = 0
    while i < 3 and rate >= _TIER_LIMITS[i]:
        i += 1
    return _TIERS[i]


class Worker:
    def __init__(self, rig, slave_cfg, stats, client):
        self.rig = rig
        self.cfg = slave_cfg
        self.stats = stats
        self.client = client
        self.slave = None  # the driver, once identified
        self.slave_failures = 0  # slave or bus errors in a row (the back-off grows with them)
        self.wake = asyncio.Event()  # the ready-line watcher's and a resume's wake-up
        self.woken_state = None  # the state the ready-line watcher polled, or None
        self.started = 0  # ticks when the current job went to the slave
        self.limit_ms = 0  # the current job's worst case: past it the slave is reset
        self.done_at = 0  # ticks when the slave was found done
        self.write_us = 0  # how long the last job write took
        self.redial = False  # the console asks for a fresh pool connection
        self.quota = None  # shares left before it pauses (0: paused), None: no limit
        self._last_feedback = None
        # What the watchdog looks at (Rig._housekeeping): the ticks of the
        # last step done, and how long the next may take (None: a wait
        # without end, paused or offline; or not started).
        self.progress_at = ticks_ms()
        self.bound_ms = None
        self.reported = 0.0  # the hash rate sent with the last share
        self.diff = None  # the connection's last job difficulty: it changes when the pool moves the tier
        self.last_move = 0  # the tier move before this job: 1 up, -1 down, 0 none
        self.moves = 0  # the pool's moves, net: a new connection asks for the tier they led to
        self.fast_rate = 0  # the last rate a tier refused as too fast for it
        self.rate_cap = None  # the cap the bounce set (sent again after every reset)

    async def run(self):
        rig = self.rig
        link = rig.link
        step_ms = rig.step_ms
        pool_failures = 0  # failed connections in a row
        self.mark(step_ms)
        while rig.running:
            if self.quota is not None:
                await rig.gate(self)
            if not link.is_set():  # wait for the station's supervisor to bring it back
                self.stats.state = "offline"
                self.bound_ms = None
                await self.client.close()  # what became of it is unknown: connect afresh
                await link.wait()
                pool_failures = 0  # the link failed, not the pool
            try:
                if self.redial:
                    self.redial = False
                    await self.client.close()
                if self.slave is None:
                    self.stats.state = "identify"
                    self.mark(step_ms)
                    self.slave = await identify(rig.bus, self.cfg.address, self.cfg.protocol)
                    self.stats.protocol = self.slave.protocol
                    self.stats.ducoid = self.slave.ducoid
                    await self._apply_cap()
                if self.client.writer is None:  # not connected
                    self.stats.state = "connect"
                    self.mark(step_ms)
                    if rig.cfg.tier == "auto":
                        self.client.tier = tier_for(self._rate())
                    else:
                        # where the pool's moves led (its own table comes at run time: a
                        # wrong guess costs the one BAD share its move costs anyway)
                        self.client.tier = _TIERS[min(max(_TIERS.index(rig.cfg.tier) + self.moves, 0), 3)]
                    await self.client.connect()
                    self.diff = None  # a new connection starts at the tier it asks for
                await self.share()
                pool_failures = self.slave_failures = 0
            except PoolError as e:
                self._failed("pool: " + e.kind, e)
                await self.client.close()
                if not link.is_set():
                    continue  # no back-off and no new pool: the loop waits for the link
                pool_failures += 1
                if pool_failures >= REDISCOVER_AFTER:
                    rig.pool_trouble()
                await self._rest(backoff_ms(pool_failures))
            except Exception as e:  # a slave or bus error; or a bug, which must not end this task
                if isinstance(e, (SlaveError, BusError)):
                    self._failed(("slave: " if isinstance(e, SlaveError) else "bus: ") + e.kind, e)
                else:
                    self._failed("internal: " + type(e).__name__, e)
                    await self.client.close()
                self.slave = None
                if isinstance(e, SlaveError) and e.kind == LOCKED:
                    self.stats.state = "locked"  # parked: only a power cycle frees it
                    await self.client.close()
                    await self._rest(LOCKED_LOOK_MS)
                    continue
                self.slave_failures += 1
                await self._rest(backoff_ms(self.slave_failures, 500, 30000))

    def mark(self, bound_ms):
        """A step done (or a wait begun): the next is due within bound_ms."""
        self.progress_at = ticks_ms()
        self.bound_ms = bound_ms

    async def _rest(self, ms):
        """A wait it chose (a back-off, a locked slave's pause): bounded by
        its length and one step."""
        self.mark(ms + self.rig.step_ms)
        await sleep_ms(ms)

    async def share(self):
        stats = self.stats
        client = self.client
        slave = self.slave
        step_ms = self.rig.step_ms
        self.progress_at = t0 = ticks_ms()
        self.bound_ms = step_ms  # the job request and its write to the slave
        last, expected, digest, diff = await client.request_job()
        if diff != self.diff:
            if await self._tier_moved(diff):
                return  # parked: the job goes with the connection
        elif self.last_move:
            self.last_move = 0  # the tier held
        t1 = ticks_ms()
        try:
            for _ in range(JOB_TRIES):
                us = ticks_us()
                await self._io(slave.start, last, expected, diff)
                self.write_us = ticks_diff(ticks_us(), us)  # the console's m shows it
                t2 = ticks_ms()
                try:
                    found, nonce, elapsed_us = await self._wait_result(diff)
                    break
                except SlaveError as e:
                    if e.kind != REBOOTED:
                        raise
                    stats.count(stats.errors, "reset")  # its job is gone: send it again
                    await self._apply_cap()  # a reset restored the slave's default
            else:
                raise SlaveError(FAILED, "slave keeps rebooting")
        except SlaveError as e:
            if e.kind == REFUSED:
                # Reconnecting asks for the configured tier again.
                stats.count(stats.lost, "refused")
                await client.close()
                raise
            await self._abandon()
            raise
        except BusError:
            await self._abandon()
            raise
        self.progress_at = t3 = ticks_ms()
        self.bound_ms = step_ms  # the submit
        # One SHA-1 on the master proves the nonce before it goes to the pool
        # (a yaum slave has no CRC, and a garbled nonce would earn a BAD). It
        # also tells yaum's "nothing found" (R = 0) from a share at nonce 0.
        proven = 0 <= nonce <= 100 * diff and hashlib.sha1(last + b"%d" % nonce).digest() == digest
        if not proven:
            # The pool still waits for an answer to this job: a wrong one keeps
            # the connection (and its first-10-shares credit) at one BAD.
            stats.count(stats.lost, "wrong nonce" if found else "not found")
        if elapsed_us <= 0:  # a yaum slave's elapsed ms can be 0
            elapsed_us = int((nonce + 1) * 1000000 / self._rate())
        stats.state = "submit"
        # The slave's own rate, never lowered. A share hashed for under 0.1 s
        # reports the last rate instead: its own is lost in the slave's clock
        # (yaum counts whole ms: 2 hashes in 5 or 6 ms read 400 or 333 H/s) and
        # start-up, and would move the connection to a lower tier.
        if elapsed_us >= 100000 or not self.reported:
            self.reported = (nonce + 1) * 1000000 / elapsed_us
        rate = self.reported
        try:
            kind, reason = await client.submit(nonce, rate, slave.ducoid)
        except PoolError as e:
            stats.count(stats.lost, "pool: " + e.kind)
            raise
        t4 = ticks_ms()
        # job wait, I2C (job write and result read), hash, submit wait
        stats.add_share(ticks_diff(t1, t0), ticks_diff(t2, t1) + ticks_diff(t3, self.done_at), elapsed_us,
                        ticks_diff(t4, t3), nonce + 1)
        if proven:  # an unproven answer is already counted as lost
            stats.book(kind, reason)
            if self.rig.verbose:
                self.rig.log("%s %s %s" % (stats.name, kind, reason or ""))
        start = t0 if self._last_feedback is None else self._last_feedback
        self.rig.stats.overhead.add(ticks_diff(t4, start) - elapsed_us // 1000 - ticks_diff(t1, t0) - ticks_diff(t4, t3))
        self._last_feedback = t4

    async def _wait_result(self, diff):
        """Wait until the slave holds the job's result, then read it and
        clear it: (found, nonce, elapsed_us). A slave past the job's limit
        is reset; one that rebooted (state Z) raises REBOOTED."""
        FOUND = proto.FOUND
        NOT_FOUND = proto.NOT_FOUND
        slave = self.slave
        stats = self.stats
        stats.state = "hash"
        rate = self._rate()
        # The job's worst case at the slave's rate, twice, plus a second.
        self.limit_ms = limit_ms = int(200000 * diff / rate) + 1000
        self.progress_at = self.started = started = ticks_ms()
        self.bound_ms = limit_ms + self.rig.step_ms  # past the limit, one step resets the slave
        watcher = self.rig.watcher if slave.ready_line else None
        # Polling: the job's mean hash time over POLLS_PER_SHARE, so a slow
        # slave or a high difficulty polls no more often per share, and no
        # more often than the rig's poll budget allows.
        interval = max(self.rig.poll_ms, int(50000 * diff / rate) // POLLS_PER_SHARE)
        poll = slave.poll
        bus = self.rig.bus
        lock = bus.lock
        polls = 0
        if watcher is not None:
            watcher.enter(self)
        try:
            while True:
                if watcher is not None:
                    self.woken_state = None
                    self.wake.clear()
                    await self.wake.wait()
                    state = self.woken_state
                else:
                    await sleep_ms(interval)
                    state = None
                if state is None:  # polling, or woken without a result (overdue, a resume)
                    if lock.locked():
                        await bus.free()
                    polls += 1
                    try:
                        state = poll()
                    except BusError as e:
                        state = await bus.again(e, poll)
                if state == FOUND or state == NOT_FOUND:
                    self.done_at = ticks_ms()
                    found, nonce, elapsed_us = await self._io(slave.result)
                    if watcher is not None:
                        await self._io(slave.clear)  # releases the ready line
                    return found, nonce, elapsed_us
                if ticks_diff(ticks_ms(), started) > limit_ms:
                    await self._io(slave.reset)
                    raise SlaveError(FAILED, "hashing takes over %d ms: reset" % limit_ms)
        finally:
            stats.polls += polls
            if watcher is not None:
                watcher.leave(self)

    async def _tier_moved(self, diff):
        """A job at another difficulty: the pool moved this connection to
        another tier, after a share whose rate was outside its tier's limits
        (and rejected it). A move straight back is a bounce: the slave's
        rate fits none of the pool's tiers, whose table the pool downloads
        at run time (moves on in one direction are a climb). A capped slave
        then hashes slower, below the rate the lower tier refused, until its
        shares are GOOD; one without a cap earns nothing there, so it waits
        (True)."""
        last = self.diff
        self.diff = diff
        if last is None:
            self.last_move = 0
            return False
        move = 1 if diff > last else -1
        self.moves += move
        if move == 1:
            self.fast_rate = self.reported  # too fast for the lower tier
        bounced = move == -self.last_move
        self.last_move = move
        if not bounced:
            return False
        self.last_move = 0
        stats = self.stats
        first = not stats.errors.get("tier bounce")
        stats.count(stats.errors, "tier bounce")
        if self.slave.has_rate_cap:
            self.rate_cap = int(self.fast_rate * BOUNCE_CAP)
            await self._apply_cap()
            self.rig.log("%s: the pool's tiers bounce it at %d H/s: rate cap now %d H/s"
                         % (stats.name, self.fast_rate, self.rate_cap))
            return False
        if first:
            self.rig.log("%s: the pool's tiers bounce it at %d H/s and it has no rate cap: its shares would"
                         " all be rejected, so it tries again every %d min" % (stats.name, self.fast_rate,
                                                                            BOUNCE_PARK_MS // 60000))
        stats.state = "tier bounce"
        await self.client.close()
        await self._rest(BOUNCE_PARK_MS)
        return True

    async def _apply_cap(self):
        if self.rate_cap is not None and self.slave.has_rate_cap:
            await self._io(self.slave.set_rate_cap, self.rate_cap)
            # A share too short to time reports the last rate: not one above the cap
            self.reported = min(self.reported, self.rate_cap)

    async def _io(self, call, *args):
        """call(*args) on the bus: at once, unless a session holds the bus; a
        failed transfer is retried (bus.again). The status poll, the hot
        path, does the same inline: a coroutine level costs ~2.4k x86
        instructions."""
        bus = self.rig.bus
        if bus.lock.locked():
            await bus.free()
        try:
            return call(*args)
        except BusError as e:
            return await bus.again(e, call, *args)

    async def _abandon(self):
        """The slave failed mid-job. The pool takes the next message as this
        job's result, so answer it (wrongly) to keep the connection, its
        Kolka index and its first-10-shares credit. At the rate of its last
        share: the pool checks the rate against the tier before the answer,
        and a made-up one could move the connection to another tier."""
        self.stats.count(self.stats.lost, "slave failed")
        try:
            await self.client.submit(0, self.reported or self._rate(), self.slave.ducoid)
        except PoolError:
            await self.client.close()

    def _rate(self):
        return self.stats.hashrate() or DEFAULT_RATE

    def _failed(self, name, e):
        stats = self.stats
        stats.state = name.split(":")[0] + " error"
        if stats.errors.get(name, 0) == 0 or self.rig.verbose:
            self.rig.log("%s: %s %s" % (stats.name, name, e))  # once per kind, not a flood
        stats.count(stats.errors, name)
