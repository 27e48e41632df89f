"""Show a block of text that replaces the previous one on a terminal, or is
appended after it when the output is a file or a pipe (a log then keeps every
frame). Plain ANSI escapes: no curses, so it runs on Windows too."""
from __future__ import annotations

import os
import sys
from typing import TextIO

HOME = "\x1b[H"  # cursor to the top left
ERASE_LINE = "\x1b[2K"
ERASE_BELOW = "\x1b[J"


class Screen:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self._on_last_row = False  # the last frame filled the terminal (see show)
        if self.live and os.name == "nt":
            os.system("")  # makes the Windows console interpret ANSI escapes

    def rows(self) -> int:
        """The terminal's height (24 when it cannot be asked)."""
        try:
            return os.get_terminal_size(self.stream.fileno()).lines
        except (OSError, ValueError):
            return 24

    def show(self, text: str) -> None:
        """Draw text from the top left, each line over the old one. A frame
        as tall as the terminal leaves the cursor on its last line, since a
        newline there would scroll its first line away; close() moves on."""
        if not self.live:
            self.stream.write(text + "\n\n")
        else:
            lines = text.split("\n")
            self._on_last_row = len(lines) >= self.rows()
            tail = "" if self._on_last_row else "\n" + ERASE_BELOW
            self.stream.write(HOME + "\n".join(ERASE_LINE + line for line in lines) + tail)
        self.stream.flush()

    def close(self) -> None:
        """Leave the last frame where it is: what is printed next goes below it."""
        if self._on_last_row:
            self.stream.write("\n")
            self.stream.flush()
            self._on_last_row = False
