"""What the REST API says about an account, as typed values
(duino-coin/duco-rest-api app.py, plus the fields the live wallet reads,
duino-coin/duco-webservices 2023/js/main.js). Parsing is tolerant: the live
API adds fields, may omit some and can send Infinity, so a missing or odd
value becomes a neutral default (NaN for measurements, 0 for counters)
instead of an exception."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

# Kolka decrease per extra worker (kolka_decrease_perc/100): the wallet uses
# 0.96 for AVR, I2C and ESP software and 0.80 for everything else
# (duco-webservices 2023/js/main.js).
KOLKA_DECREASE_DEVICE = 0.96
KOLKA_DECREASE_PC = 0.80
DEVICE_SOFTWARE_MARKERS = ("AVR", "I2C", "ARDUINO", "ESP")


def as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def as_int(value: Any, default: int = 0) -> int:
    number = as_float(value)
    return int(number) if math.isfinite(number) else default


def as_text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Miner:
    threadid: str
    software: str
    identifier: str
    pool: str
    hashrate: float
    sharetime: float
    diff: int
    accepted: int
    rejected: int
    ki: float
    wd: int | None
    ducoid: str = ""  # the chip's DUCOID: the emulator lists it, the public API does not

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Miner:
        wd = raw.get("wd")
        return cls(
            threadid=as_text(raw.get("threadid")),
            software=as_text(raw.get("software")),
            identifier=as_text(raw.get("identifier")),
            pool=as_text(raw.get("pool")),
            hashrate=as_float(raw.get("hashrate")),
            sharetime=as_float(raw.get("sharetime")),
            diff=as_int(raw.get("diff")),
            accepted=as_int(raw.get("accepted")),
            rejected=as_int(raw.get("rejected")),
            ki=as_float(raw.get("ki", 1)),
            wd=None if wd in (None, "", "None") else as_int(wd),
            ducoid=as_text(raw.get("ducoid")),
        )

    @property
    def kolka_decrease(self) -> float:
        software = self.software.upper()
        device = any(marker in software for marker in DEVICE_SOFTWARE_MARKERS)
        return KOLKA_DECREASE_DEVICE if device else KOLKA_DECREASE_PC

    @property
    def efficiency(self) -> float:
        """Share of the full reward this worker earns: p^(ki-1), as the wallet's
        "Efficiency" (duco-webservices 2023/js/main.js)."""
        if not math.isfinite(self.ki) or self.ki < 1:
            return math.nan
        return self.kolka_decrease ** (self.ki - 1)


@dataclass(frozen=True)
class UserSnapshot:
    username: str
    balance: float
    miners: tuple[Miner, ...]
    max_miners: int | None  # live-only field (read by duco-webservices 2023/js/main.js)

    @classmethod
    def from_api(cls, result: Any, username: str) -> UserSnapshot:
        """`result` of /users/<u> or /v2/users/<u>; ValueError when it has no
        usable balance."""
        if not isinstance(result, Mapping) or not isinstance(result.get("balance"), Mapping):
            raise ValueError(f"no balance object in the answer for {username!r}")
        balance = result["balance"]
        amount = as_float(balance.get("balance"))
        if not math.isfinite(amount):
            raise ValueError(f"balance of {username!r} is not a number: {balance.get('balance')!r}")
        miners = result.get("miners") or []
        if not isinstance(miners, list):
            raise ValueError(f"miners of {username!r} is not a list")
        max_miners = balance.get("max_miners")
        return cls(
            username=as_text(balance.get("username")) or username,
            balance=amount,
            miners=tuple(Miner.from_api(m) for m in miners if isinstance(m, Mapping)),
            max_miners=None if max_miners is None else as_int(max_miners),
        )


@dataclass(frozen=True)
class KeyCheck:
    """/mining_key: has_key=False means no key is needed (send "None")."""
    has_key: bool
    matches: bool
