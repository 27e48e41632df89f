#!/usr/bin/env python3
"""Regenerate the sample dashboard in the README's quick start from a real
run: `ducorig sim --slaves 20` in a terminal of 80x24 (tmux), stopped with q
after --seconds of mining; the block is the last frame and the summary as
that terminal shows them.

    .venv/bin/python scripts/capture_dashboard.py [--seconds 60]

It rewrites the lines between the README's two `dashboard` markers."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ducorig_host.tmuxterm import TmuxTerminal

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN = "<!-- dashboard: scripts/capture_dashboard.py writes this block -->"
END = "<!-- /dashboard -->"
COMMAND = "ducorig sim --slaves 20"


def capture(seconds: float) -> list[str]:
    """The last frame and the summary of a run stopped after seconds."""
    ducorig = Path(sys.executable).with_name("ducorig")
    with TmuxTerminal(f"{ducorig} {COMMAND.removeprefix('ducorig ')}", ROOT) as term:
        term.wait(lambda s: s[0].startswith("ducorig sim:") and any("20 mining" in row for row in s),
                  "dashboard with 20 slaves mining", timeout_s=60)
        time.sleep(seconds)
        term.keys("q")
        code, _ = term.wait_exit(timeout_s=60)
        screen = term.screen(scrollback=term.rows)  # the last frame scrolled up by the summary
    if code != 0:
        raise SystemExit(f"capture_dashboard: {COMMAND} exited with {code}:\n" + "\n".join(screen))
    summary = next(i for i, line in enumerate(screen) if line.startswith("summary:"))
    title = max(i for i in range(summary) if screen[i].startswith("ducorig sim: 20 slaves,"))
    end = next(i for i, line in enumerate(screen) if line.startswith("EXIT="))
    return screen[title:end]


def rewrite(readme: Path, block: list[str]) -> None:
    text = readme.read_text()
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"capture_dashboard: {readme} lacks the markers {BEGIN} ... {END}")
    readme.write_text(head + begin + "\n```text\n$ " + COMMAND + "\n" + "\n".join(block) + "\n```\n" + end + tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="mining time before q (default 60)")
    parser.add_argument("--readme", type=Path, default=README, help="the file to rewrite (default README.md)")
    args = parser.parse_args()
    rewrite(args.readme, capture(args.seconds))


if __name__ == "__main__":
    main()
