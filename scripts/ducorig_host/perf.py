"""`ducorig perf USER`: the balance as the REST API reports it, its growth, the
income over 1, 10 and 60 minutes and a projected DUCO/day, live in the
terminal with a chart, optionally logged to CSV and plotted to a PNG (the
successor of the seed's jperf.py).

An API error never ends the live view: the last figures stay up, marked with
their age and the error. Exit codes: 0 ran (or --once printed a sample),
1 nothing could be shown (not one sample came this run, or the user does not
exist), 2 bad options (too short an interval for the public API, no
matplotlib for --png, a CSV or PNG path whose folder is missing)."""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Callable

from ducorig_host import perfcsv, perfplot
from ducorig_host.balancehistory import HOUR_S, BalanceHistory, Rate, Sample
from ducorig_host.cli import whole_number
from ducorig_host.rest import ApiError, RestClient, UserNotFound, add_api_arguments, client_from_args, no_answer
from ducorig_host.screen import Screen
from ducorig_host.termchart import clock_label, fit, format_duration, line_chart

WINDOWS_MIN = (1, 10, 60)
PROJECTION_WINDOW_S = HOUR_S
CHART_WIDTH = 60
CHART_HEIGHT = 6  # a frame with an error and a note still fits 80x24, the cursor's line included


def rate_text(rate: Rate | None) -> str:
    return "-" if rate is None else f"{rate.duco_per_hour:.4f}"


def rates_lines(history: BalanceHistory) -> list[str]:
    """DUCO/hour per window; a window longer than the history is measured
    over the history, which a second line says."""
    rates = {m: history.rate(m * 60) for m in WINDOWS_MIN}
    lines = ["DUCO/hour  " + "  ".join(f"{m} min: {rate_text(rate)}" for m, rate in rates.items())]
    partial = [(m, rate) for m, rate in rates.items() if rate is not None and not rate.full]
    if partial:
        names = [str(m) for m, _ in partial]
        which = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        lines.append(f"           ({which} min: over the {format_duration(partial[0][1].span_s)} so far)")
    return lines


def total_hashrate(hashrates: list[float]) -> float:
    return sum(h for h in hashrates if math.isfinite(h))


class PerfMonitor:
    """Polls, keeps the history, logs every sample, and renders the view."""

    def __init__(self, user: str, api: str, history: BalanceHistory, csv_path: Path | None = None,
                 png_path: Path | None = None, notes: list[str] | None = None,
                 now: Callable[[], float] = time.time, chart_minutes: float = 60.0) -> None:
        self.user = user
        self.api = api
        self.history = history
        self.csv_path = csv_path
        self.png_path = png_path
        self.notes = notes or []
        self.now = now
        self.chart_minutes = chart_minutes
        self.attempts = 0
        self.errors = 0
        self.samples_this_run = 0
        self.last_error: ApiError | None = None
        self.last_error_time = 0.0
        self.save_error: OSError | None = None

    @property
    def user_unknown(self) -> bool:
        """Nothing this run will show: the API says the user does not exist."""
        return isinstance(self.last_error, UserNotFound) and self.samples_this_run == 0

    def poll(self, client: RestClient) -> Sample | None:
        self.attempts += 1
        try:
            snapshot = client.user(self.user)
        except ApiError as exc:
            self.errors += 1
            self.last_error = exc
            self.last_error_time = self.now()
            return None
        sample = Sample(self.now(), snapshot.balance, len(snapshot.miners),
                        total_hashrate([m.hashrate for m in snapshot.miners]))
        self.samples_this_run += 1
        self.last_error = None
        if not self.history.add(sample):
            self.notes.append(f"the clock went back at {clock_label(sample.time)}: "
                              "that sample is logged but left out of the figures")
        self._save(sample)
        return sample

    def _save(self, sample: Sample) -> None:
        """A full disk or a locked file is shown, not fatal: the sample stays
        in memory and the next one is written normally."""
        self.save_error = None
        try:
            if self.csv_path is not None:
                perfcsv.append(self.csv_path, self.user, sample)
            if self.png_path is not None:
                perfplot.write_png(self.history, self.png_path, f"{self.user}: balance and income")
        except OSError as exc:
            self.save_error = exc

    # -- output -----------------------------------------------------------------------
    def render(self) -> str:
        lines = [f"ducorig perf: {self.user} at {self.api}"]
        last = self.history.last
        if last is None:
            lines.append("no sample yet")
        else:
            age = self.now() - last.time
            first = self.history.samples[0]
            transfers = self.history.transfers
            lines += [
                f"balance    {last.balance:.8f} DUCO at {clock_label(last.time)} ({format_duration(age)} ago)",
                f"mined      {self.history.mined_total:.8f} DUCO since {clock_label(first.time)} "
                f"({format_duration(self.history.span_s)})"
                + (f", {transfers} transfer(s) left out" if transfers else ""),
                *rates_lines(self.history),
                f"DUCO/day   {self._per_day_text()} (projected from the 60-min figure)",
                f"miners     {last.miners} online, {last.hashrate:.0f} H/s server-side",
                "",
                *line_chart(self._chart_points(), CHART_WIDTH, CHART_HEIGHT),
            ]
        lines.append("")
        if self.last_error is not None:
            lines += fit(f"STALE: the request at {clock_label(self.last_error_time)} failed: {self.last_error}")
            if last is not None:
                lines.append(f"  the figures above are {format_duration(self.now() - last.time)} old")
        if self.save_error is not None:
            lines += fit(f"NOT SAVED: the last sample could not be written: {self.save_error}")
        logged = f", CSV {self.csv_path}" if self.csv_path else ""
        lines += fit(f"{self.samples_this_run} sample(s) this run, {len(self.history.samples)} in all{logged}; "
                     f"{self.errors} error(s)")
        lines += [line for note in self.notes for line in fit(f"note: {note}")]
        return "\n".join(lines)

    def _per_day_text(self) -> str:
        rate = self.history.rate(PROJECTION_WINDOW_S)
        return "-" if rate is None else f"{rate.duco_per_day:.2f}"

    def _chart_points(self) -> list[tuple[float, float]]:
        samples = self.history.samples
        if self.chart_minutes > 0:
            since = samples[-1].time - self.chart_minutes * 60
            samples = [s for s in samples if s.time >= since]
        return [(s.time, s.balance) for s in samples]

    def once_line(self, sample: Sample) -> str:
        """A sample and the figures as key=value pairs: easy to grep from a cron log."""
        fields = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sample.time)),
            "user": self.user,
            "balance": f"{sample.balance:.8f}",
            "mined": f"{self.history.mined_total:.8f}",
            **{f"per_hour_{m}m": rate_text(self.history.rate(m * 60)) for m in WINDOWS_MIN},
            "per_day": self._per_day_text(),
            "miners": str(sample.miners),
            "hashrate": f"{sample.hashrate:.1f}",
        }
        return " ".join(f"{key}={value}" for key, value in fields.items())



