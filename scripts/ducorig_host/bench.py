"""`ducorig bench NAME`: benchmarks that print figures (with --json), not tests.

Every bench module has `add_arguments`, `run` and `estimate_s(args)`, its
run time in seconds for those arguments: the help shows it for the defaults,
and the progress lines on stderr count down from it."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import textwrap
import time

from ducorig_host.cli import dispatch
from ducorig_host.termchart import format_duration

WIDTH = 79
BENCHES: dict[str, tuple[str, str]] = {
    "pool": ("ducorig_host.poolbench", "the pool emulator's per-share latency on loopback"),
    "cycle": ("ducorig_host.cyclebench", "the simulated rig's share cycle: efficiency, overhead, heap"),
    "chip": ("ducorig_host.chipbench", "the controller's cost on an ESP8266: instructions, allocations, "
                                       "wire time and load per share (callgrind)"),
    "avr": ("ducorig_host.avrbench", "the Pro Mini DUCO-S1 core in simavr: cycles per hash, H/s, flash, RAM"),
    "faults": ("ducorig_host.faultbench", "what the simulated rig survives: each fault injected while the other "
                                          "slaves mine, when it was noticed, when mining recovered, shares lost"),
    "soak": ("ducorig_host.soak", "the simulated rig for hours with faults at random: shares per hour, rejects "
                                  "matched to their faults, losses, reconnects, free heap over time"),
}


def default_run_time(module_name: str) -> str:
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.DEFAULT_RUN.format(time=format_duration(module.estimate_s(parser.parse_args([]))))


def overview() -> str:
    """What each bench measures and how long it runs with its defaults."""
    lines = ["benchmarks (`ducorig bench NAME --help` for the options of one):", ""]
    for name, (module_name, what) in BENCHES.items():
        lines += textwrap.wrap(what, WIDTH, initial_indent=f"  {name:7}", subsequent_indent=" " * 9)
        lines += textwrap.wrap(f"default: about {default_run_time(module_name)}", WIDTH,
                               initial_indent=" " * 9, subsequent_indent=" " * 11)
    return "\n".join(lines + ["", "Progress goes to stderr, the figures to stdout."])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = overview()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("bench", nargs=argparse.REMAINDER, metavar="NAME ...",
                        help=f"the bench ({', '.join(BENCHES)}) and its options")


def run(args: argparse.Namespace) -> int:
    if not args.bench:
        print(overview())
        return 0
    return dispatch("ducorig bench", BENCHES, args.bench)


def print_figures(figures: dict[str, object], as_json: bool) -> None:
    """One JSON object, or one aligned `key: value` line per figure."""
    if as_json:
        print(json.dumps(figures, sort_keys=True))
        return
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:>{width}}: {value}")


class Progress:
    """`bench NAME: configuration i of n (what), about T left` on stderr, so
    stdout keeps only the figures. The time left comes from the estimate
    until a step has finished, then from the steps' measured mean."""

    def __init__(self, name: str, total: int, step_estimate_s: float, unit: str = "configuration",
                 at_most: bool = False) -> None:
        self.name = name
        self.total = total
        self.of = f"of at most {total}" if at_most else f"of {total}"
        self.step_estimate_s = step_estimate_s
        self.unit = unit
        self.steps = 0
        self.started = time.monotonic()

    def step(self, what: str) -> None:
        finished = self.steps
        per_step = (time.monotonic() - self.started) / finished if finished else self.step_estimate_s
        self.steps += 1
        left = format_duration(per_step * (self.total - finished))
        self.say(f"{self.unit} {self.steps} {self.of} ({what}), about {left} left")

    def done(self) -> None:
        self.say(f"done in {format_duration(time.monotonic() - self.started)}")

    def say(self, text: str) -> None:
        print(f"bench {self.name}: {text}", file=sys.stderr, flush=True)
