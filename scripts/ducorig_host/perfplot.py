"""The PNG of `ducorig perf --png`: balance and projected DUCO/day over time.
matplotlib is an optional extra (`pip install 'ducorig[plot]'`); everything
else in the host tools is standard library."""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from ducorig_host.balancehistory import HOUR_S, BalanceHistory

INSTALL_COMMAND = "pip install 'ducorig[plot]'"
INSTALL_HINT = f"the PNG needs matplotlib: {INSTALL_COMMAND} (or: pip install matplotlib)"
RATE_WINDOW_S = HOUR_S   # the same 60-minute figure the live view projects from
RATE_MIN_SPAN_S = 60.0   # rates over less than a minute are all noise


class PlotUnavailable(Exception):
    pass


def pyplot() -> ModuleType:
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable(INSTALL_HINT) from None
    matplotlib.use("Agg")  # files only: no display needed (cron, a headless Pi)
    import matplotlib.pyplot as plt
    return plt


def date_axis(axes: Any) -> None:
    """Short time labels that name the day only where it changes."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def write_png(history: BalanceHistory, path: Path, title: str) -> None:
    """Write atomically (a viewer or a web server never sees half a file)."""
    plt = pyplot()
    times = [datetime.fromtimestamp(t) for t in history.times]
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 4.5), dpi=80)
    try:
        top.step(times, [s.balance for s in history.samples], where="post", color="tab:blue")
        top.set_ylabel("balance, DUCO")
        top.set_title(title)
        top.ticklabel_format(axis="y", useOffset=False)
        rates = history.rate_series(RATE_WINDOW_S, RATE_MIN_SPAN_S)
        bottom.plot([datetime.fromtimestamp(t) for t, _ in rates], [r for _, r in rates], color="tab:green")
        bottom.set_ylabel("DUCO/day\n(60-min rate)")
        bottom.set_ylim(bottom=0)
        for axes in (top, bottom):
            axes.grid(True, alpha=0.3)
        date_axis(bottom)
        figure.tight_layout()
        partial = path.with_name(path.name + ".part")
        figure.savefig(partial, format="png")
        os.replace(partial, path)
    finally:
        plt.close(figure)
