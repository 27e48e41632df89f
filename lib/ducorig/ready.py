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

    async def fell(self):
        """Until the line has fallen since the last call (the IRQ latches
        the edge, so one that came before this wait returns it at once)."""
        await self._edge.wait()
        self._edge.clear()  # (a ThreadSafeFlag clears itself; an Event does not)


class Watcher:
    def __init__(self, line, bus, poll_ms, log):
        self.line = line
        self.bus = bus
        self.poll_ms = poll_ms
        self.log = log
        self.waiting = []  # workers waiting for a result: the oldest job first

    def enter(self, worker):
        self.waiting.append(worker)

    def leave(self, worker):
        """The worker has its result and released the line (or gave up). The
        line is a wired-AND: if another slave finished meanwhile it stayed
        low and made no edge, so look for that one now."""
        self.waiting.remove(worker)
        if self.waiting and self.line.value() == 0:
            self._find()

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
        line = self.line
        while True:
            try:
                await line.fell()
                # Low, and nobody found done: a slave that is rebooting, or
                # one whose result is being read. Ask again until it is high.
                while not self._find() and line.value() == 0:
                    await sleep_ms(self.poll_ms)
            except Exception as e:
                kind = type(e).__name__
                if kind not in failures:
                    failures.append(kind)
                    self.log("ready line: %s %s (carrying on)" % (kind, e))
                await sleep_ms(self.poll_ms)

    def _find(self):
        """Poll the waiting slaves, the longest-hashing first (with uniform
        nonces, the likeliest to be done), and hand the first done one's
        state to its worker. True if one was found, or one is being read.
        With many slaves this is ~N/2 polls per result, so each is a bare
        read of the status (selected since the job went out) and its check,
        not a driver call; a fault there is the worker's to meet."""
        bus = self.bus
        if bus.lock.locked():
            return True  # a console session holds the bus: its end is no edge, the overdue wake-up covers it
        buf = bus.status
        read = bus.i2c.readfrom_into
        found = proto.FOUND
        not_found = proto.NOT_FOUND
        for w in self.waiting:
            if w.woken_state is not None:
                return True  # found already: it holds the line until its worker clears it
            addr = w.slave.addr
            try:
                read(addr, buf)
                state = proto.status_state(buf)
            except OSError as e:
                bus.failed(addr, e)  # counted, and a stuck bus recovered
                read = bus.i2c.readfrom_into  # (a recovery makes a new one)
                continue
            except proto.ProtoError:  # garbled: the worker's own poll re-reads
                continue
            w.stats.polls += 1
            if state == found or state == not_found:
                w.woken_state = state
                w.wake.set()
                return True
        return False
