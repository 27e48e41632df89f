"""A terminal of a given size, as a person would see it, driven through tmux:
run one command, type keys, read the screen. The dashboard's tests and the
README's capture (scripts/capture_dashboard.py) use it. Each terminal has a
tmux server of its own (-L), so it never touches the user's sessions."""
from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

EXIT = "EXIT="  # the line the command's exit code is printed on


class TmuxTerminal:
    def __init__(self, command: str, cwd: Path, columns: int = 80, rows: int = 24, linger_s: int = 60) -> None:
        """Start command in a new terminal; when it ends, the terminal shows
        its exit code and stays linger_s seconds to be read."""
        self.rows = rows
        self.socket = f"ducorig-{os.getpid()}-{id(self)}"
        self.tmux("new-session", "-d", "-x", str(columns), "-y", str(rows), "-s", "t",
                  f"cd {shlex.quote(str(cwd))} && {command}; echo {EXIT}$?; sleep {linger_s}")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True,
                              text=True).stdout

    def keys(self, *keys: str) -> None:
        """Type keys: tmux key names (C-c) or plain text."""
        self.tmux("send-keys", "-t", "t", *keys)

    def screen(self, scrollback: int = 0) -> list[str]:
        """The visible rows (and as many scrolled off above them), wrapped
        lines joined: a line too long for the terminal shows as one line."""
        text = self.tmux("capture-pane", "-p", "-J", "-S", str(-scrollback), "-t", "t")
        return text.split("\n")[:self.rows + scrollback]

    def wait(self, ready: Callable[[list[str]], bool], what: str, timeout_s: float) -> list[str]:
        """The screen once ready(screen) is true; AssertionError with the
        screen after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            screen = self.screen()
            if ready(screen):
                return screen
            time.sleep(0.3)
        raise AssertionError(f"no {what} on the screen:\n" + "\n".join(self.screen()))

    def wait_exit(self, timeout_s: float) -> tuple[int, list[str]]:
        """The command's exit code and the screen it left."""
        screen = self.wait(lambda s: any(line.startswith(EXIT) for line in s), "exit", timeout_s)
        return int(next(line for line in screen if line.startswith(EXIT))[len(EXIT):]), screen

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)

    def __enter__(self) -> TmuxTerminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
