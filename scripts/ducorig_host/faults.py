"""The faults that `ducorig bench faults` and `ducorig bench soak` inject
into the fault rig (faultrig.py), how each is injected, held and lifted,
what counts as the controller having noticed it, and how a fault's outcome
is measured from the rig's ledgers.

Definitions (issue: reliability):
* detected: the first sign that the rig noticed, after the injection: an
  error, reject, loss or state in the controller's reports, a log line, or
  a watchdog reset. Where the protocol's CRC or ACK count catches a fault on
  the spot and the controller counts nothing (a garbled job or result byte),
  the moment the garbled transfer happened.
* recovered: a subject's first accepted share after the fault ended (a
  one-shot fault ends when it is injected) and after its last rejected one
  in the fault's window; for several subjects (a rig-wide fault: every
  slave), the last of them. A fault that keeps shares rejected never
  recovers.
* lost to the fault: a share a slave found that never got an answer from
  the pool, found on one of the fault's subjects from 1 s before the
  injection until the recovery (or the window's end).
* lost (to the controller): any other found share without an answer.
* busy: the time a slave spent hashing the jobs it found a share for.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ducorig.console import keys_in
from ducorig_host.emulator.tiers import DEFAULT_TIERS, make_tier
from ducorig_host.faultrig import Evidence, FaultRig, Found, Submission

PRE_S = 1.0  # a share found this long before an injection may still be lost to it (in flight)
LOCKED_BY = b"D06"  # a data command for a yaum slave that hashes: its Wire locks up
HANG_S = 0.5  # the Pro Mini sketch's own watchdog restarts a hung loop after 0.5 s
RESET_AFTER = 100  # nonces into a job before the slave resets (reset mid-job)
SLOW_HS = 45.0  # a slave this slow overruns the job limit (twice the worst case at its measured rate)
BOUNCE_HS = 340.0  # the rate that fits no tier of BENCH_TIERS: the pool bounces it AVR <-> MEGA
FAST_HS = 450.0  # a yaum slave this fast moves to MEGA
BURST = 5  # BADs in a burst
STALL_S = 15.0  # longer than the controller's pool timeout (10 s)
HEAP_FREE = 2048  # the ballast leaves this much heap
HEAP_SEEN = 4096  # a heap sample this low shows the rig the pressure
BLOCK_MS = 5000  # the wedged loop's blocking call
CONSOLE_EVERY_S = 0.5  # a burst of garbage on the console this often

# The bench's tier table: the pool downloads its own at run time, so its
# limits are not the rig's to know. Here the slaves' 300 H/s fits AVR,
# 450 fits MEGA, and 340 fits none (the bounce the reliability issue
# reports: AVR [90, 330), MEGA [380, 550)). AVR starts at 40 H/s so that a
# slave slower than its job limit is not also refused by the pool.
BENCH_TIERS = (make_tier("AVR", 6, 40, 330, typical_hashrate=300),
               make_tier("MEGA", 16, 380, 550), *DEFAULT_TIERS[2:])
RATES = {"ducorig": 300.0, "yaum": 196.0}  # the slaves' own rates on the bench


@dataclass(frozen=True)
class Timing:
    """How long the faults last and how long the bench watches after each."""
    window_s: float  # watched after a fault's end (the others' busy too)
    unplugged_s: float
    late_s: float  # slaves power up this long after the controller
    unreachable_s: float
    sda_s: float
    wifi_s: float
    heap_s: float
    console_s: float
    slow_max_s: float  # a slow slave stays slow until noticed, at most this long
    recovery_max_s: float  # a fault not recovered this long after its end is given up


FULL = Timing(window_s=60, unplugged_s=10, late_s=20, unreachable_s=20, sda_s=10, wifi_s=30, heap_s=60,
              console_s=30, slow_max_s=60, recovery_max_s=120)
QUICK = Timing(window_s=5, unplugged_s=4, late_s=8, unreachable_s=8, sda_s=3, wifi_s=8, heap_s=10,
               console_s=5, slow_max_s=45, recovery_max_s=90)


@dataclass
class Injection:
    """One fault, injected into one slave (index) or the rig (None)."""
    kind: Kind
    index: int | None
    due: float  # rig time to inject at
    injected: float | None = None
    cleared: float | None = None
    detected: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # what a kind keeps between ticks
    cursor: int = 0  # evidence looked at so far

    @property
    def active(self) -> bool:
        return self.injected is not None and self.cleared is None


Inject = Callable[[FaultRig, Injection, Timing], bool]  # True once injected


@dataclass(frozen=True)
class Kind:
    name: str  # the row's `fault`
    what: str  # for people
    scope: str  # "slave" or "rig"
    target: str | None  # the slave kind it hits (ducorig, yaum); None: no one slave
    inject: Inject
    detects: Callable[[Evidence, Injection], bool]
    hold: Callable[[Timing], float] | None = None  # how long it lasts; None: one-shot
    clear: Callable[[FaultRig, Injection], None] | None = None
    until_detected: bool = False  # lifted once detected (after settle_s), at the latest after hold
    settle_s: float = 0.0
    during: Callable[[FaultRig, Injection, Timing], None] | None = None  # every tick while it lasts
    reasons: frozenset[str] = frozenset()  # the BAD reasons it may cause
    reboots: bool = False  # its row must end in a watchdog reset
    at_start: bool = False  # injected before the controller starts
    answered: Callable[[Evidence], bool] | None = None  # one more sign of recovery, after its injection


# --- detection ------------------------------------------------------------------------

def on_target(what: str, *details: str) -> Callable[[Evidence, Injection], bool]:
    """Evidence `what` about the injection's slave, with a detail starting
    with one of details (any, without details)."""
    return lambda e, inj: e.index == inj.index and on_any(what, *details)(e, inj)


def on_any(what: str, *details: str) -> Callable[[Evidence, Injection], bool]:
    return lambda e, inj: e.what == what and (not details or e.detail.startswith(details))


def logged(text: str) -> Callable[[Evidence], bool]:
    return lambda e: e.what == "log" and text in e.detail


def heap_pressed(e: Evidence, inj: Injection) -> bool:
    return (e.what == "heap" and int(e.detail) <= HEAP_SEEN) or "MemoryError" in e.detail


def wifi_lost(e: Evidence, inj: Injection) -> bool:
    return (e.what == "state" and e.detail == "offline") or (e.what == "log" and "WiFi: link lost" in e.detail)


# --- injection --------------------------------------------------------------------

def switch(name: str, value: object = 1, *more: tuple[str, object]) -> Inject:
    """Set a slave model's fault switches."""
    def inject(rig: FaultRig, inj: Injection, timing: Timing) -> bool:
        assert inj.index is not None
        for n, v in ((name, value), *more):
            rig.control(inj.index, n, v)
        return True
    return inject


