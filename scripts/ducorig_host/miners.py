"""`ducorig miners USER`: the user's miners as the server sees them, grouped
by rig, with totals and flags for what needs attention (the successor of the
seed's jmin.py). Read from /v2/users/<user>, never /miners/<user>.

Exit codes: 0 shown, 1 nothing could be shown (API error, unknown user),
2 bad options or rig config."""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from ducorig_host.emulator.tiers import DEFAULT_TIERS, Tier, parse_tier
from ducorig_host.minerreport import (DEFAULT_MAX_WORKERS, DEFAULT_MIN_EFFICIENCY, DEFAULT_WORKER_MARGIN,
                                      SORT_KEYS, Limits, MinerLine, Report, RigConfig, Totals, build_report)
from ducorig_host.rest import ApiError, RestClient, UserNotFound, add_api_arguments, client_from_args
from ducorig_host.screen import Screen
from ducorig_host.termchart import clock_label

COLUMNS = ("software", "identifier", "thread", "H/s", "diff", "acc", "rej", "share s", "ki", "eff", "pool", "flags")
RIGHT_ALIGNED = {"H/s", "diff", "acc", "rej", "share s", "ki", "eff"}
SHORT_THREADID = 8


def number(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def miner_cells(line: MinerLine) -> list[str]:
    m = line.miner
    return [m.software, m.identifier, m.threadid[:SHORT_THREADID], number(m.hashrate, ".0f"), str(m.diff),
            str(m.accepted), str(m.rejected), number(m.sharetime, ".2f"), number(m.ki, "g"),
            number(m.efficiency, ".0%"), m.pool, "; ".join(line.flags)]


def format_table(header: tuple[str, ...], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        parts = [cell.rjust(width) if name in RIGHT_ALIGNED else cell.ljust(width)
                 for name, cell, width in zip(header, cells, widths)]
        return (indent + "  ".join(parts)).rstrip()

    return [line(header), *(line(row) for row in rows)]


def totals_text(totals: Totals) -> str:
    return (f"{totals.miners} miner(s), {totals.hashrate:.0f} H/s, {totals.accepted} accepted, "
            f"{totals.rejected} rejected, {totals.full_workers:.2f} full-worker equivalents")


def render_text(report: Report, limits: Limits, rig_filter: str | None) -> str:
    lines = [f"{report.user}: {report.online} miner(s) online (pool limit {limits.max_workers})"]
    lines += [f"  ! {flag}" for flag in report.flags]
    if not report.rigs:
        lines.append(f"no rig named {rig_filter!r} online" if rig_filter else "no miner online")
    for rig in report.rigs:
        lines += ["", f"rig {rig.label}: {totals_text(rig.totals)}"]
        lines += [f"  ! {flag}" for flag in rig.flags]
        lines += format_table(COLUMNS, [miner_cells(line) for line in rig.lines])
    if len(report.rigs) > 1:
        lines += ["", f"total: {totals_text(report.totals)}"]
    flagged = len(report.flags) + sum(len(rig.flags) + sum(bool(line.flags) for line in rig.lines)
                                      for rig in report.rigs)
    lines += ["", f"attention: {flagged} item(s) flagged" if flagged else "nothing needs attention"]
    return "\n".join(lines)


def finite_or_none(value: Any) -> Any:
    """Strict JSON has no Infinity or NaN (the live API sends them anyway)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite_or_none(item) for item in value]
    return value


def report_json(report: Report, limits: Limits, api: str, when: float) -> str:
    data = {
        "user": report.user, "api": api, "time": round(when, 3),
        "online": report.online, "max_workers": limits.max_workers, "flags": report.flags,
        "totals": asdict(report.totals),
        "rigs": [{"rig": rig.label, "wd": rig.wd, "identifiers": rig.identifiers, "flags": rig.flags,
                  "totals": asdict(rig.totals),
                  "miners": [{**asdict(line.miner), "efficiency": line.miner.efficiency, "flags": line.flags}
                             for line in rig.lines]}
                 for rig in report.rigs],
    }
    return json.dumps(finite_or_none(data), allow_nan=False)


# -- the command -------------------------------------------------------------------------
def tier_option(spec: str) -> Tier:
    try:
        return parse_tier(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    windows = ", ".join(f"{t.name} {t.diff} [{t.min_hashrate:g}, {t.max_hashrate:g})" for t in DEFAULT_TIERS)
    parser.add_argument("user", help="Duino-Coin username")
    parser.add_argument("--sort", choices=sorted(SORT_KEYS), default="identifier", metavar="KEY",
                        help=f"order of the miners within a rig: {', '.join(sorted(SORT_KEYS))} "
                             "(default %(default)s)")
    parser.add_argument("--reverse", action="store_true", help="sort in descending order")
    parser.add_argument("--rig", metavar="NAME", help="show only this rig (an identifier or a wallet id)")
    parser.add_argument("--config", metavar="RIG_JSON",
                        help='rig config (JSON with "rig": name, "slaves": [...], optional "wallet_id"): '
                             "flags a rig with more miners than slaves")
    parser.add_argument("--watch", action="store_true", help="redraw every --interval seconds until Ctrl-C")
    parser.add_argument("--count", type=int, metavar="N", help="with --watch: stop after N requests")
    parser.add_argument("--json", action="store_true", help="machine-readable output (one line per request)")
    add_api_arguments(parser, polling=True)
    parser.add_argument("--tier", action="append", type=tier_option, default=[], metavar="NAME:DIFF:MIN:MAX",
                        help=f"hashrate window of a difficulty (repeatable, replaces the defaults: {windows})")
    parser.add_argument("--min-efficiency", type=float, default=DEFAULT_MIN_EFFICIENCY, metavar="F",
                        help="flag a miner whose reward efficiency 0.96^(ki-1) is below F (default %(default)g)")
    parser.add_argument("--max-workers", type=int, default=DEFAULT_MAX_WORKERS, metavar="N",
                        help="the pool's worker limit (default %(default)d)")
    parser.add_argument("--worker-margin", type=int, default=DEFAULT_WORKER_MARGIN, metavar="N",
                        help="flag an account this close to the worker limit (default %(default)d)")


class MinersView:
    def __init__(self, args: argparse.Namespace, client: RestClient, limits: Limits,
                 rig_config: RigConfig | None, now: Callable[[], float] = time.time) -> None:
        self.args = args
        self.client = client
        self.limits = limits
        self.rig_config = rig_config
        self.now = now
        self.last_text: str | None = None
        self.last_time = 0.0

    def fetch(self) -> Report:
        snapshot = self.client.user(self.args.user)
        return build_report(snapshot, self.limits, self.rig_config, self.args.rig, self.args.sort, self.args.reverse)

    def output(self, report: Report) -> str:
        self.last_time = self.now()
        if self.args.json:
            return report_json(report, self.limits, self.client.base_url, self.last_time)
        self.last_text = render_text(report, self.limits, self.args.rig)
        return f"{self.last_text}\n(as of {clock_label(self.last_time)})"

    def stale(self, exc: ApiError) -> str:
        """The last table, honestly marked, when a request failed."""
        failed = f"STALE: the request at {clock_label(self.now())} failed: {exc}"
        if self.last_text is None:
            return failed
        return f"{self.last_text}\n{failed}\n       the table above is from {clock_label(self.last_time)}"


def run(args: argparse.Namespace) -> int:
    try:
        client = client_from_args(args)
        limits = Limits(tuple(args.tier) or DEFAULT_TIERS, args.min_efficiency, args.max_workers,
                        args.worker_margin)
        rig_config = RigConfig.load(Path(args.config)) if args.config else None
    except ValueError as exc:
        print(f"ducorig miners: {exc}", file=sys.stderr)
        return 2
    view = MinersView(args, client, limits, rig_config)
    if args.watch:
        return watch(view, Screen(), args.count)
    try:
        print(view.output(view.fetch()))
    except ApiError as exc:
        print(f"ducorig miners: {exc}", file=sys.stderr)
        return 1
    return 0


def watch(view: MinersView, screen: Screen, count: int | None = None) -> int:
    """Redraw (the client paces the requests); JSON mode prints one line per
    request and reports failures on stderr, so stdout stays JSON Lines."""
    requests, shown = 0, 0
    try:
        while count is None or requests < count:
            requests += 1
            try:
                report = view.fetch()
            except ApiError as exc:
                if view.args.json:
                    print(f"ducorig miners: {exc}", file=sys.stderr)
                else:
                    screen.show(view.stale(exc))
                if isinstance(exc, UserNotFound) and not shown:
                    return 1
                continue
            shown += 1
            if view.args.json:
                print(view.output(report), flush=True)
            else:
                screen.show(view.output(report))
    except KeyboardInterrupt:
        pass
    return 0
