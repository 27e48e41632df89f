"""A small ASCII line chart for a terminal (ASCII only, so any console code
page can print it): time on x, one value on y, drawn as steps because the
balance changes in steps."""
from __future__ import annotations

import textwrap
import time
from typing import Callable, Sequence

Point = tuple[float, float]  # (unix time, value)


def clock_label(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def fit(text: str, indent: str = "", width: int = 79) -> list[str]:
    """Text in lines of at most `width` columns (an 80-column terminal wraps
    the 80th), `indent` first and two more spaces on the lines that follow."""
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False) or [indent]


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def step_columns(points: Sequence[Point], width: int) -> list[float]:
    """The value at the end of each of `width` equal time slices; a slice
    without a sample keeps the value before it."""
    t0, t1 = points[0][0], points[-1][0]
    columns: list[float | None] = [None] * width
    for t, value in points:
        columns[min(width - 1, int((t - t0) / (t1 - t0) * width))] = value
    filled: list[float] = []
    for value in columns:
        filled.append(value if value is not None else filled[-1])
    return filled


def line_chart(points: Sequence[Point], width: int = 60, height: int = 8,
               value_label: Callable[[float], str] = "{:.4f}".format,
               time_label: Callable[[float], str] = clock_label) -> list[str]:
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        return ["(the chart starts with the second sample)"]
    columns = step_columns(points, width)
    low, high = min(columns), max(columns)
    span = (high - low) or 1.0  # a flat line sits on the bottom row
    rows = [round((value - low) / span * (height - 1)) for value in columns]
    grid = [[" "] * width for _ in range(height)]
    previous = rows[0]
    for x, row in enumerate(rows):
        for between in range(min(previous, row) + 1, max(previous, row)):
            grid[between][x] = "|"  # the riser of a step
        grid[row][x] = "*"
        previous = row
    top, bottom = value_label(high), value_label(low)
    margin = max(len(top), len(bottom))
    lines = []
    for index in range(height - 1, -1, -1):
        label = top if index == height - 1 else bottom if index == 0 else ""
        lines.append(f"{label:>{margin}} |{''.join(grid[index])}")
    lines.append(" " * margin + " +" + "-" * width)
    start, end = time_label(points[0][0]), time_label(points[-1][0])
    lines.append(" " * (margin + 2) + start + end.rjust(width - len(start)))
    return lines
