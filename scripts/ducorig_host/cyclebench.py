"""`ducorig bench cycle`: the share cycle of the simulated rig, one run per
configuration (slaves x RTT x ready line), all figures from that run.

Definitions (issue: the rig):
* efficiency: pool-side accepted shares per second per slave, divided by the
  ideal 1 / (mean hash time reported by the slaves + 2 RTT).
* overhead: median and p95 of (share cycle - hash time - job wait - submit
  wait), from the controller's histogram (1 ms buckets); with no jitter the
  two waits are the RTT plus the emulator's sub-millisecond service time.
* heap: the controller samples free heap after gc.collect() every 30 s; min
  and slope (bytes per minute, least squares) of the samples in the measured
  window (None below one or two of them).

What the controller would cost an ESP8266 is measured by `ducorig bench chip`
(instructions counted under callgrind), not here: the unix port's CPU time
says little about the chip's."""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ducorig_host.bench import Progress
from ducorig_host.simrig import HEAPSIZE, SimError, SimRig, SimSpec

DIFF = 6  # the emulator's AVR tier
START_STOP_S = 2.0  # the rig's start (ROMFS image, processes) and stop, per configuration
DEFAULT_RUN = "{time}: 18 configurations (3, 10, 20 slaves x RTT 20, 100, 250 ms x ready line off, on) of 90 s each"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--slaves", default="3,10,20", help="comma list of slave counts (default 3,10,20)")
    parser.add_argument("--rtt", default="20,100,250", help="comma list of RTTs in ms (default 20,100,250)")
    parser.add_argument("--ready", default="off,on", help="ready line: off, on or off,on (default)")
    parser.add_argument("--seconds", type=float, default=90.0, help="measured time per configuration (default 90)")
    parser.add_argument("--i2c-hz", type=int, default=100_000, help="I2C clock of the simulated bus (default 100000)")
    parser.add_argument("--heap", default=HEAPSIZE, help=f"MicroPython heap (default {HEAPSIZE})")
    parser.add_argument("--json", action="store_true", help="one JSON object per configuration")


def configurations(args: argparse.Namespace) -> list[tuple[int, float, bool]]:
    """(slaves, RTT, ready line) for each run; ValueError names a bad option."""
    try:
        counts = [int(n) for n in args.slaves.split(",")]
        rtts = [float(r) for r in args.rtt.split(",")]
    except ValueError:
        raise ValueError(f"--slaves {args.slaves!r} and --rtt {args.rtt!r}: comma lists of numbers") from None
    if not all(1 <= n <= 20 for n in counts) or min(rtts) < 0 or args.seconds <= 0:
        raise ValueError("--slaves takes 1..20, --rtt 0 or more, --seconds more than 0")
    if any(r not in ("off", "on") for r in args.ready.split(",")):
        raise ValueError(f"--ready {args.ready!r}: use off, on or off,on")
    readies = [r == "on" for r in args.ready.split(",")]
    return list(itertools.product(counts, rtts, readies))


def estimate_s(args: argparse.Namespace) -> float:
    return sum(warmup_s(n) + args.seconds + START_STOP_S for n, _, _ in configurations(args))


def run(args: argparse.Namespace) -> int:
    try:
        todo = configurations(args)
    except ValueError as e:
        print(f"ducorig bench cycle: {e}", file=sys.stderr)
        return 2
    progress = Progress("cycle", len(todo), estimate_s(args) / len(todo))
    for n, rtt, ready in todo:
        progress.step(f"{n} slaves, RTT {rtt:g} ms, ready line {'on' if ready else 'off'}")
        spec = SimSpec(["ducorig"] * n, rtt, 0.0, args.i2c_hz, ready, heapsize=args.heap)
        try:
            figures = measure(spec, args.seconds)
        except (RuntimeError, SimError, OSError) as e:
            print(f"ducorig bench cycle: {e}", file=sys.stderr)
            return 1
        print(json.dumps(figures, sort_keys=True) if args.json else line(figures), flush=True)
    progress.done()
    return 0


