"""What `ducorig sim` shows: the controller's last report as text.

The dashboard fits 80x24 with 20 slaves: a title line (time left, how to
stop, the keys), one row per slave (name, state, H/s, accepted, rejected,
busy %, last BAD), a totals row and a line of rig figures. The timings view
(key t) shows each slave's mean phase times and polls instead; --wide shows
both side by side. Columns are as wide as their widest cell, so nothing is
cut; only the last BAD gives way, a whole word at a time. The summary after
a run repeats the figures of the same report."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ducorig_host import esp8266
from ducorig_host.simrig import Report

WIDTH = 80
MINING = ("hash", "submit")  # the states in which a slave has a hash rate to show
PHASES = ("job", "i2c", "hash", "submit")
# The keys that work in each view: t swaps the two 80-column views.
KEYS = {"slaves": "q or Ctrl-C: stop, t: timings", "timings": "q or Ctrl-C: stop, t: slaves",
        "wide": "q or Ctrl-C: stop"}

Slave = dict[str, Any]


@dataclass(frozen=True)
class Column:
    title: str
    cell: Callable[[Slave], str]
    total: Callable[[list[Slave]], str]
    left: bool = False  # text aligns left, numbers right
    width: int = 0  # at least: room for the counts to grow without moving the columns


def _rate(s: Slave) -> float:
    return s["hashrate"] if s["state"] in MINING else 0.0


def _rejected(s: Slave) -> int:
    return sum(s["rejected"].values())


def _lost(s: Slave) -> int:
    return sum(s["lost"].values())


def _phase(name: str) -> Column:
    """Mean ms of one phase; the total is the mean over every share."""
    def total(slaves: list[Slave]) -> str:
        count = sum(s["phases"][name][0] for s in slaves)
        spent = sum(s["phases"][name][0] * s["phases"][name][1] for s in slaves)
        return f"{spent / max(1, count):.0f}"
    return Column(f"{name} ms", lambda s: f"{s['phases'][name][1]:.0f}", total)


STATE = Column("state", lambda s: s["state"],
               lambda ss: f"{sum(s['state'] in MINING for s in ss)} mining", left=True)
COUNTS = [
    Column("H/s", lambda s: f"{_rate(s):.0f}" if s["state"] in MINING else "-",
           lambda ss: f"{sum(map(_rate, ss)):.0f}"),
    Column("acc", lambda s: str(s["accepted"]), lambda ss: str(sum(s["accepted"] for s in ss)), width=5),
    Column("rej", lambda s: str(_rejected(s)), lambda ss: str(sum(map(_rejected, ss))), width=4),
    Column("busy", lambda s: f"{s['busy']:.0%}", lambda ss: f"{sum(s['busy'] for s in ss) / len(ss):.0%}"),
]
TIMINGS = [
    Column("addr", lambda s: f"0x{s['address']:02x}", lambda ss: ""),
    Column("protocol", lambda s: s["protocol"] or "-", lambda ss: "", left=True),
    *map(_phase, PHASES),
    Column("polls/share", lambda s: f"{s['polls'] / max(1, s['accepted']):.1f}",
           lambda ss: f"{sum(s['polls'] for s in ss) / max(1, sum(s['accepted'] for s in ss)):.1f}"),
    Column("lost", lambda s: str(_lost(s)), lambda ss: str(sum(map(_lost, ss)))),
]
NAME = Column("slave", lambda s: s["name"], lambda ss: "all", left=True)
COLUMNS = {"slaves": [NAME, STATE, *COUNTS], "timings": [NAME, *TIMINGS], "wide": [NAME, STATE, *COUNTS, *TIMINGS]}


@dataclass(frozen=True)
class Figures:
    """The rig's figures in one report: the dashboard's totals and footer,
    and the summary, all read from here."""
    elapsed_s: float
    accepted: int
    rejected: int
    lost: int
    shares_per_s: float
    overhead_ms: tuple[int | None, int | None]  # p50, p95
    free_heap: int | None
    transfers: int
    bus_failures: int
    wire_s: float
    cpu: float | None  # the controller's share of one host core

    @classmethod
    def of(cls, report: Report, i2c_hz: int) -> Figures:
        r = report.snapshot["rig"]
        t = report.traffic
        cpu = None if report.cpu_s is None else report.cpu_s / max(report.uptime_s, 1e-3)
        return cls(r["elapsed_s"], r["accepted"], r["rejected"], r["lost"], r["shares_per_s"],
                   tuple(r["overhead_ms"]), r["free_heap"], t.transfers, r.get("bus_failures", 0),
                   esp8266.wire_ms(t.half_periods, t.stretch_us, i2c_hz) / 1000, cpu)

    def heap(self) -> str:
        return "?" if self.free_heap is None else f"{self.free_heap} B"

    def overhead(self) -> str:
        p50, p95 = ("?" if v is None else v for v in self.overhead_ms)
        return f"overhead p50/p95 {p50}/{p95} ms"

    def cpu_text(self) -> str:
        return "?" if self.cpu is None else f"{self.cpu:.0%}"

    def footer(self) -> str:
        """One line of rig figures under the table."""
        return (f"{self.overhead()}, heap {self.heap()}, bus {self.transfers} xfers "
                f"{self.wire_s:.1f} s, CPU {self.cpu_text()}")

    def summary(self) -> list[str]:
        return [
            f"summary: the controller's last report, {clock(self.elapsed_s)} into the run",
            f"  shares    {self.accepted} accepted, {self.rejected} rejected, {self.lost} lost, "
            f"{self.shares_per_s:.2f} shares/s",
            f"  timing    {self.overhead()} a share",
            f"  memory    free heap {self.heap()}",
            f"  bus       {self.transfers} transfers, {self.bus_failures} failed, {self.wire_s:.1f} s on the wire",
            f"  CPU       the controller took {self.cpu_text()} of one host core",
            "  what an ESP8266 would pay for it: ducorig bench chip",
        ]


def clock(seconds: float) -> str:
    """m:ss"""
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def shorten(text: str, width: int) -> str:
    """text in at most width columns, dropping whole words from the end."""
    words = text.split()
    while words and len(" ".join(words)) > width:
        words.pop()
    return " ".join(words)


def title(view: str, left_s: float, total_s: float, slaves: int) -> str:
    return f"ducorig sim: {slaves} slaves, {clock(left_s)} left of {clock(total_s)}. {KEYS[view]}"


def table(slaves: list[Slave], view: str, totals_note: str) -> list[str]:
    """Header, one row per slave and a totals row. The last BAD column and
    totals_note under it (not in the timings view, which has no room for
    them) get what 80 columns leave."""
    columns = COLUMNS[view]
    grid = [[c.title for c in columns], *([c.cell(s) for c in columns] for s in slaves),
            [c.total(slaves) for c in columns]]
    widths = [max(c.width, *(len(row[i]) for row in grid)) for i, c in enumerate(columns)]
    lines = [" ".join(cell.ljust(w) if c.left else cell.rjust(w) for c, cell, w in zip(columns, row, widths))
             for row in grid]
    if view == "timings":
        return lines
    room = max(WIDTH - len(lines[0]) - 1, len("last BAD"))
    bads = ["last BAD", *(s["last_bad"] or "" for s in slaves), totals_note]
    if view == "wide":
        room = max(map(len, bads))
    return [f"{line} {shorten(bad, room)}".rstrip() for line, bad in zip(lines, bads)]


@dataclass
class Dashboard:
    """One run's dashboard: its size, length and view; info: where to reach
    the rig, shown under the table when the terminal has room."""
    slaves: int
    total_s: float
    i2c_hz: int
    view: str = "slaves"
    info: Sequence[str] = ()

    def toggle(self) -> None:
        """The t key: swap the slaves and timings views (wide has both)."""
        if self.view != "wide":
            self.view = "timings" if self.view == "slaves" else "slaves"

    def frame(self, report: Report | None, left_s: float, waiting_s: float, rows: int) -> list[str]:
        """The dashboard in at most rows lines."""
        head = title(self.view, left_s, self.total_s, self.slaves)
        if report is None:
            return [head, f"waiting for the controller's first report ({waiting_s:.0f} s)", *self.info][:rows]
        figures = Figures.of(report, self.i2c_hz)
        slaves = report.snapshot["slaves"]
        body = table(slaves, self.view, f"{figures.shares_per_s:.2f} shares/s, {figures.lost} lost")
        fixed = 4  # title, header, totals, footer
        if fixed + len(slaves) > rows:  # a short terminal: the first slaves and how many more
            shown = max(0, rows - fixed - 1)
            body = [*body[:1 + shown], f"... {len(slaves) - shown} more slaves: a taller terminal shows them",
                    body[-1]]
        lines = [head, *body, figures.footer()]
        return [*lines, *self.info] if len(lines) + len(self.info) <= rows else lines
