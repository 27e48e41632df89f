"""The user's miners grouped by rig, with totals and what needs attention.

A rig is what the API groups as one: the miners sharing a wallet id (`wd`,
result field 5, one per physical rig), or else sharing an identifier (result
field 3). Flags:
* a hashrate outside its tier's window (by difficulty; the emulator's tier
  table by default, the live pool's differs and is set with --tier),
* rejected shares,
* more miners on a rig than its rig.json configures slaves,
* a reward efficiency p^(ki-1) below a threshold (too many workers),
* the account nearing or over the pool's 50-worker limit, or the live
  account's own max_miners.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ducorig_host.apimodels import Miner, UserSnapshot
from ducorig_host.emulator.tiers import DEFAULT_TIERS, Tier

DEFAULT_MIN_EFFICIENCY = 0.70   # 0.96^(ki-1) drops under it from the 10th worker on
DEFAULT_MAX_WORKERS = 50        # the pool's maxWorkers (revoxhere/duino-coin-pools config.json)
DEFAULT_WORKER_MARGIN = 5       # "nearing" the limit: this close to it


def _nan_last(value: float) -> tuple[bool, float]:
    return (math.isnan(value), value)


SORT_KEYS: dict[str, Callable[[Miner], Any]] = {
    "software": lambda m: m.software.lower(),
    "identifier": lambda m: (m.identifier.lower(), m.threadid),
    "threadid": lambda m: m.threadid,
    "hashrate": lambda m: _nan_last(m.hashrate),
    "diff": lambda m: m.diff,
    "accepted": lambda m: m.accepted,
    "rejected": lambda m: m.rejected,
    "sharetime": lambda m: _nan_last(m.sharetime),
    "ki": lambda m: _nan_last(m.ki),
    "efficiency": lambda m: _nan_last(m.efficiency),
    "pool": lambda m: m.pool.lower(),
}


@dataclass(frozen=True)
class Limits:
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    min_efficiency: float = DEFAULT_MIN_EFFICIENCY
    max_workers: int = DEFAULT_MAX_WORKERS
    worker_margin: int = DEFAULT_WORKER_MARGIN

    def tier_for(self, diff: int) -> Tier | None:
        return next((tier for tier in self.tiers if tier.diff == diff), None)


@dataclass(frozen=True)
class RigConfig:
    """What a rig config (the rig's config.json) says about the rig: its name
    (sent as the identifier), its wallet id (result field 5) and its slaves."""
    name: str
    slaves: int
    wallet_id: int | None = None

    @classmethod
    def load(cls, path: Path) -> RigConfig:
        """ValueError (with the path) unless {"rig": str, "slaves": [...],
        optional "wallet_id": int}."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ValueError(f"{path}: not JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("rig"), str) or not data["rig"]:
            raise ValueError(f'{path}: needs a "rig" name')
        if not isinstance(data.get("slaves"), list):
            raise ValueError(f'{path}: "slaves" must be a list')
        wallet_id = data.get("wallet_id")
        if wallet_id is not None and (not isinstance(wallet_id, int) or isinstance(wallet_id, bool)):
            raise ValueError(f'{path}: "wallet_id" must be an integer or null')
        return cls(data["rig"], len(data["slaves"]), wallet_id)

    def describes(self, rig: RigGroup) -> bool:
        return rig.is_named(self.name) or (self.wallet_id is not None and rig.wd == self.wallet_id)


@dataclass(frozen=True)
class Totals:
    miners: int
    hashrate: float
    accepted: int
    rejected: int
    full_workers: float  # sum of efficiencies: what the miners earn, in unreduced workers

    @classmethod
    def of(cls, miners: Iterable[Miner]) -> Totals:
        miners = list(miners)
        return cls(len(miners), sum(m.hashrate for m in miners if math.isfinite(m.hashrate)),
                   sum(m.accepted for m in miners), sum(m.rejected for m in miners),
                   sum(m.efficiency for m in miners if math.isfinite(m.efficiency)))