def unswitch(name: str) -> Callable[[FaultRig, Injection], None]:
    def clear(rig: FaultRig, inj: Injection) -> None:
        assert inj.index is not None
        rig.control(inj.index, name, 0)
    return clear


def pool_rule(**rule: Any) -> Inject:
    def inject(rig: FaultRig, inj: Injection, timing: Timing) -> bool:
        assert inj.index is not None
        return rig.pool_fault(inj.index, **rule)
    return inject


def consumed(name: str) -> Callable[[FaultRig, Injection, Timing], None]:
    """While it lasts: the moment the slave model used up a counted switch is the evidence."""
    def during(rig: FaultRig, inj: Injection, timing: Timing) -> None:
        assert inj.index is not None
        if not inj.notes.get("consumed") and getattr(rig.model(inj.index).faults, name) == 0:
            inj.notes["consumed"] = True
            rig.observer.add(rig.now(), "consumed", inj.index, name)
    return during


def unhang(rig: FaultRig, inj: Injection, timing: Timing) -> None:
    """The hang is in the job the slave started after the injection: from
    then on the switch can go (a job keeps the rate it started with)."""
    assert inj.index is not None
    slave = rig.model(inj.index)
    search = getattr(slave, "search", None)
    if slave.faults.hung and search is not None and search.rate == 0:
        rig.control(inj.index, "hung", 0)


def rearm_reset(rig: FaultRig, inj: Injection, timing: Timing) -> None:
    """A job that ends before its reset point uses the reset up: arm it
    again, for the next job, until the slave has reset."""
    assert inj.index is not None
    slave = rig.model(inj.index)
    booted = inj.notes.setdefault("booted", slave.online_at)
    if slave.online_at == booted and slave.faults.reset_after < 0 and getattr(slave, "reset_at", None) is None:
        rig.control(inj.index, "reset_after", RESET_AFTER)


