"""`ducorig bench soak --hours H --seed N`: the simulated rig (10 slaves:
9 of ours, one yaum) mines for hours while the faults of faults.KINDS hit it
at random intervals (a mean gap of --gap seconds; those that only make sense
at the start are left out). A fault on one slave may overlap faults on
others; a rig-wide fault (and the console's garbage) waits until nothing
else is on, and nothing starts while it is. Every injection is logged on
stderr as it happens, and listed in --json.

The summary: accepted shares per hour; rejects by reason, each matched to
an injection (one that hits that slave, whose window holds the reject, and
that can cause that reason); shares lost to the controller and to the
faults (faults.py); reconnects (pool connections beyond one per slave,
refused ones not counted); controller resets; and free heap over time, the
lowest of the rig's own samples in the first and in the last quarter. Left
out: those taken while a heap ballast was in, and while the console's garbage
was on (its closing `s` imports the commands, ~9 KB on this port, for a
moment: a sample it takes there measures the console, not a drift)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ducorig_host.bench import Progress
from ducorig_host.faultrig import FaultRig
from ducorig_host.faults import (BENCH_TIERS, FULL, KINDS, PRE_S, RATES, Injection, Injector, Ledgers,
                                 hit, mark_done, recovered_at, subjects)
from ducorig_host.simrig import HEAPSIZE, SimError
from ducorig_host.termchart import format_duration

SLAVES = ["ducorig"] * 9 + ["yaum"]
TIMING = dataclasses.replace(FULL, window_s=10.0)  # a slave is free for the next fault 10 s after it recovered
WARMUP_S = 15.0
TICK_S = 0.2
DONE_EVERY_S = 2.0  # how often the injections' recoveries are looked at
MARGIN_S = 3.0
DEFAULT_RUN = "{time}: 10 slaves, a fault a minute on average"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=float, default=2.0, help="how long it mines (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="the faults', targets', gaps' and pool's seed (default 1)")
    parser.add_argument("--gap", type=float, default=60.0, help="mean seconds between two faults (default 60)")
    parser.add_argument("--heap", default=HEAPSIZE, help=f"the controller's MicroPython heap (default {HEAPSIZE})")
    parser.add_argument("--json", action="store_true", help="the summary and every injection as one JSON object")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder, with its ledgers (ledgers.json)")


def estimate_s(args: argparse.Namespace) -> float:
    return args.hours * 3600 + WARMUP_S + 10.0


def run(args: argparse.Namespace) -> int:
    if not args.hours > 0 or not args.gap > 0:
        print("ducorig bench soak: --hours and --gap must be above 0", file=sys.stderr)
        return 2
    progress = Progress("soak", 1, estimate_s(args), unit="run")
    progress.step(f"{format_duration(args.hours * 3600)} of mining and faults")
    try:
        summary = soak(args.hours * 3600, args.seed, args.gap, args.heap, log=progress.say, keep=args.keep)
    except (SimError, OSError, RuntimeError) as e:
        print(f"ducorig bench soak: {e}", file=sys.stderr)
        return 1
    progress.done()
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(text(summary))
    return 0


# --- the run -------------------------------------------------------------------------------

class Schedule:
    """Which fault comes next, on which slave, and when."""

    def __init__(self, rig: FaultRig, seed: int, gap_s: float) -> None:
        self.rig = rig
        self.rng = random.Random(seed)
        self.gap_s = gap_s
        self.kinds = [k for k in KINDS if not k.at_start]
        self.bounced: set[int] = set()  # the controller caps a bounced slave for good: once each
        self.next_at = WARMUP_S + self.rng.expovariate(1 / gap_s)

    def due(self, now: float, injections: list[Injection]) -> Injection | None:
        """The next injection when its time has come and it can go, else None
        (a fault that cannot go now waits for the next turn)."""
        if now < self.next_at:
            return None
        self.next_at = now + self.rng.expovariate(1 / self.gap_s)
        kind = self.rng.choice(self.kinds)
        busy = [inj for inj in injections if "done" not in inj.notes]
        if any(inj.index is None for inj in busy):
            return None  # a rig-wide fault (or the console's) is on
        if kind.target is None:
            return None if busy else Injection(kind, None, now)
        taken = {inj.index for inj in busy}
        free = [s.index for s in self.rig.slots if s.kind == kind.target and s.index not in taken
                and not (kind.name == "tier_bounce" and s.index in self.bounced)]
        if not free:
            return None
        index = self.rng.choice(free)
        if kind.name == "tier_bounce":
            self.bounced.add(index)
        return Injection(kind, index, now)


def soak(seconds: float, seed: int, gap_s: float, heap: str, log: Any = print, keep: bool = False) -> dict[str, Any]:
    rig = FaultRig(SLAVES, [RATES[k] for k in SLAVES], Path(tempfile.mkdtemp(prefix="ducorig-soak-")), heap=heap,
                   tiers=BENCH_TIERS, seed=seed, console=True)
    injector = Injector(rig, TIMING)
    schedule = Schedule(rig, seed, gap_s)
    injections: list[Injection] = []
    rig.start()
    try:
        looked = 0.0
        while rig.now() < seconds:
            rig.watch()
            now = rig.now()
            new = schedule.due(now, injections)
            if new is not None:
                injections.append(new)
                target = "the rig" if new.index is None else f"pm{new.index}"
                log(f"{format_duration(now)}: {new.kind.name} on {target}")
            for inj in injections:
                if "done" not in inj.notes:
                    injector.step(inj)
            if now - looked >= DONE_EVERY_S:
                looked = now
                mark_done([i for i in injections if "done" not in i.notes], injections, rig, Ledgers.of(rig), TIMING)
            time.sleep(TICK_S)
        for inj in injections:  # what is still on goes now
            if inj.active and inj.kind.clear is not None:
                inj.kind.clear(rig, inj)
                inj.cleared = rig.now()
        end = rig.now()
        deadline = time.monotonic() + MARGIN_S
        while time.monotonic() < deadline:
            rig.watch()
            time.sleep(TICK_S)
    finally:
        rig.stop()
    summary = summarise(rig, injections, Ledgers.of(rig), end)
    kept = rig.put_away(keep)
    if kept:
        log(f"the run's ledgers: {kept}")
    return summary


# --- the summary --------------------------------------------------------------------------------

def window(inj: Injection, end: float) -> tuple[float, float]:
    assert inj.injected is not None
    return inj.injected - PRE_S, inj.notes.get("done", end)


def summarise(rig: FaultRig, injections: list[Injection], ledgers: Ledgers, end: float) -> dict[str, Any]:
    hours = end / 3600
    injected = [inj for inj in injections if inj.injected is not None]
    recovered = {id(inj): recovered_at(inj, subjects(inj, injected, rig), ledgers, inj.notes.get("done", end))
                 for inj in injected}
    accepted = sum(s.accepted for subs in ledgers.submissions.values() for s in subs)
    rejects: dict[str, dict[str, int]] = {}
    for index, subs in ledgers.submissions.items():
        for s in subs:
            if s.reason is None or s.answered is None:
                continue
            entry = rejects.setdefault(s.reason, {"count": 0, "matched": 0})
            entry["count"] += 1
            entry["matched"] += any(index in hit(inj, rig) and s.reason in inj.kind.reasons
                                    and window(inj, end)[0] <= s.answered <= window(inj, end)[1] for inj in injected)
    lost = to_fault = 0
    for share in ledgers.unanswered(MARGIN_S):
        if any(share.index in hit(inj, rig) and inj.injected is not None
               and inj.injected - PRE_S <= share.end <= (recovered[id(inj)] or inj.notes.get("done", end))
               for inj in injected):
            to_fault += 1
        else:
            lost += 1
    connections, _ = rig.proxy.ledger()
    passing = [window(inj, end) for inj in injected if inj.kind.name in ("heap_pressure", "console_garbage")]
    heap = [(t, free) for t, free in rig.observer.heap if not any(a <= t <= b for a, b in passing)]
    return {
        "hours": round(hours, 2), "slaves": len(rig.slots), "injected": len(injected),
        "accepted": accepted, "shares_per_hour": round(accepted / hours) if hours else None,
        "rejects": rejects, "rejects_unmatched": sum(r["count"] - r["matched"] for r in rejects.values()),
        "lost": lost, "lost_to_fault": to_fault,
        "reconnects": sum(1 for c in connections if not c.refused) - len(rig.slots),
        "resets": len(rig.resets),
        "heap_first_quarter_min": quarter_min(heap, 0, end), "heap_last_quarter_min": quarter_min(heap, 3, end),
        "injections": [injection_entry(inj, recovered[id(inj)]) for inj in injected],
    }


def quarter_min(samples: list[tuple[float, int]], quarter: int, end: float) -> int | None:
    """The lowest free heap in a quarter of the run (the value in force at its start included)."""
    start, stop = end * quarter / 4, end * (quarter + 1) / 4
    before = [free for t, free in samples if t < start][-1:]
    return min(before + [free for t, free in samples if start <= t < stop], default=None)


def injection_entry(inj: Injection, recovered: float | None) -> dict[str, Any]:
    assert inj.injected is not None
    return {"at_s": round(inj.injected, 1), "fault": inj.kind.name, "slave": inj.index,
            "detected_s": None if inj.detected is None else round(inj.detected - inj.injected, 1),
            "recovered_s": None if recovered is None or inj.cleared is None else round(recovered - inj.cleared, 1)}


def text(s: dict[str, Any]) -> str:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for entry in s["injections"]:
        kinds.setdefault(entry["fault"], []).append(entry)
    lines = [f"{s['hours']:g} h, {s['slaves']} slaves: {s['accepted']} shares accepted, "
             f"{s['shares_per_hour']} an hour",
             f"lost to the controller: {s['lost']}, to the faults: {s['lost_to_fault']}; "
             f"reconnects: {s['reconnects']}; controller resets: {s['resets']}",
             f"free heap, lowest: first quarter {s['heap_first_quarter_min']} B, "
             f"last quarter {s['heap_last_quarter_min']} B",
             f"rejects ({s['rejects_unmatched']} not matched to a fault):"]
    lines += [f"  {reason or '(no reason)'}: {r['count']} ({r['matched']} matched)"
              for reason, r in sorted(s["rejects"].items())] or ["  none"]
    lines.append(f"{len(s['injections'])} faults (detected / recovered / injected):")
    for name, entries in kinds.items():
        lines.append(f"  {name}: {sum(e['detected_s'] is not None for e in entries)} / "
                     f"{sum(e['recovered_s'] is not None for e in entries)} / {len(entries)}")
    return "\n".join(lines)