def warmup_s(slaves: int) -> float:
    return 5.0 + 0.2 * slaves  # staggered starts and first connects


def measure(spec: SimSpec, seconds: float) -> dict[str, Any]:
    rig = SimRig(spec, Path(tempfile.mkdtemp(prefix="ducorig-bench-")))
    rig.start()
    try:
        time.sleep(warmup_s(len(spec.slaves)))
        base = _sample(rig)
        time.sleep(seconds)
        end = _sample(rig)
    finally:
        rig.stop()
    return figures(spec, base, end, rig)


STALE_S = 5.0  # the controller reports every second


def _sample(rig: SimRig) -> dict[str, Any]:
    if not rig.alive():
        raise RuntimeError(f"the controller died; see {rig.workdir / 'rig.log'}")
    if time.monotonic() - rig.collected.received > STALE_S:
        raise RuntimeError(f"the controller's stats report stalled; see {rig.workdir / 'rig.log'}")
    return {"t": time.monotonic(), "pool": rig.pool_accepted(), "snapshot": rig.collected.latest}


def figures(spec: SimSpec, base: dict[str, Any], end: dict[str, Any], rig: SimRig) -> dict[str, Any]:
    wall = end["t"] - base["t"]
    n = len(spec.slaves)
    shares = end["pool"] - base["pool"]
    s0, s1 = base["snapshot"], end["snapshot"]
    slaves = list(zip(s0["slaves"], s1["slaves"]))
    accepted = sum(b["accepted"] - a["accepted"] for a, b in slaves)
    hash_s = sum(b["hash_s"] - a["hash_s"] for a, b in slaves)
    mean_hash = hash_s / accepted if accepted else 0.0
    ideal = mean_hash + 2 * spec.rtt_ms / 1000
    efficiency = (shares / wall / n) * ideal if ideal else 0.0
    overhead_ms, overhead_p95 = s1["rig"]["overhead_ms"]
    # the samples taken in the measured window (the first, at start, is before any slave runs)
    heap = [(t, h) for t, h in rig.collected.heap if t >= base["t"] - rig.started]
    return {
        "slaves": n, "rtt_ms": spec.rtt_ms, "i2c_hz": spec.i2c_hz, "ready_line": spec.ready_line,
        "diff": DIFF, "hashrate": round(sum(b["hashrate"] for _, b in slaves) / n, 1),
        "duration_s": round(wall, 1), "shares": shares, "efficiency": round(efficiency, 4),
        "overhead_ms": overhead_ms, "overhead_p95_ms": overhead_p95,
        "busy_fraction": round(min((b["hash_s"] - a["hash_s"]) / wall for a, b in slaves), 4),
        "free_heap_min": min((h for _, h in heap), default=None),
        "free_heap_slope": slope(heap),
        "rejected": s1["rig"]["rejected"] - s0["rig"]["rejected"],
        "lost": s1["rig"]["lost"] - s0["rig"]["lost"],
        "heapsize": spec.heapsize,
    }


def slope(samples: list[tuple[float, int]]) -> float | None:
    """Least-squares slope of free heap, bytes per minute; None below 2 samples."""
    if len(samples) < 2:
        return None
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mh = sum(h for _, h in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    return round(60 * sum((t - mt) * (h - mh) for t, h in samples) / var, 1) if var else None


def line(f: dict[str, Any]) -> str:
    return (f"{f['slaves']:2d} slaves rtt {f['rtt_ms']:5.0f} ms ready {'on ' if f['ready_line'] else 'off'}: "
            f"eff {f['efficiency']:.3f}, overhead {f['overhead_ms']}/{f['overhead_p95_ms']} ms, "
            f"busy>={f['busy_fraction']:.2f}, heap min {f['free_heap_min']} slope {f['free_heap_slope']}, "
            f"{f['shares']} shares, {f['rejected']} rejected, {f['lost']} lost")