def set_rate(rate: float) -> Inject:
    def inject(rig: FaultRig, inj: Injection, timing: Timing) -> bool:
        assert inj.index is not None
        rig.control(inj.index, "hashrate", rate)
        return True
    return inject


def toggle_fast(rig: FaultRig, inj: Injection, timing: Timing) -> bool:
    """A yaum slave's rate moves across a tier's limit (up, or back down)."""
    assert inj.index is not None
    slave = rig.model(inj.index)
    rate = FAST_HS if slave.hashrate < FAST_HS else rig.slots[inj.index].hashrate
    rig.control(inj.index, "hashrate", rate)
    return True


def restore_rate(rig: FaultRig, inj: Injection) -> None:
    assert inj.index is not None
    rig.control(inj.index, "hashrate", rig.slots[inj.index].hashrate)


def lock_yaum(rig: FaultRig, inj: Injection, timing: Timing) -> bool:
    assert inj.index is not None
    return rig.stray_write(inj.index, LOCKED_BY)


def power_cycle(rig: FaultRig, inj: Injection) -> None:
    assert inj.index is not None
    rig.power_cycle(inj.index)


def garbage_on_console(rig: FaultRig, inj: Injection, timing: Timing) -> None:
    """A burst of line noise every CONSOLE_EVERY_S: bytes that are no one
    key (the console takes them for a paste and runs none of them), never
    Ctrl-C or Ctrl-A, which stop the rig on purpose. Quiet for its last
    second, then one key as typed (s: the rig's totals), which the console
    must answer."""
    now = rig.now()
    assert inj.injected is not None
    if now >= inj.injected + timing.console_s - CONSOLE_EVERY_S:
        if not inj.notes.get("asked"):
            inj.notes["asked"] = True
            rig.type(b"s")
        return
    if now < inj.notes.get("next", 0.0):
        return
    rng: random.Random = inj.notes.setdefault("rng", random.Random(int(now * 1000)))
    while True:
        burst = bytes(rng.choice(NOISE) for _ in range(rng.randint(8, 40)))
        if keys_in(burst) > 1:
            break
    rig.type(burst)
    inj.notes["bursts"] = inj.notes.get("bursts", 0) + 1
    inj.notes["next"] = now + CONSOLE_EVERY_S


NOISE = [b for b in range(256) if b not in (0x01, 0x03)]


def each_slave(action: Callable[[FaultRig, int], None]) -> Callable[[FaultRig, Injection], None]:
    def act(rig: FaultRig, inj: Injection) -> None:
        for slot in rig.slots:
            action(rig, slot.index)
    return act


def unplug_all(rig: FaultRig, inj: Injection, timing: Timing) -> bool:
    for slot in rig.slots:
        rig.control(slot.index, "unplugged", 1)
    return True


def refuse(on: bool) -> Callable[..., Any]:
    def act(rig: FaultRig, inj: Injection, timing: Timing | None = None) -> bool:
        rig.proxy.refusing = on
        return True
    return act


def link(up: bool) -> Callable[..., Any]:
    def act(rig: FaultRig, inj: Injection, timing: Timing | None = None) -> bool:
        rig.link(up)
        return True
    return act


def sda_low(on: bool) -> Callable[..., Any]:
    def act(rig: FaultRig, inj: Injection, timing: Timing | None = None) -> bool:
        rig.control(0, "sda_low", int(on))
        return True
    return act


def ballast(free: int | None) -> Callable[..., Any]:
    def act(rig: FaultRig, inj: Injection, timing: Timing | None = None) -> bool:
        rig.ballast(free)
        return True
    return act


def block(rig: FaultRig, inj: Injection, timing: Timing) -> bool:
    rig.block(BLOCK_MS)
    return True


ABANDONED = frozenset(("Incorrect result",))  # a job the slave failed is answered wrongly (worker._abandon)
TIER_MOVE = frozenset(("Too low starting difficulty", "Too high starting difficulty"))
# A slave restart loses its rate cap. The worker sends it again, unless a
# controller reset (a wedged loop, earlier) made it forget the cap: then the
# slave hashes at its default again and the pool bounces it, two BADs, until
# the worker caps it anew (the 2-h soak of stop 19: all 8 such BADs).
CAP_FORGOTTEN = TIER_MOVE

