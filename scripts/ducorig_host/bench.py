"""`ducorig bench NAME`: benchmarks that print figures (with --json), not tests."""
from __future__ import annotations

import argparse
import json

from ducorig_host.cli import dispatch

BENCHES: dict[str, tuple[str, str]] = {
    "pool": ("ducorig_host.poolbench", "the pool emulator's per-share latency on loopback"),
    "cycle": ("ducorig_host.cyclebench", "the simulated rig's share cycle: efficiency, overhead, heap"),
    "chip": ("ducorig_host.chipbench", "the controller's cost on an ESP8266: instructions, allocations, "
                                       "wire time and load per share (callgrind)"),
    "avr": ("ducorig_host.avrbench", "the Pro Mini DUCO-S1 core in simavr: cycles per hash, H/s, flash, RAM"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bench", nargs=argparse.REMAINDER, help=", ".join(BENCHES))


def run(args: argparse.Namespace) -> int:
    return dispatch("ducorig bench", BENCHES, args.bench)


def print_figures(figures: dict[str, object], as_json: bool) -> None:
    """One JSON object, or one aligned `key: value` line per figure."""
    if as_json:
        print(json.dumps(figures, sort_keys=True))
        return
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:>{width}}: {value}")