@dataclass
class MinerLine:
    miner: Miner
    flags: list[str] = field(default_factory=list)


@dataclass
class RigGroup:
    label: str
    wd: int | None
    identifiers: list[str]
    lines: list[MinerLine]
    flags: list[str] = field(default_factory=list)

    @property
    def totals(self) -> Totals:
        return Totals.of(line.miner for line in self.lines)

    def is_named(self, name: str) -> bool:
        return name in self.identifiers or (self.wd is not None and name == str(self.wd))


@dataclass
class Report:
    user: str
    online: int  # every miner of the account, whatever --rig shows
    rigs: list[RigGroup]
    flags: list[str]

    @property
    def totals(self) -> Totals:
        return Totals.of(line.miner for rig in self.rigs for line in rig.lines)


def miner_flags(miner: Miner, limits: Limits) -> list[str]:
    flags = []
    tier = limits.tier_for(miner.diff)
    if tier is not None and not tier.min_hashrate <= miner.hashrate < tier.max_hashrate:
        flags.append(f"hashrate {miner.hashrate:.0f} H/s outside {tier.name} "
                     f"[{tier.min_hashrate:g}, {tier.max_hashrate:g})")
    if miner.rejected > 0:
        flags.append(f"{miner.rejected} rejected")
    if miner.efficiency < limits.min_efficiency:
        flags.append(f"efficiency {miner.efficiency:.0%} < {limits.min_efficiency:.0%}")
    return flags


def group_key(miner: Miner) -> tuple[str, str]:
    return ("wd", str(miner.wd)) if miner.wd is not None else ("id", miner.identifier)


def group_by_rig(miners: Iterable[Miner]) -> list[RigGroup]:
    groups: dict[tuple[str, str], list[Miner]] = {}
    for miner in miners:
        groups.setdefault(group_key(miner), []).append(miner)
    rigs = []
    for (kind, value), members in groups.items():
        identifiers = sorted({m.identifier for m in members})
        label = f"wallet id {value} ({', '.join(identifiers)})" if kind == "wd" else (value or "(no identifier)")
        rigs.append(RigGroup(label, members[0].wd, identifiers, [MinerLine(m) for m in members]))
    return sorted(rigs, key=lambda rig: rig.label.lower())


def account_flags(online: int, snapshot: UserSnapshot, limits: Limits) -> list[str]:
    flags = []
    if online > limits.max_workers:
        flags.append(f"{online} miners: over the pool's {limits.max_workers}-worker limit "
                     "(every share gets BAD,Too many workers)")
    elif limits.max_workers - online <= limits.worker_margin:
        flags.append(f"{online} miners: nearing the pool's {limits.max_workers}-worker limit")
    if snapshot.max_miners is not None and online > snapshot.max_miners:
        flags.append(f"{online} miners but the account allows {snapshot.max_miners} (max_miners)")
    return flags


def build_report(snapshot: UserSnapshot, limits: Limits = Limits(), rig_config: RigConfig | None = None,
                 rig_filter: str | None = None, sort_key: str = "identifier", reverse: bool = False) -> Report:
    online = len(snapshot.miners)
    flags = account_flags(online, snapshot, limits)
    rigs = group_by_rig(snapshot.miners)
    for rig in rigs:
        rig.lines.sort(key=lambda line: SORT_KEYS[sort_key](line.miner), reverse=reverse)
        for line in rig.lines:
            line.flags = miner_flags(line.miner, limits)
    if rig_config is not None:
        configured = [rig for rig in rigs if rig_config.describes(rig)]
        if not configured:
            flags.append(f"rig {rig_config.name!r} (rig config) has no miner online")
        for rig in configured:
            if len(rig.lines) > rig_config.slaves:
                rig.flags.append(f"{len(rig.lines)} miners but the rig config has {rig_config.slaves} slave(s)")
    if rig_filter is not None:
        rigs = [rig for rig in rigs if rig.is_named(rig_filter)]
    return Report(snapshot.username, online, rigs, flags)