KINDS: tuple[Kind, ...] = (
    # per-slave
    Kind("unplugged", "slave unplugged, then plugged back", "slave", "ducorig", switch("unplugged"),
         on_target("error", "bus: ", "slave: "), hold=lambda t: t.unplugged_s, clear=unswitch("unplugged"),
         reasons=ABANDONED),
    Kind("hung", "slave hung (its job never ends), back through the Pro Mini's own watchdog (0.5 s)", "slave",
         "ducorig", switch("hung", 1, ("reset_after", int(RATES["ducorig"] * HANG_S))),
         on_target("error", "reset"), hold=lambda t: t.recovery_max_s, until_detected=True, during=unhang,
         clear=unswitch("hung"), reasons=ABANDONED | CAP_FORGOTTEN),
    Kind("slow", f"slave slower than its job limit ({SLOW_HS:g} H/s until noticed)", "slave", "ducorig",
         set_rate(SLOW_HS), on_target("error", "slave: failed"), hold=lambda t: t.slow_max_s,
         clear=restore_rate, until_detected=True, settle_s=1.0, reasons=ABANDONED),
    Kind("garbled_job", "a garbled byte in a job (caught by the slave's CRC)", "slave", "ducorig",
         switch("garble_job"), on_target("consumed"), hold=lambda t: t.recovery_max_s, until_detected=True,
         during=consumed("garble_job"), clear=unswitch("garble_job"), reasons=ABANDONED),
    Kind("garbled_result", "a garbled byte in a result (caught by the master's CRC)", "slave", "ducorig",
         switch("garble_result"), on_target("consumed"), hold=lambda t: t.recovery_max_s, until_detected=True,
         during=consumed("garble_result"), clear=unswitch("garble_result")),
    Kind("reset", "slave reset mid-job", "slave", "ducorig", switch("reset_after", RESET_AFTER),
         on_target("error", "reset"), hold=lambda t: t.recovery_max_s, until_detected=True, during=rearm_reset,
         clear=lambda rig, inj: rig.control(inj.index, "reset_after", -1), reasons=CAP_FORGOTTEN),
    Kind("nak", "slave NAKs in the middle of a write", "slave", "ducorig", switch("nak_write"),
         lambda e, inj: e.what == "error" and e.index is None and e.detail == "bus failure",
         hold=lambda t: t.recovery_max_s, until_detected=True, clear=unswitch("nak_write"), reasons=ABANDONED),
    Kind("pool_drop", "pool connection dropped mid-share", "slave", "ducorig", pool_rule(drop=1),
         on_target("error", "pool: closed")),
    Kind("pool_garbage", "pool replies garbage", "slave", "ducorig", pool_rule(garbage=1),
         on_target("error", "pool: garbage")),
    Kind("pool_stall", f"pool stalls {STALL_S:g} s, past the timeout", "slave", "ducorig",
         pool_rule(stall=1, stall_s=STALL_S), on_target("error", "pool: timeout")),
    Kind("bad_incorrect", f"a burst of {BURST} BAD,Incorrect result", "slave", "ducorig",
         pool_rule(bad_burst=BURST, bad_reason="Incorrect result"), on_target("rejected", "Incorrect result"),
         reasons=frozenset(("Incorrect result",))),
    Kind("bad_workers", f"a burst of {BURST} BAD,Too many workers", "slave", "ducorig",
         pool_rule(bad_burst=BURST, bad_reason="Too many workers"), on_target("rejected", "Too many workers"),
         reasons=frozenset(("Too many workers",))),
    Kind("tier_move", f"a tier move (a yaum slave's rate crosses a tier's limit: {FAST_HS:g} H/s)", "slave",
         "yaum", toggle_fast, on_target("rejected", *TIER_MOVE), reasons=TIER_MOVE),
    Kind("tier_bounce", f"tier bounce ({BOUNCE_HS:g} H/s fits no tier: AVR [40, 330), MEGA [380, 550))",
         "slave", "ducorig", set_rate(BOUNCE_HS), on_target("error", "tier bounce"), reasons=TIER_MOVE),
    Kind("yaum_locked", "yaum slave locked by a data command while it hashed (Wire lock-up): reported "
         "'yaum slave locked: power-cycle it', parked; back after a power cycle", "slave", "yaum", lock_yaum,
         lambda e, inj: e.index == inj.index and ((e.what == "state" and e.detail == "locked")
                                                  or (e.what == "error" and e.detail == "slave: locked")),
         hold=lambda t: t.recovery_max_s, until_detected=True, settle_s=2.0, clear=power_cycle,
         reasons=ABANDONED),
    Kind("console_garbage", "console garbage throughout (bursts of line noise)", "slave", None,
         lambda rig, inj, t: True, lambda e, inj: e.what == "log" and "paste ignored" in e.detail,
         hold=lambda t: t.console_s, during=garbage_on_console, answered=logged(" rejected, ")),
    # rig-wide
    Kind("slaves_late", "slaves power up after the ESP", "rig", None, unplug_all,
         on_any("error", "bus: absent"), hold=lambda t: t.late_s,
         clear=each_slave(lambda rig, i: rig.power_cycle(i)), at_start=True),
    Kind("pool_unreachable", "pool host unreachable at start", "rig", None, refuse(True),
         on_any("error", "pool: "), hold=lambda t: t.unreachable_s, clear=refuse(False), at_start=True),
    Kind("sda_low", "SDA held low (bus recovery)", "rig", None, sda_low(True), on_any("error"),
         hold=lambda t: t.sda_s, clear=sda_low(False), reasons=ABANDONED),
    Kind("wifi_lost", "WiFi lost", "rig", None, link(False), wifi_lost, hold=lambda t: t.wifi_s,
         clear=link(True)),
    Kind("heap_pressure", f"heap pressure (a ballast leaving {HEAP_FREE} B free)", "rig", None,
         ballast(HEAP_FREE), heap_pressed, hold=lambda t: t.heap_s, clear=ballast(None)),
    Kind("wedged_loop", f"a wedged event loop (a task blocks {BLOCK_MS // 1000} s): a watchdog reset", "rig",
         None, block, on_any("reset", "watchdog"), hold=lambda t: BLOCK_MS / 1000 + 15, until_detected=True,
         reboots=True, reasons=TIER_MOVE),  # the reset forgets the tiers the pool moved slaves to: one BAD each
)
BY_NAME = {k.name: k for k in KINDS}


