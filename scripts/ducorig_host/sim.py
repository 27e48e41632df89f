"""`ducorig sim`: the simulated rig with a live dashboard.

The controller (lib/ducorig as .mpy) runs on the MicroPython unix port with an
ESP8266-like heap, drives virtual Pro Minis on the simulated I2C bus and mines
against the local pool emulator. Its output goes to <workdir>/rig.log, or with
--console to this terminal (then the dashboard prints only the summary).
What the controller would cost an ESP8266 is `ducorig bench chip`'s business:
the dashboard shows what the rig does, not what a chip would pay for it."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ducorig_host import esp8266
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
    code = rig.stop()
    print(summary(rig))
    if code not in (0, None):
        print(f"the controller exited with {code}; see {workdir / 'rig.log'}")
        return 1
    return 0


def plain_lines(rig: SimRig, deadline: float, quiet: bool) -> None:
    while time.monotonic() < deadline and rig.alive():
        time.sleep(min(10.0, max(0.0, deadline - time.monotonic())))
        snapshot = rig.collected.latest
        if snapshot and not quiet:
            print(rig_line(snapshot))


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
    return Group(table, rig_line(snapshot))


def rig_line(snapshot: dict[str, Any]) -> str:
    r = snapshot["rig"]
    heap = r["free_heap"] if r["free_heap"] is not None else "?"
    return (f"{r['elapsed_s']:.0f} s: {r['accepted']} accepted, {r['rejected']} rejected, {r['lost']} lost, "
            f"{r['shares_per_s']:.2f} shares/s, overhead p50/p95 {r['overhead_ms'][0]}/{r['overhead_ms'][1]} ms, "
            f"free heap {heap} B")


def summary(rig: SimRig) -> str:
    snapshot = rig.collected.latest
    if snapshot is None:
        return "summary: the controller never reported (see its log)"
    traffic = rig.bus.bus.traffic()  # the bus server's count: the controller pays nothing for it
    wire_s = esp8266.wire_ms(traffic.half_periods, traffic.stretch_us, rig.spec.i2c_hz) / 1000
    return (f"summary: {rig_line(snapshot)}\n  bus {traffic.transfers} transfers, {wire_s:.2f} s on the wire; "
            f"what an ESP8266 would pay: ducorig bench chip")
