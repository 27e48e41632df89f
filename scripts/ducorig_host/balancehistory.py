"""Balance samples and what they say about mining income.

The balance moves in steps (a pool sync, revoxhere/duino-coin-pools
src/sync.js, plus the master's update). Income over a window is the balance
gained between the sample at the window's start and the last one, over the
time between them. A step
down, or one of TRANSFER_LIMIT DUCO or more, is a transfer or a block, not
mining (the official wallet's rule), so it is left out of every income figure.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

TRANSFER_LIMIT = 500.0
HOUR_S = 3600.0


@dataclass(frozen=True)
class Sample:
    time: float      # unix seconds
    balance: float   # DUCO
    miners: int      # miners the API lists
    hashrate: float  # their server-side hashrates added up, H/s


@dataclass(frozen=True)
class Rate:
    duco_per_hour: float
    span_s: float  # what the figure is measured over
    full: bool     # False: less history than the window asked for

    @property
    def duco_per_day(self) -> float:
        return self.duco_per_hour * 24


class BalanceHistory:
    def __init__(self, transfer_limit: float = TRANSFER_LIMIT) -> None:
        self.transfer_limit = transfer_limit
        self.samples: list[Sample] = []
        self.times: list[float] = []
        self.mined: list[float] = []  # DUCO mined from the first sample up to each sample
        self.transfers = 0

    def add(self, sample: Sample) -> bool:
        """Append a sample; one not later than the last (a clock set back)
        is refused, as every figure assumes time order."""
        if self.samples and sample.time <= self.times[-1]:
            return False
        mined = 0.0
        if self.samples:
            step = sample.balance - self.samples[-1].balance
            if 0 <= step < self.transfer_limit:
                mined = step
            else:
                self.transfers += 1
        self.samples.append(sample)
        self.times.append(sample.time)
        self.mined.append((self.mined[-1] if self.mined else 0.0) + mined)
        return True

    @property
    def last(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    @property
    def mined_total(self) -> float:
        return self.mined[-1] if self.mined else 0.0

    @property
    def span_s(self) -> float:
        return self.times[-1] - self.times[0] if self.times else 0.0

    def rate(self, window_s: float, end: int = -1) -> Rate | None:
        """Income over the `window_s` before sample `end` (default: the last);
        over all the history before it when that is shorter."""
        if not self.samples:
            return None
        end = end % len(self.samples)
        t_end = self.times[end]
        start = bisect.bisect_right(self.times, t_end - window_s, 0, end + 1) - 1
        full = start >= 0
        start = max(start, 0)
        span = t_end - self.times[start]
        if span <= 0:
            return None
        return Rate((self.mined[end] - self.mined[start]) / span * HOUR_S, span, full)

    def rate_series(self, window_s: float, min_span_s: float = 0.0) -> list[tuple[float, float]]:
        """(time, DUCO/day) at every sample, skipping figures measured over
        less than `min_span_s` (the first minutes are all noise)."""
        series = []
        for index, t in enumerate(self.times):
            rate = self.rate(window_s, index)
            if rate is not None and rate.span_s >= min_span_s and math.isfinite(rate.duco_per_day):
                series.append((t, rate.duco_per_day))
        return series
