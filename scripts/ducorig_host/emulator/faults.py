"""Fault injection rules, switchable while the emulator runs.

A rule is keyed by username (it applies to every connection of that user) or
by threadid (one connection). Counters belong to the rule, so `drop=2` on a
user means two drops in total, on whichever of its connections comes first.
A threadid rule is consulted before the user's rule.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

# Sent instead of a job or feedback by the `garbage` fault: high-bit bytes, a
# NUL and no comma, so no client can mistake it for a job or GOOD.
GARBAGE = b"\x00\xff\xfeGARBAGE\x81\n"

COUNTERS = ("drop", "garbage", "stall", "bad_burst")
WHOLE = COUNTERS + ("easy_every",)  # the fields that take whole numbers only


@dataclass
class Faults:
    drop: int = 0          # close right after receiving a result, no feedback
    garbage: int = 0       # send GARBAGE instead of the next job or feedback
    stall: int = 0         # hold the next job or feedback back for stall_s
    stall_s: float = 0.0
    bad_burst: int = 0     # answer the next correct results BAD,<bad_reason>
    bad_reason: str = "Incorrect result"
    easy_every: int = 0    # every Nth job of a connection has the answer 1 (drawn as rarely as any other)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELD_NAMES = frozenset(f.name for f in fields(Faults))


def _checked(updates: dict[str, Any]) -> dict[str, Any]:
    """Validate values coming from tests or JSON before they reach a rule."""
    unknown = set(updates) - _FIELD_NAMES
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    checked: dict[str, Any] = {}
    for name, value in updates.items():
        if name == "bad_reason":
            if not isinstance(value, str) or "\n" in value:
                raise ValueError("bad_reason must be a one-line string")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a number >= 0")
        elif name in WHOLE and value != int(value):
            raise ValueError(f"{name} must be a whole number")
        checked[name] = int(value) if name in WHOLE else value
    return checked


class FaultBoard:
    def __init__(self) -> None:
        self._by_user: dict[str, Faults] = {}
        self._by_thread: dict[str, Faults] = {}

    def set(self, user: str | None = None, threadid: str | None = None, **updates: Any) -> Faults:
        """Merge `updates` into the rule for exactly one key; returns a copy."""
        if (user is None) == (threadid is None):
            raise ValueError("give exactly one of user= or threadid=")
        table = self._by_user if user is not None else self._by_thread
        key = user if user is not None else str(threadid)
        rule = replace(table.get(key, Faults()), **_checked(updates))
        table[key] = rule
        return replace(rule)

    def clear(self) -> None:
        self._by_user.clear()
        self._by_thread.clear()

    def rule(self, threadid: str, user: str | None) -> Faults | None:
        """The rule for a connection: its own, else its user's."""
        rule = self._by_thread.get(threadid)
        return rule if rule is not None or user is None else self._by_user.get(user)

    def take(self, threadid: str, user: str | None, counter: str) -> Faults | None:
        """Consume one count of `counter` from the first matching armed rule."""
        candidates = [self._by_thread.get(threadid)]
        if user is not None:
            candidates.append(self._by_user.get(user))
        for rule in candidates:
            if rule is not None and getattr(rule, counter) > 0:
                setattr(rule, counter, getattr(rule, counter) - 1)
                return rule
        return None

    def dump(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {
            "users": {key: rule.to_dict() for key, rule in self._by_user.items()},
            "threads": {key: rule.to_dict() for key, rule in self._by_thread.items()},
        }
