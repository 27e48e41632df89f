"""Difficulty tiers and the Kolka V1 reward (revoxhere/duino-coin-pools
src/kolka.js, src/mining.js, config/poolRewards.json).

The live pool downloads its tier table at run time, so everything here is a
configurable default, never a fact about today's servers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

# mining.js books the reward and refreshes the stats on every
# updateMinersStatsEvery-th accepted share (config.json: 2).
UPDATE_EVERY = 2

# Reward calibration target (duino-coin README, "Version 4.0 reward goals"):
# an Arduino at 343 H/s earns about 12 DUCO a day.
DUCO_PER_DAY = 12.0
AVR_REFERENCE_HASHRATE = 343.0
# Assumed time per share spent outside hashing (I2C transfer, two network
# legs, controller turnaround). Only used to calibrate the default divisors.
SHARE_OVERHEAD_S = 0.1


def calibrated_reward_div(hashrate: float, diff: int, duco_per_day: float = DUCO_PER_DAY,
                          overhead_s: float = SHARE_OVERHEAD_S) -> float:
    """Divisor that pays `duco_per_day` to one worker (ki=1) at `hashrate`.

    A share needs on average 50*diff + 0.5 hashes (uniform nonce in 1..100*diff),
    plus the fixed overhead. Only every UPDATE_EVERY-th share's reward reaches
    the balance (mining.js adds the current share's reward inside the stats
    block), and each booked share pays 2*ln(hashrate)/div.
    """
    share_s = (50 * diff + 0.5) / hashrate + overhead_s
    booked_per_day = 86400 / share_s / UPDATE_EVERY
    return booked_per_day * 2 * math.log(hashrate) / duco_per_day


@dataclass(frozen=True)
class Tier:
    name: str
    diff: int
    min_hashrate: float
    max_hashrate: float
    reward_div: float
    # kolka_decrease_perc/100: 0.96 for AVR..ESP32, 0.80 for PC tiers (kolka.js).
    kolka_decrease: float = 0.96
    # mining.js checks the DUCOID only for difficulties up to ESP8266NH.
    ducoid_checked: bool = True

    def reward(self, hashrate_calc: float, ki: float) -> float:
        """kolka.V1: 2*ln(hashrate)/reward_div * p^(ki-1); NaN when undefined."""
        if not hashrate_calc > 0:  # also catches NaN, where JS yields NaN/-Infinity
            return math.nan
        return 2 * math.log(hashrate_calc) / self.reward_div * math.pow(self.kolka_decrease, ki - 1)


def make_tier(name: str, diff: int, min_hashrate: float, max_hashrate: float,
              reward_div: float | None = None, typical_hashrate: float | None = None) -> Tier:
    """A tier whose divisor, when not given, is calibrated at `typical_hashrate`
    (default: the middle of the tier's hashrate range)."""
    if reward_div is None:
        typical = typical_hashrate or (min_hashrate + max_hashrate) / 2
        reward_div = calibrated_reward_div(typical, diff)
    return Tier(name, diff, min_hashrate, max_hashrate, reward_div)


def parse_tier(spec: str) -> Tier:
    """`NAME:DIFF:MIN:MAX[:REWARD_DIV]`, as given to `ducorig pool --tier`."""
    parts = spec.split(":")
    if len(parts) not in (4, 5) or not parts[0]:
        raise ValueError(f"tier {spec!r}: expected NAME:DIFF:MIN:MAX[:REWARD_DIV]")
    try:
        diff = int(parts[1])
        low, high = float(parts[2]), float(parts[3])
        div = float(parts[4]) if len(parts) == 5 else None
    except ValueError:
        raise ValueError(f"tier {spec!r}: DIFF must be an integer, MIN/MAX/REWARD_DIV numbers") from None
    if diff < 1 or low < 0 or high <= low or (div is not None and div <= 0):
        raise ValueError(f"tier {spec!r}: need DIFF >= 1, 0 <= MIN < MAX, REWARD_DIV > 0")
    return make_tier(parts[0], diff, low, high, div)


DEFAULT_TIERS: tuple[Tier, ...] = (
    make_tier("AVR", 6, 90, 380, typical_hashrate=AVR_REFERENCE_HASHRATE),
    make_tier("MEGA", 16, 380, 550),
    make_tier("ARM", 100, 550, 1000),
    make_tier("DUE", 500, 1000, 5000),
)

# Unknown or empty tier names fall back to NET (mining.js). An AVR cannot solve
# it; the tier never moves here, and as a PC tier it pays 0.80^(ki-1) and skips
# the DUCOID check.
FALLBACK_TIER = Tier("NET", 100000, 0.0, math.inf,
                     calibrated_reward_div(1e6, 100000), kolka_decrease=0.80, ducoid_checked=False)


class TierTable:
    """Ordered tiers: moving up or down steps through the table order; the top
    and bottom tiers, and the fallback, stay where they are (kolka.js V2)."""

    def __init__(self, tiers: Sequence[Tier], fallback: Tier = FALLBACK_TIER) -> None:
        if not tiers:
            raise ValueError("at least one tier is needed")
        self.tiers = tuple(tiers)
        self._by_name = {tier.name: tier for tier in self.tiers}
        # A table that defines NET itself overrides the built-in fallback.
        self.fallback = self._by_name.get(fallback.name, fallback)

    def lookup(self, name: str) -> Tier:
        return self._by_name.get(name, self.fallback)

    def _step(self, tier: Tier, step: int) -> Tier:
        if tier not in self.tiers:
            return tier
        index = min(max(self.tiers.index(tier) + step, 0), len(self.tiers) - 1)
        return self.tiers[index]

    def up(self, tier: Tier) -> Tier:
        return self._step(tier, 1)

    def down(self, tier: Tier) -> Tier:
        return self._step(tier, -1)
