"""Show a block of text that replaces the previous one on a terminal, or is
appended after it when the output is a file or a pipe (a log then keeps every
frame). Plain ANSI escapes: no curses, so it runs on Windows too."""
from __future__ import annotations

import os
import sys
from typing import TextIO

CLEAR = "\x1b[H\x1b[2J"  # cursor home, erase the screen


class Screen:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        if self.live and os.name == "nt":
            os.system("")  # makes the Windows console interpret ANSI escapes

    def show(self, text: str) -> None:
        self.stream.write((CLEAR + text + "\n") if self.live else (text + "\n\n"))
        self.stream.flush()
