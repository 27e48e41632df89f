"""DUCO-S1 as a slave does it, in simulated time: real SHA-1, hashed lazily.

A search that started at t0 on a slave hashing `rate` H/s has tried exactly
floor((t - t0) * rate) nonces at time t; `advance(t)` hashes those (and no
more), so a bus of slaves "hashes in the background" without a thread each.
"""
from __future__ import annotations

import hashlib
import math


class Search:
    def __init__(self, prefix: bytes, target: bytes, last_nonce: int, rate: float, start: float):
        self.target = target
        self.last_nonce = last_nonce
        self.rate = rate  # H/s; 0 = the hash loop is stuck (a hung slave)
        self.start = start
        self.found: int | None = None
        self._base = hashlib.sha1(prefix)
        self._next = 0  # first nonce not hashed yet

    def hashes_done_by(self, now: float) -> int:
        if self.rate <= 0 or now <= self.start:
            return 0
        return min(math.floor((now - self.start) * self.rate), self.last_nonce + 1)

    def advance(self, now: float) -> None:
        due = self.hashes_done_by(now)
        while self.found is None and self._next < due:
            h = self._base.copy()
            h.update(str(self._next).encode())
            if h.digest() == self.target:
                self.found = self._next
            self._next += 1

    @property
    def finished(self) -> bool:
        return self.found is not None or self._next > self.last_nonce

    @property
    def nonce(self) -> int:
        """The nonce found, else the last one tried (once finished)."""
        return self.last_nonce if self.found is None else self.found

    @property
    def elapsed_s(self) -> float:
        """Hashing time up to the result, as the slave's own clock measures it."""
        return (self.nonce + 1) / self.rate

    @property
    def end(self) -> float:
        return self.start + self.elapsed_s

    def nonce_time(self) -> float:
        """How long one nonce takes (infinite for a stuck loop)."""
        return 1 / self.rate if self.rate > 0 else math.inf