# --- the injector -------------------------------------------------------------------------

class Injector:
    """Steps injections through their life: due, injected, detected, lifted."""

    def __init__(self, rig: FaultRig, timing: Timing) -> None:
        self.rig = rig
        self.timing = timing

    def before_start(self, inj: Injection) -> None:
        """An at-start fault: in place before the controller starts."""
        inj.kind.inject(self.rig, inj, self.timing)
        inj.injected = 0.0

    def step(self, inj: Injection) -> None:
        rig, kind = self.rig, inj.kind
        now = rig.now()
        if inj.injected is None:
            if now >= inj.due and kind.inject(rig, inj, self.timing):
                inj.injected = now
            return
        evidence = rig.observer.evidence
        while inj.detected is None and inj.cursor < len(evidence):
            e = evidence[inj.cursor]
            inj.cursor += 1
            if e.t >= inj.injected and kind.detects(e, inj):
                inj.detected = e.t
        if inj.cleared is not None:
            return
        if kind.during is not None:
            kind.during(rig, inj, self.timing)
        hold = kind.hold(self.timing) if kind.hold else 0.0
        noticed = kind.until_detected and inj.detected is not None and now >= inj.detected + kind.settle_s
        if noticed or now >= inj.injected + hold:
            if kind.clear is not None:
                kind.clear(rig, inj)
            inj.cleared = now


# --- outcomes -----------------------------------------------------------------------------

