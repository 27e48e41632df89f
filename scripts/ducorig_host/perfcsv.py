"""The CSV log of `ducorig perf`: one row per sample, only ever appended.

A file that exists with another header (an older format, another tool's log)
is never touched: the samples go to FILE.N.csv instead, the first N whose file
is new or has our header, so the next run resumes there too."""
from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path

from ducorig_host.balancehistory import Sample

HEADER = ("unix_time", "utc_time", "user", "balance", "miners", "hashrate")
HEADER_LINE = ",".join(HEADER)
MAX_ALTERNATIVES = 1000


@dataclass(frozen=True)
class LogChoice:
    path: Path
    note: str | None  # why it is not the file asked for


@dataclass(frozen=True)
class LoadedLog:
    samples: list[Sample]
    skipped: int  # rows of this user that could not be read


def first_line(path: Path) -> str | None:
    """The first line, or None for a missing or empty file."""
    try:
        with path.open("r", encoding="utf-8", errors="replace", newline="") as f:
            line = f.readline()
    except FileNotFoundError:
        return None
    return line.rstrip("\r\n") if line else None


def alternative_path(path: Path, n: int) -> Path:
    """perf.csv -> perf.N.csv (FILE.N.csv)."""
    stem = path.name[:-4] if path.suffix.lower() == ".csv" else path.name
    return path.with_name(f"{stem}.{n}.csv")


def choose_log(path: Path) -> LogChoice:
    if first_line(path) in (None, HEADER_LINE):
        return LogChoice(path, None)
    for n in range(1, MAX_ALTERNATIVES + 1):
        candidate = alternative_path(path, n)
        if first_line(candidate) in (None, HEADER_LINE):
            return LogChoice(candidate, f"{path} has another header (an older format?); it is left as it is "
                                        f"and the samples go to {candidate}")
    raise ValueError(f"{path}: none of {path}.1 ... .{MAX_ALTERNATIVES} is usable")


def parse_row(row: list[str]) -> Sample:
    """ValueError for a row that is not a whole sample (e.g. cut by a crash)."""
    if len(row) != len(HEADER):
        raise ValueError(f"{len(row)} fields")
    sample = Sample(float(row[0]), float(row[3]), int(row[4]), float(row[5]))
    if not (math.isfinite(sample.time) and math.isfinite(sample.balance)):
        raise ValueError("time or balance not finite")
    return sample


def load(path: Path, user: str) -> LoadedLog:
    """The samples of `user` in a log with our header (rows of other users are
    theirs, not errors)."""
    samples, skipped = [], 0
    try:
        f = path.open("r", encoding="utf-8", errors="replace", newline="")
    except FileNotFoundError:
        return LoadedLog([], 0)
    with f:
        rows = csv.reader(f)
        next(rows, None)  # the header, checked by choose_log
        for row in rows:
            if len(row) > 2 and row[2] != user:
                continue
            try:
                samples.append(parse_row(row))
            except ValueError:
                skipped += 1
    return LoadedLog(samples, skipped)


def format_row(user: str, sample: Sample) -> list[str]:
    return [f"{sample.time:.3f}", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sample.time)), user,
            repr(sample.balance), str(sample.miners), f"{sample.hashrate:.2f}"]


def csv_line(fields: list[str] | tuple[str, ...]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(fields)  # quotes a field with a comma in it
    return buffer.getvalue().encode()


def append(path: Path, user: str, sample: Sample) -> None:
    """One row, written in one call; the header first in a new file; a line
    end first when a crash left the last row without one."""
    with path.open("a+b") as f:
        size = f.seek(0, 2)
        prefix = b""
        if size == 0:
            prefix = csv_line(HEADER)
        else:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                prefix = b"\r\n"
        f.write(prefix + csv_line(format_row(user, sample)))
