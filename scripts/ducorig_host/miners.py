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

from ducorig_host.apimodels import Miner
from ducorig_host.cli import whole_number
from ducorig_host.emulator.tiers import DEFAULT_TIERS, Tier, parse_tier
from ducorig_host.minerreport import (DEFAULT_MAX_WORKERS, DEFAULT_MIN_EFFICIENCY, DEFAULT_WORKER_MARGIN,
                                      SORT_KEYS, Limits, MinerLine, Report, RigConfig, RigGroup, Totals,
                                      build_report)
from ducorig_host.rest import ApiError, RestClient, UserNotFound, add_api_arguments, client_from_args, no_answer
from ducorig_host.screen import Screen
from ducorig_host.termchart import clock_label, fit

NUMBERS = ("thread", "H/s", "diff", "acc", "rej", "share s", "ki", "eff")
LEFT_ALIGNED = {"DUCOID", "thread"}
SHORT_THREADID = 8
# Text fields said once per rig when all its miners share them, else under each row.
SHARED_FIELDS = ("software", "pool")
NO_DUCOID_NOTE = ("no DUCOID: this API does not list the miners' chip IDs (the emulator does), "
                  "so rows cannot be matched to slaves")


def number(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def miner_cells(line: MinerLine, with_ducoid: bool) -> list[str]:
    m = line.miner
    cells = [m.threadid[:SHORT_THREADID], number(m.hashrate, ".0f"), str(m.diff), str(m.accepted),
             str(m.rejected), number(m.sharetime, ".2f"), number(m.ki, "g"), number(m.efficiency, ".0%")]
    return [m.ducoid or "-", *cells] if with_ducoid else cells


def format_table(header: tuple[str, ...], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        parts = [cell.ljust(width) if name in LEFT_ALIGNED else cell.rjust(width)
                 for name, cell, width in zip(header, cells, widths)]
        return (indent + "  ".join(parts)).rstrip()

    return [line(header), *(line(row) for row in rows)]


def totals_text(totals: Totals) -> str:
    return (f"{totals.miners} miner(s), {totals.hashrate:.0f} H/s, {totals.accepted} accepted, "
            f"{totals.rejected} rejected, {totals.full_workers:.2f} full-worker equivalents")


def fields_text(miner: Miner, names: tuple[str, ...]) -> str:
    return ", ".join(f"{name} {getattr(miner, name) or '-'}" for name in names)


def rig_lines(rig: RigGroup, with_ducoid: bool) -> list[str]:
    """The rig's header, what its miners share, then one row per miner with,
    under it, its own software or pool where they differ, and its flags."""
    miners = [line.miner for line in rig.lines]
    shared = tuple(name for name in SHARED_FIELDS if len({getattr(m, name) for m in miners}) == 1)
    own = tuple(name for name in SHARED_FIELDS if name not in shared)
    lines = ["", *fit(f"rig {rig.label}", ""), *fit(totals_text(rig.totals), "  ")]
    if shared:
        lines += fit(fields_text(miners[0], shared), "  ")
    lines += [line for flag in rig.flags for line in fit(f"! {flag}", "  ")]
    header = (("DUCOID",) if with_ducoid else ()) + NUMBERS
    table = format_table(header, [miner_cells(line, with_ducoid) for line in rig.lines])
    lines.append(table[0])
    for row, line in zip(table[1:], rig.lines):
        lines.append(row)
        if own:
            lines += fit(fields_text(line.miner, own), "    ")
        lines += [text for flag in line.flags for text in fit(f"! {flag}", "    ")]
    return lines


def render_text(report: Report, limits: Limits, rig_filter: str | None) -> str:
    lines = [f"{report.user}: {report.online} miner(s) online (pool limit {limits.max_workers})"]
    lines += [line for flag in report.flags for line in fit(f"! {flag}", "  ")]
    if not report.rigs:
        lines.append(f"no rig named {rig_filter!r} online" if rig_filter else "no miner online")
    with_ducoid = any(line.miner.ducoid for rig in report.rigs for line in rig.lines)
    for rig in report.rigs:
        lines += rig_lines(rig, with_ducoid)
    if len(report.rigs) > 1:
        lines += ["", f"total of {len(report.rigs)} rigs", *fit(totals_text(report.totals), "  ")]
    if report.rigs and not with_ducoid:
        lines += ["", *fit(NO_DUCOID_NOTE, "")]
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
    parser.add_argument("-c", "--config", metavar="RIG_JSON",
                        help='rig config (JSON with "rig": name, "slaves": [...], optional "wallet_id"): '
                             "flags a rig with more miners than slaves")
    parser.add_argument("-w", "--watch", action="store_true", help="redraw every --interval seconds until Ctrl-C")
    parser.add_argument("--count", type=whole_number(1), metavar="N", help="with --watch: stop after N requests")
    parser.add_argument("-j", "--json", action="store_true", help="machine-readable output (one line per request)")
    add_api_arguments(parser, polling=True)
    parser.add_argument("--tier", action="append", type=tier_option, default=[], metavar="NAME:DIFF:MIN:MAX",
                        help=f"hashrate window of a difficulty (repeatable, replaces the defaults: {windows})")
    parser.add_argument("--min-efficiency", type=float, default=DEFAULT_MIN_EFFICIENCY, metavar="F",
                        help="flag a miner whose reward efficiency 0.96^(ki-1) is below F (default %(default)g)")
    parser.add_argument("--max-workers", type=whole_number(1), default=DEFAULT_MAX_WORKERS, metavar="N",
                        help="the pool's worker limit (default %(default)d)")
    parser.add_argument("--worker-margin", type=whole_number(0), default=DEFAULT_WORKER_MARGIN, metavar="N",
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
    request and reports failures on stderr, so stdout stays JSON Lines.
    1 if not one table came this run, saying why."""
    requests, shown = 0, 0
    failure: ApiError | None = None
    try:
        while count is None or requests < count:
            requests += 1
            try:
                report = view.fetch()
            except ApiError as exc:
                failure = exc
                if isinstance(exc, UserNotFound) and not shown:
                    break
                if view.args.json:
                    print(f"ducorig miners: {exc}", file=sys.stderr)
                else:
                    screen.show(view.stale(exc))
                continue
            shown += 1
            if view.args.json:
                print(view.output(report), flush=True)
            else:
                screen.show(view.output(report))
    except KeyboardInterrupt:
        pass
    if not shown:
        print(f"ducorig miners: {no_answer(requests, failure)}", file=sys.stderr)
        return 1
    return 0
