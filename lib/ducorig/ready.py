# The shared ready line: every ducorig slave pulls one open-drain GPIO low
# while it holds a result, so the rig polls only when some slave is done.
#
# PinReady is the line on the chip. Its falling edge's interrupt sets an
# asyncio.ThreadSafeFlag: the one asyncio object an interrupt may touch
# (extmod/asyncio/event.py: an Event may be set from neither a hard nor a
# soft IRQ). The simulator's line (ducorig.simi2c) has the same two methods.
#
# Watcher is the task that finds which slave pulled the line. Its interface to
# the workers: enter() when a worker starts waiting for its job's result,
# leave() when it has read and cleared it (or given up); it hands a found
# state to the worker (worker.woken_state, then worker.wake).
import asyncio

from ducorig import proto
from ducorig.ticks import sleep_ms, ticks_diff, ticks_ms

# CPython (the tests) has no interrupts and no ThreadSafeFlag: an Event stands in.
_Flag = getattr(asyncio, "ThreadSafeFlag", asyncio.Event)


class PinReady:
    def __init__(self, pin):
        self.pin = pin
        self._edge = _Flag()
        pin.irq(self._falling, pin.IRQ_FALLING)

    def _falling(self, pin):
        self._edge.set()

    def value(self):
        return self.pin.value()

    async def wait_low(self):
        while self.pin.value():  # an edge latched before this wait returns at once
            await self._edge.wait()
            self._edge.clear()  # (a ThreadSafeFlag clears itself; an Event does not)


class Watcher:
    def __init__(self, line, bus, poll_ms, log):
        self.line = line
        self.bus = bus
        self.poll_ms = poll_ms
        self.log = log
        self.waiting = []  # workers waiting for a result: the oldest job first
        self._cleared = asyncio.Event()  # a worker has read and released its result

    def enter(self, worker):
        self.waiting.append(worker)

    def leave(self, worker):
        self.waiting.remove(worker)
        self._cleared.set()

    def wake_overdue(self):
        """Wake the workers past their job's limit (a hung slave never pulls
        the line): each polls, and resets its slave. The rig calls this from
        its housekeeping, so the watcher's own wait needs no timeout."""
        now = ticks_ms()
        for w in self.waiting:
            if w.woken_state is None and ticks_diff(now, w.started) > w.limit_ms:
                w.wake.set()

    async def run(self):
        """It is every waiting worker's wake-up, so no error may end it (a
        MemoryError in a fragmented heap did once): each kind is logged once."""
        failures = []
        while True:
            try:
                await self._round()
            except Exception as e:
                kind = type(e).__name__
                if kind not in failures:
                    failures.append(kind)
                    self.log("ready line: %s %s (carrying on)" % (kind, e))
                await sleep_ms(self.poll_ms)

    async def _round(self):
        """Wait for the line to go low, then find the slaves that pulled it.
        It is a wired-AND: a second slave finishing while the first still
        holds it makes no edge, so the level is read again after each find."""
        line = self.line
        await line.wait_low()
        while line.value() == 0:
            if self.bus.lock.locked():
                await self.bus.free()
            if self._find():
                # The found slave holds the line until its worker has read
                # and cleared it (a few ms): wait for that.
                while self._pending():
                    self._cleared.clear()
                    await self._cleared.wait()
            else:
                await sleep_ms(self.poll_ms)  # low, and nobody done yet: a slave mid-reset

    def _find(self):
        """Poll the waiting slaves, the longest-hashing first (with uniform
        nonces, the likeliest to be done); hand the first done one's state
        to its worker. True if one was found."""
        for w in self.waiting:
            if w.woken_state is not None:
                continue  # found already, not read yet
            try:
                state = w.slave.poll()
            except Exception:  # the worker meets the same fault and handles it
                continue
            w.stats.polls += 1
            if state == proto.FOUND or state == proto.NOT_FOUND:
                w.woken_state = state
                w.wake.set()
                return True
        return False

    def _pending(self):
        for w in self.waiting:
            if w.woken_state is not None:
                return True
        return False