@dataclass
class Ledgers:
    """A finished run's ledgers: found shares, submissions by slave, evidence."""
    found: list[Found]
    submissions: dict[int, list[Submission]]  # by slave index
    answers: dict[tuple[int, str, int], Submission]  # (slave, expected, nonce) -> its submission
    evidence: list[Evidence]
    end: float  # the run's end (rig time)

    @classmethod
    def of(cls, rig: FaultRig) -> Ledgers:
        rig.found.settle()
        _, submissions = rig.proxy.ledger()
        by_slave: dict[int, list[Submission]] = {slot.index: [] for slot in rig.slots}
        answers = {}
        for s in submissions:
            index = rig.index_of(s.ducoid)
            if index is not None:
                by_slave[index].append(s)
                answers[(index, s.expected, s.nonce)] = s
        return cls(list(rig.found.found), by_slave, answers, list(rig.observer.evidence), rig.now())

    def unanswered(self, margin_s: float) -> list[Found]:
        """Found shares that got no answer from the pool; those found in
        the last margin_s may still be on their way and are left out."""
        lost = []
        for f in self.found:
            s = self.answers.get((f.index, f.expected, f.nonce))
            if f.end <= self.end - margin_s and (s is None or s.answer is None):
                lost.append(f)
        return lost

    def recovered(self, index: int, since: float, after: float, until: float) -> float | None:
        """Slave index's first accepted share answered after `after` and
        after its last rejected one answered in [since, until]."""
        subs = self.submissions[index]
        bad = [s.answered for s in subs if s.answered is not None and since <= s.answered <= until
               and s.reason is not None]
        start = max([after, *bad])
        good = [s.answered for s in subs if s.answered is not None and s.accepted and start <= s.answered <= until]
        return min(good, default=None)

    def busy(self, index: int, start: float, end: float) -> float:
        """The share of [start, end] that slave index hashed jobs it found a share for."""
        hashed = sum(max(0.0, min(f.end, end) - max(f.start, start)) for f in self.found if f.index == index)
        return hashed / (end - start) if end > start else 0.0

    def rejects(self, index: int, start: float, end: float) -> list[Submission]:
        return [s for s in self.submissions[index] if s.reason is not None and s.answered is not None
                and start <= s.answered <= end]

    def reboots(self, start: float, end: float) -> int:
        return sum(1 for e in self.evidence if e.what == "reset" and start <= e.t <= end)


def recovered_at(inj: Injection, subjects: list[int], ledgers: Ledgers, until: float) -> float | None:
    """When every subject mines cleanly again after the fault (None: not by `until`)."""
    if inj.injected is None or inj.cleared is None:
        return None
    times = [ledgers.recovered(i, inj.injected, inj.cleared, until) for i in subjects]
    if inj.kind.answered is not None:
        times.append(min((e.t for e in ledgers.evidence if e.t >= inj.injected and inj.kind.answered(e)),
                         default=None))
    if not times or any(t is None for t in times):
        return None
    return max(t for t in times if t is not None)


def subjects(inj: Injection, run: list[Injection], rig: FaultRig) -> list[int]:
    """The slaves whose mining shows the fault's outcome: its target, every
    slave for a rig-wide fault, the others for one without a target."""
    if inj.kind.scope == "rig":
        return [slot.index for slot in rig.slots]
    if inj.index is not None:
        return [inj.index]
    return others(inj, run, rig)


def others(inj: Injection, run: list[Injection], rig: FaultRig) -> list[int]:
    """The slaves no fault has touched by the end of this one (a slave hit
    before may still show it: a rate cap, a parked yaum slave)."""
    end = inj.notes.get("done", rig.now())
    touched = {o.index for o in run if o.index is not None and o.injected is not None and o.injected <= end}
    return [slot.index for slot in rig.slots if slot.index not in touched]


def hit(inj: Injection, rig: FaultRig) -> list[int]:
    """The slaves a fault can cost shares: its target, or all for a rig-wide one."""
    if inj.kind.scope == "rig":
        return [slot.index for slot in rig.slots]
    return [] if inj.index is None else [inj.index]


def mark_done(pending: list[Injection], run: list[Injection], rig: FaultRig, ledgers: Ledgers,
              timing: Timing) -> None:
    """An injection is over (notes["done"]) once it has recovered and been
    watched for the window since, or recovery_max_s after its end."""
    now = rig.now()
    for inj in pending:
        if inj.cleared is None:
            continue
        rec = recovered_at(inj, subjects(inj, run, rig), ledgers, now)
        given_up = inj.cleared + timing.recovery_max_s
        if now >= min(given_up, max(inj.cleared, rec or given_up) + timing.window_s):
            inj.notes["done"] = now