# -- the command -------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user", help="Duino-Coin username")
    add_api_arguments(parser, polling=True)
    parser.add_argument("--csv", metavar="FILE", help="append every sample to FILE and resume from it")
    parser.add_argument("--png", metavar="FILE", help="keep a plot of balance and DUCO/day in FILE "
                                                      f"(needs matplotlib: {perfplot.INSTALL_COMMAND})")
    parser.add_argument("--once", action="store_true", help="print one sample and exit (for cron)")
    parser.add_argument("--count", type=whole_number(1), metavar="N",
                        help="stop after N requests (default: until Ctrl-C)")
    parser.add_argument("--chart-minutes", type=float, default=60.0, metavar="M",
                        help="time span of the terminal chart (default %(default)g; 0: everything)")


def check_folder(path: Path) -> Path:
    """A file to write: its folder must exist and be writable, checked
    before the first request rather than found out at the first sample."""
    if not path.parent.is_dir():
        raise ValueError(f"{path}: the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"{path}: the folder {path.parent} is not writable")
    return path


def open_log(path: Path, user: str, history: BalanceHistory) -> tuple[Path, list[str]]:
    """Pick the CSV file and load its samples of `user` into `history`."""
    check_folder(path)
    choice = perfcsv.choose_log(path)
    loaded = perfcsv.load(choice.path, user)
    notes = [choice.note] if choice.note else []
    resumed = sum(history.add(sample) for sample in loaded.samples)
    if resumed:
        notes.append(f"resumed {resumed} sample(s) of {user} from {choice.path}")
    if loaded.skipped:
        notes.append(f"{loaded.skipped} unreadable row(s) in {choice.path} skipped (kept in the file)")
    return choice.path, notes


def run(args: argparse.Namespace) -> int:
    try:
        client = client_from_args(args)
        png_path = check_folder(Path(args.png)) if args.png else None
        if png_path:
            perfplot.pyplot()
        history = BalanceHistory()
        csv_path, notes = open_log(Path(args.csv), args.user, history) if args.csv else (None, [])
    except (ValueError, OSError, perfplot.PlotUnavailable) as exc:
        print(f"ducorig perf: {exc}", file=sys.stderr)
        return 2
    monitor = PerfMonitor(args.user, client.base_url, history, csv_path, png_path, notes,
                          chart_minutes=args.chart_minutes)
    if args.once:
        return once(monitor, client)
    return watch(monitor, client, Screen(), args.count)


def once(monitor: PerfMonitor, client: RestClient) -> int:
    for note in monitor.notes:
        print(f"note: {note}", file=sys.stderr)
    sample = monitor.poll(client)
    if sample is None:
        print(f"ducorig perf: {monitor.last_error}", file=sys.stderr)
        return 1
    print(monitor.once_line(sample))
    if monitor.save_error is not None:
        print(f"ducorig perf: the sample could not be written: {monitor.save_error}", file=sys.stderr)
    return 0


def watch(monitor: PerfMonitor, client: RestClient, screen: Screen, count: int | None = None) -> int:
    """Poll (the client paces the requests) and redraw until Ctrl-C or
    `count`; 1 if not one sample came this run, saying why."""
    try:
        while count is None or monitor.attempts < count:
            monitor.poll(client)
            if monitor.user_unknown:
                break
            screen.show(monitor.render())
    except KeyboardInterrupt:
        print(f"stopped after {monitor.samples_this_run} sample(s)")
    if monitor.samples_this_run == 0:
        print(f"ducorig perf: {no_answer(monitor.attempts, monitor.last_error)}", file=sys.stderr)
        return 1
    return 0
