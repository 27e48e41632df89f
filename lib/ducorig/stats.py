# Statistics per slave and per phase of a share, and rig totals. Counters and
# running sums only (no per-share lists), so RAM stays flat however long the
# rig runs; one shared histogram gives the overhead percentiles.
import gc
from array import array

from ducorig.ticks import ticks_diff, ticks_ms

# The phases of one share, in order.
JOB_WAIT = 0  # JOB sent -> job line read (one network round trip)
I2C = 1  # bus time of this slave: job write, status polls, result read
HASH = 2  # hashing time the slave reports
SUBMIT_WAIT = 3  # result sent -> feedback read (one network round trip)
PHASES = ("job", "i2c", "hash", "submit")
# One string per count key, for every slave's tables: a key made at run time
# ("pool: " + kind) would otherwise be kept once per slave (~70 B each).
_KEYS = {}


class Histogram:
    """Counts of values in `step_ms` buckets up to limit_ms (the last bucket
    holds the rest): percentiles without keeping samples. 16-bit counts, all
    halved when one would overflow: percentiles need the proportions only."""

    def __init__(self, step_ms=1, limit_ms=400):
        self.step_ms = step_ms
        self.counts = array("H", bytes(2 * (limit_ms // step_ms + 1)))
        self.total = 0

    def add(self, ms):
        c = self.counts
        i = min(int(ms // self.step_ms) if ms > 0 else 0, len(c) - 1)
        if c[i] == 65535:
            for k in range(len(c)):
                c[k] >>= 1
            self.total = sum(c)
        c[i] += 1
        self.total += 1

    def percentile(self, q):
        """The q-th percentile (nearest rank) as its bucket's upper edge; None when empty."""
        if not self.total:
            return None
        rank = max(1, -(-self.total * q // 100))
        seen = 0
        for i in range(len(self.counts)):
            seen += self.counts[i]
            if seen >= rank:
                return (i + 1) * self.step_ms
        return len(self.counts) * self.step_ms


class SlaveStats:
    def __init__(self, name, address):
        self.name = name
        self.address = address
        self.state = "start"
        self.protocol = None
        self.ducoid = None
        self.zero()

    def zero(self):
        """Restart the counters in place (the worker keeps counting into this object)."""
        # count, total ms, max ms of each phase, flat: one array is ~10x
        # smaller than an object per phase, for every slave; integers, since
        # a float is a heap object on the unix port
        self.phases = array("i", bytes(4 * 3 * len(PHASES)))
        self.accepted = 0
        self.blocks = 0
        self.rejected = {}  # reason -> count
        self.lost = {}  # reason -> count: found shares never submitted
        self.errors = {}  # kind -> count: slave, bus and pool errors
        self.polls = 0
        self.last_bad = None
        self.hashes = 0
        self.hash_us = 0
        self.since = ticks_ms()

    def add_share(self, job_ms, i2c_ms, hash_us, submit_ms, hashes):
        """One share: its phase times (count, total, max of each, in
        PHASES order), hashes and hashing time, in one call."""
        p = self.phases
        i = 0
        for ms in (job_ms, i2c_ms, hash_us // 1000, submit_ms):
            p[i] += 1
            p[i + 1] += ms
            if ms > p[i + 2]:
                p[i + 2] = ms
            i += 3
        self.hashes += hashes
        self.hash_us += hash_us

    def phase(self, phase):
        """(count, mean ms, max ms) of a phase."""
        p = self.phases
        i = 3 * phase
        n = int(p[i])
        return n, (p[i + 1] / n if n else 0.0), p[i + 2]

    def count(self, table, key):
        key = _KEYS.setdefault(key, key)
        table[key] = table.get(key, 0) + 1

    def book(self, kind, reason):
        """The pool's feedback on a proven share: GOOD, BLOCK or BAD with its reason."""
        if kind == "BAD":
            self.count(self.rejected, reason)
            self.last_bad = reason
        else:
            self.accepted += 1
            if kind == "BLOCK":
                self.blocks += 1

    def hashrate(self):
        """The slave's own rate over all its shares (hashes / hashing time)."""
        return self.hashes * 1000000 / self.hash_us if self.hash_us else 0.0

    def busy_fraction(self):
        """Share of the time since start (or reset) spent hashing."""
        elapsed = ticks_diff(ticks_ms(), self.since)
        return min(1.0, self.hash_us / 1000 / elapsed) if elapsed > 0 else 0.0

    def as_dict(self):
        return {
            "name": self.name, "address": self.address, "state": self.state,
            "protocol": self.protocol, "accepted": self.accepted, "blocks": self.blocks,
            "rejected": self.rejected, "lost": self.lost, "errors": self.errors,
            "polls": self.polls, "last_bad": self.last_bad, "hashrate": round(self.hashrate(), 1),
            "busy": round(self.busy_fraction(), 4), "hash_s": self.hash_us / 1000000,
            "phases": self._phases_dict(),
        }

    def _phases_dict(self):
        phases = {}
        for k in range(len(PHASES)):
            n, mean, top = self.phase(k)
            phases[PHASES[k]] = [n, round(mean, 2), round(top, 1)]
        return phases


class RigStats:
    def __init__(self):
        self.slaves = []
        self.overhead = Histogram()  # per share: cycle - hash - job wait - submit wait
        self.free_heap = None
        self.free_heap_min = None
        self.heap_samples = 0  # how many: a sample equal to the last is a sample too
        self.started = ticks_ms()

    def add_slave(self, name, address):
        s = SlaveStats(name, address)
        self.slaves.append(s)
        return s

    def reset(self):
        for s in self.slaves:
            s.zero()
        self.overhead = Histogram()
        self.free_heap_min = None
        self.started = ticks_ms()

    def sample_heap(self):
        gc.collect()
        free = gc.mem_free() if hasattr(gc, "mem_free") else None
        self.free_heap = free
        self.heap_samples += 1
        if free is not None and (self.free_heap_min is None or free < self.free_heap_min):
            self.free_heap_min = free
        return free

    def totals(self):
        accepted = sum(s.accepted for s in self.slaves)
        elapsed_s = ticks_diff(ticks_ms(), self.started) / 1000
        return {
            "accepted": accepted,
            "rejected": sum(sum(s.rejected.values()) for s in self.slaves),
            "lost": sum(sum(s.lost.values()) for s in self.slaves),
            "shares_per_s": accepted / elapsed_s if elapsed_s > 0 else 0.0,
            "elapsed_s": elapsed_s,
            "overhead_ms": [self.overhead.percentile(50), self.overhead.percentile(95)],
            "free_heap": self.free_heap,
            "free_heap_min": self.free_heap_min,
        }
