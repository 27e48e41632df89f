"""`ducorig sim`: the simulated rig with a live dashboard.

The controller (lib/ducorig as .mpy) runs on the MicroPython unix port with an
ESP8266-like heap, drives virtual Pro Minis on the simulated I2C bus and mines
against the local pool emulator. Its output goes to <workdir>/rig.log, or with
--console to this terminal (then the dashboard prints only the summary)."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ducorig_host import esp8266
from ducorig_host.hostcost import Usage
from ducorig_host.simrig import ESP8266_HEAPSIZE, HEAPSIZE, SimError, SimRig, SimSpec, parse_slaves

PHASES = ("job", "i2c", "hash", "submit")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--slaves", default="3", help="KIND:COUNT,... with KIND in ducorig, yaum (Python models of the two protocols) or avr (our sketch in simavr, at most 6); default 3 = ducorig:3")
    parser.add_argument("--rtt", type=float, default=50.0, help="pool round-trip time, ms (default 50)")
    parser.add_argument("--jitter", type=float, default=0.0, help="uniform jitter on the RTT, ms")
    parser.add_argument("--minutes", type=float, default=3.0, help="how long to mine (default 3)")
    parser.add_argument("--i2c-hz", type=int, default=100_000, help="I2C clock (default 100000)")
    parser.add_argument("--ready-line", action="store_true", help="poll only when the shared ready line says so")
    parser.add_argument("--console", action="store_true", help="give this terminal to the rig's console")
    parser.add_argument("--heap", default=HEAPSIZE,
                        help=f"MicroPython heap beside the ROMFS image (default {HEAPSIZE}; the ESP8266-like "
                             f"target is {ESP8266_HEAPSIZE})")
    parser.add_argument("--workdir", type=Path, help="where the .mpy files, config and log go (default: a temp dir)")


def run(args: argparse.Namespace) -> int:
    try:
        spec = SimSpec(parse_slaves(args.slaves), args.rtt, args.jitter, args.i2c_hz, args.ready_line,
                       heapsize=args.heap)
    except SimError as e:
        print(f"ducorig sim: {e}", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ducorig-sim-"))
    rig = SimRig(spec, workdir)
    rig.start(console=args.console)
    print(f"simulated rig: {len(spec.slaves)} slaves, pool 127.0.0.1:{rig.emulator.pool_port}, "
          f"REST http://127.0.0.1:{rig.emulator.http_port}, log {workdir / 'rig.log'}")
    deadline = time.monotonic() + args.minutes * 60
    try:
        if args.console or not sys.stdout.isatty():
            plain_lines(rig, deadline, quiet=args.console)
        else:
            live_dashboard(rig, deadline)
    except KeyboardInterrupt:
        pass
    usage = rig.usage() if rig.alive() else None
    code = rig.stop()
    print(summary(rig, usage))
    if code not in (0, None):
        print(f"the controller exited with {code}; see {workdir / 'rig.log'}")
        return 1
    return 0


def plain_lines(rig: SimRig, deadline: float, quiet: bool) -> None:
    while time.monotonic() < deadline and rig.alive():
        time.sleep(min(10.0, max(0.0, deadline - time.monotonic())))
        snapshot = rig.collected.latest
        if snapshot and not quiet:
            print(rig_line(rig, snapshot, rig.usage()))


def live_dashboard(rig: SimRig, deadline: float) -> None:
    from rich.live import Live

    with Live(render(rig), refresh_per_second=2) as live:
        while time.monotonic() < deadline and rig.alive():
            time.sleep(0.5)
            live.update(render(rig))


def render(rig: SimRig) -> Any:
    from rich.console import Group
    from rich.table import Table

    snapshot = rig.collected.latest
    table = Table(title="ducorig simulated rig", expand=False)
    for column in ("slave", "addr", "protocol", "state", "H/s", "acc", "rej", "lost", "busy",
                   "job ms", "i2c ms", "hash ms", "submit ms", "polls/share", "last BAD"):
        table.add_column(column, justify="right")
    if snapshot is None:
        return Group(table, "waiting for the controller's first report...")
    for s in snapshot["slaves"]:
        phases = s["phases"]
        table.add_row(
            s["name"], f"0x{s['address']:02x}", s["protocol"] or "-", s["state"], f"{s['hashrate']:.0f}",
            str(s["accepted"]), str(sum(s["rejected"].values())), str(sum(s["lost"].values())),
            f"{s['busy']:.0%}", *(f"{phases[p][1]:.0f}" for p in PHASES),
            f"{s['polls'] / max(1, s['accepted']):.1f}", s["last_bad"] or "")
    return Group(table, rig_line(rig, snapshot, rig.usage() if rig.alive() else None))


def rig_line(rig: SimRig, snapshot: dict[str, Any], usage: Usage | None) -> str:
    r = snapshot["rig"]
    heap = r["free_heap"] if r["free_heap"] is not None else "?"
    controller_s = rig.costs.controller_s(usage, r["sim_requests"]) if usage else 0.0
    load = esp8266.load(controller_s, r["wire_us"], r["elapsed_s"])
    return (f"{r['elapsed_s']:.0f} s: {r['accepted']} accepted, {r['rejected']} rejected, {r['lost']} lost, "
            f"{r['shares_per_s']:.2f} shares/s, overhead p50/p95 {r['overhead_ms'][0]}/{r['overhead_ms'][1]} ms, "
            f"free heap {heap} B, projected ESP8266 load {load:.0%}")


def summary(rig: SimRig, usage: Usage | None) -> str:
    snapshot = rig.collected.latest
    if snapshot is None:
        return "summary: the controller never reported (see its log)"
    r = snapshot["rig"]
    lines = ["summary: " + rig_line(rig, snapshot, usage)]
    if usage is not None and r["accepted"]:
        controller_s = rig.costs.controller_s(usage, r["sim_requests"])
        lines.append(f"  micropython CPU {usage.cpu_s:.2f} s, {usage.blocks} sleeps; less the host's cost of "
                     f"those ({rig.costs.block_us:.0f} us each) and of the simulated bus's round trips "
                     f"({rig.costs.sim_request_us:.0f} us each), controller "
                     f"{controller_s / r['accepted'] * 1e6:.0f} us per accepted share")
        lines.append(f"  bus {r['transfers']} transfers, {r['wire_us'] / 1e6:.2f} s on the wire")
    return "\n".join(lines)
