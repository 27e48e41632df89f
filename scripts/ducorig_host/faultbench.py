"""`ducorig bench faults`: what the simulated rig survives. The controller
runs on MicroPython against the pool emulator and the slave models
(faultrig.py); each fault of faults.KINDS is injected while the other
slaves mine, and a row says when the rig noticed it, when it mined cleanly
again, the shares lost to the controller and to the fault, and for a
per-slave fault how far the other slaves' busy % moved from a clean window
of the same rig (faults.py defines each figure).

Two runs. The first (18 slaves: one target per per-slave fault, 3 that no
fault touches) starts with the slaves powered up after the controller,
then mines a clean window, then injects the per-slave faults one after the
other, each watched until it has recovered plus the window (60 s). The
second (10 slaves) has the pool unreachable at its start, then the other
rig-wide faults one after the other, the wedged loop last (it reboots the
controller). --quick injects the per-slave faults all at once and watches
5 s after each (the tests' timings): its others are the 3 untouched
slaves."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ducorig.worker import LOCKED_LOOK_MS
from ducorig_host.bench import WIDTH, Progress
from ducorig_host.faultrig import FaultRig, Found
from ducorig_host.faults import (BENCH_TIERS, BY_NAME, FULL, KINDS, PRE_S, QUICK, RATES, Injection, Injector, Kind,
                                 Ledgers, Timing, hit, mark_done, others, recovered_at, subjects)
from ducorig_host.simrig import HEAPSIZE, SimError

WITNESSES = 3  # slaves no fault touches in the first run
RIG_SLAVES = 10  # the second run's
BUSY_POINTS = 2.0  # the others' busy may move this many points from the clean window
MARGIN_S = 3.0  # shares found in a run's last seconds may still be on their way: not counted
START_S = 10.0  # a run's start and stop (the ROMFS image, processes), for the estimate
WARMUP_LIMIT_S = 120.0
TICK_S = 0.2
FIRST_RUN = ["slaves_late"]  # at its start; the per-slave faults follow
SECOND_RUN = ["pool_unreachable", "sda_low", "wifi_lost", "heap_pressure", "wedged_loop"]
DEFAULT_RUN = "{time}: 22 faults in two runs of the simulated rig (18 and 10 slaves), 60 s windows"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per fault")
    parser.add_argument("--seed", type=int, default=1, help="the pool emulator's and the noise's seed (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="per-slave faults all at once, 5-s windows (the tests' timings; a few minutes)")
    parser.add_argument("--only", help="comma list of faults to run (default: all; see the table's names)")
    parser.add_argument("--heap", default=HEAPSIZE, help=f"the controller's MicroPython heap (default {HEAPSIZE})")
    parser.add_argument("--keep", action="store_true",
                        help="keep each run's folder, with its ledgers (ledgers.json; the paths go to stderr)")


def selected(args: argparse.Namespace) -> list[Kind]:
    """The faults to run, in the table's order; ValueError names an unknown one."""
    if not args.only:
        return list(KINDS)
    names = [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown fault {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return [k for k in KINDS if k.name in names]


def timing(args: argparse.Namespace) -> Timing:
    return QUICK if args.quick else FULL


def estimate_s(args: argparse.Namespace) -> float:
    t = timing(args)
    kinds = selected(args)
    rows = [typical_s(k, t) for k in kinds]
    runs = (any(k.name not in SECOND_RUN for k in kinds), any(k.name in SECOND_RUN for k in kinds))
    at_once = [r for k, r in zip(kinds, rows) if k.scope == "slave"]
    if args.quick and at_once:  # the per-slave faults take as long as the longest of them
        rows = [r for k, r in zip(kinds, rows) if k.scope != "slave"] + [max(at_once)]
    return sum(rows) + sum(runs) * (START_S + t.window_s)


def typical_s(kind: Kind, t: Timing) -> float:
    """About how long a fault takes: it lasts, the rig recovers (a locked
    yaum slave is looked at once a minute), the bench watches the window."""
    lasts = kind.hold(t) if kind.hold and not kind.until_detected else 5.0
    return lasts + (LOCKED_LOOK_MS / 1000 if kind.name == "yaum_locked" else 10.0) + t.window_s


def run(args: argparse.Namespace) -> int:
    try:
        kinds = selected(args)
    except ValueError as e:
        print(f"ducorig bench faults: {e}", file=sys.stderr)
        return 2
    steps = len(kinds) - (sum(1 for k in kinds if k.scope == "slave") - 1 if args.quick else 0)
    progress = Progress("faults", steps, estimate_s(args) / steps, unit="step")
    try:
        rows = bench(kinds, timing(args), args.seed, args.heap, parallel=args.quick, progress=progress,
                     keep=args.keep)
    except (SimError, OSError, RuntimeError) as e:
        print(f"ducorig bench faults: {e}", file=sys.stderr)
        return 1
    progress.done()
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
    else:
        print(table(rows, timing(args), parallel=args.quick))
    return 0


# --- the runs -----------------------------------------------------------------------------------

@dataclass
class Layout:
    """A run's slaves, and the injections with their targets."""
    kinds: list[str]
    injections: list[Injection]


def first_layout(kinds: list[Kind]) -> Layout:
    """One slave per per-slave fault that has a target, then the witnesses."""
    slaves: list[str] = []
    injections = []
    for kind in kinds:
        if kind.scope == "slave" and kind.target is not None:
            injections.append(Injection(kind, len(slaves), 0.0))
            slaves.append(kind.target)
        elif kind.scope == "slave" or kind.name in FIRST_RUN:
            injections.append(Injection(kind, None, 0.0))
    slaves += ["ducorig"] * WITNESSES
    return Layout(slaves, injections)


def bench(kinds: list[Kind], timing: Timing, seed: int, heap: str, parallel: bool,
          progress: Progress | None = None, keep: bool = False) -> list[dict[str, Any]]:
    """Both runs; one row per fault, in KINDS' order."""
    rows: dict[str, dict[str, Any]] = {}
    first = first_layout([k for k in kinds if k.scope == "slave" or k.name in FIRST_RUN])
    if first.injections:
        rows.update(run_layout(first, timing, seed, heap, parallel, progress, True, keep))
    second = [Injection(k, None, 0.0) for k in kinds if k.name in SECOND_RUN]
    if second:
        rows.update(run_layout(Layout(["ducorig"] * RIG_SLAVES, second), timing, seed, heap, False, progress,
                               False, keep))
    return [rows[k.name] for k in kinds if k.name in rows]


def run_layout(layout: Layout, timing: Timing, seed: int, heap: str, parallel: bool,
               progress: Progress | None, console: bool, keep: bool) -> dict[str, dict[str, Any]]:
    rig = FaultRig(layout.kinds, [RATES[k] for k in layout.kinds], Path(tempfile.mkdtemp(prefix="ducorig-faults-")),
                   heap=heap, tiers=BENCH_TIERS, seed=seed, console=console)
    injector = Injector(rig, timing)
    at_start = [inj for inj in layout.injections if inj.kind.at_start]
    later = [inj for inj in layout.injections if not inj.kind.at_start]
    for inj in at_start:
        injector.before_start(inj)
        if progress:
            progress.step(inj.kind.name)
    rig.start()
    try:
        watch(rig, injector, at_start, timing)
        warm_up(rig)
        clean = rig.now()
        pause(rig, timing.window_s)
        clean_window = (clean, rig.now())
        if parallel:
            for inj in later:
                inj.due = rig.now()
            if progress:
                progress.step(f"{len(later)} faults at once")
            watch(rig, injector, later, timing)
        for inj in later if not parallel else []:
            inj.due = rig.now()
            if progress:
                progress.step(inj.kind.name)
            watch(rig, injector, [inj], timing)
        pause(rig, MARGIN_S)
    finally:
        rig.stop()
    outside: list[Found] = []
    rows = evaluate(layout.injections, Ledgers.of(rig), rig, timing, clean_window, outside)
    if outside and progress:
        progress.say(f"{len(outside)} shares lost outside every fault's window (the start, the clean window)")
    kept = rig.put_away(keep)
    if kept and progress:
        progress.say(f"the run's ledgers: {kept}")
    return {inj.kind.name: row for inj, row in zip(layout.injections, rows)}


def pause(rig: FaultRig, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rig.watch()
        time.sleep(TICK_S)


def warm_up(rig: FaultRig) -> None:
    """Until every slave has had a share accepted since the last fault."""
    since = rig.now()
    deadline = time.monotonic() + WARMUP_LIMIT_S
    while True:
        rig.watch()
        _, submissions = rig.proxy.ledger()
        mining = {rig.index_of(s.ducoid) for s in submissions if s.accepted and s.sent >= since - 5}
        if len(mining - {None}) == len(rig.slots):
            return
        if time.monotonic() > deadline:
            raise SimError(f"not every slave mines {WARMUP_LIMIT_S:.0f} s into the run; see {rig.log_path}")
        time.sleep(TICK_S)


def watch(rig: FaultRig, injector: Injector, injections: list[Injection], timing: Timing) -> None:
    """Step the injections until each is over: recovered and watched for
    the window, or given up recovery_max_s after its end."""
    while True:
        rig.watch()
        for inj in injections:
            injector.step(inj)
        pending = [inj for inj in injections if "done" not in inj.notes]
        if not pending:
            return
        mark_done(pending, injections, rig, Ledgers.of(rig), timing)
        time.sleep(TICK_S)


# --- the rows -------------------------------------------------------------------------------------

def evaluate(run: list[Injection], ledgers: Ledgers, rig: FaultRig, timing: Timing,
             clean: tuple[float, float], outside: list[Found]) -> list[dict[str, Any]]:
    """The rows of a run; the shares lost outside every fault's window go to `outside`."""
    recovered = {id(inj): recovered_at(inj, subjects(inj, run, rig), ledgers, inj.notes.get("done", ledgers.end))
                 for inj in run}
    lost = {id(inj): 0 for inj in run}
    to_fault = {id(inj): 0 for inj in run}
    for share in ledgers.unanswered(MARGIN_S):
        cause = next((inj for inj in run if inj.injected is not None and share.index in hit(inj, rig)
                      and inj.injected - PRE_S <= share.end <= (recovered[id(inj)] or inj.notes.get("done", 0.0))),
                     None)
        if cause is not None:
            to_fault[id(cause)] += 1
            continue
        during = [inj for inj in run if inj.injected is not None
                  and inj.injected - PRE_S <= share.end <= inj.notes.get("done", ledgers.end)]
        mine = [inj for inj in during if share.index in subjects(inj, run, rig)]
        if mine or during:
            lost[id((mine or during)[0])] += 1
        else:
            outside.append(share)
    return [row(inj, run, rig, ledgers, timing, clean, recovered[id(inj)], lost[id(inj)], to_fault[id(inj)])
            for inj in run]


def row(inj: Injection, run: list[Injection], rig: FaultRig, ledgers: Ledgers, timing: Timing,
        clean: tuple[float, float], rec: float | None, lost: int, to_fault: int) -> dict[str, Any]:
    kind = inj.kind
    injected = inj.injected
    detected = None if inj.detected is None or injected is None else round(inj.detected - injected, 1)
    recovered = None if rec is None or inj.cleared is None else round(max(0.0, rec - inj.cleared), 1)
    delta = None
    window = None
    if kind.scope == "slave" and injected is not None and inj.cleared is not None:
        end = inj.cleared + timing.window_s
        window = round(end - injected, 1)
        witnesses = others(inj, run, rig)
        if witnesses:
            delta = round(100 * sum(ledgers.busy(i, injected, end) - ledgers.busy(i, *clean)
                                    for i in witnesses) / len(witnesses), 1)
    done = inj.notes.get("done", ledgers.end)
    rebooted = injected is not None and ledgers.reboots(injected, done) > 0
    ok = (detected is not None and recovered is not None and lost == 0 and rebooted == kind.reboots
          and (delta is None or abs(delta) <= BUSY_POINTS))
    what = kind.what if kind.hold is None or kind.until_detected else f"{kind.what}, {kind.hold(timing):g} s"
    return {"fault": kind.name, "what": what, "scope": kind.scope, "detected_s": detected,
            "recovered_s": recovered, "lost": lost, "lost_to_fault": to_fault, "others_busy_delta": delta,
            "window_s": window, "rebooted": rebooted, "ok": ok,
            # counts for the tests: the signs of detection and the rejects within its window, what it sent
            "signs": 0 if injected is None else sum(1 for e in ledgers.evidence
                                                   if injected <= e.t <= done and kind.detects(e, inj)),
            "rejected": 0 if injected is None else sum(len(ledgers.rejects(i, injected - PRE_S, done))
                                                       for i in subjects(inj, run, rig)),
            "sent": inj.notes.get("bursts")}


# --- the table ------------------------------------------------------------------------------------

def table(rows: list[dict[str, Any]], timing: Timing, parallel: bool) -> str:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    lines = [f"{'fault':16} {'detected':>9} {'recovered':>9} {'lost':>5} {'to fault':>8} {'others busy':>11}  ok",
             "-" * 68]
    for r in rows:
        delta = "" if r["others_busy_delta"] is None else f"{r['others_busy_delta']:+.1f} pt"
        lines.append(f"{r['fault']:16} {seconds(r['detected_s']):>9} {seconds(r['recovered_s']):>9} "
                     f"{r['lost']:>5} {r['lost_to_fault']:>8} {delta:>11}  {'ok' if r['ok'] else 'NOT OK'}")
    lines += ["", "faults:"]
    for r in rows:
        lines += textwrap.wrap(f"{r['fault']}: {r['what']}", WIDTH, initial_indent="  ", subsequent_indent="    ",
                               break_on_hyphens=False)
    who = f"the {WITNESSES} slaves no fault touched" if parallel else "the slaves the fault did not touch"
    lines += [""] + textwrap.wrap(f"others busy: {who}, from the injection to {timing.window_s:g} s after the "
                                  f"fault's end, against a clean {timing.window_s:g}-s window of the same rig "
                                  f"(target: within {BUSY_POINTS:g} points).", WIDTH)
    return "\n".join(lines)
