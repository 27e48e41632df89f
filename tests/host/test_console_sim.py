"""`ducorig sim --console` on a pseudo-terminal of 80x24, as a person types
into it: the terminal is the console's, raw and without flow control, and is
given back as it was when the run ends. Ctrl-S does not stop the rig (with
ixon it stopped every write to the terminal, and so the controller, one
process, for as long as output stayed stopped); a paste runs nothing. Shares
are counted in the pool emulator's books (its REST API), not on the screen;
timeouts are only safety nets."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import micropython_binary

ROOT = Path(__file__).resolve().parents[2]
SAFETY_S = 60
EVERY_KEY = b"?odspgcXS>bfzvCwRqm#"


class Terminal:
    """A pseudo-terminal of 80x24 running one command; what it printed."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.before = termios.tcgetattr(self.slave)
        self.text = ""
        self.changed = threading.Condition()
        self.p = subprocess.Popen(argv, stdin=self.slave, stdout=self.slave, stderr=self.slave, cwd=cwd,
                                  start_new_session=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            with self.changed:
                self.text += chunk.decode(errors="replace")
                self.changed.notify_all()

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, pattern: str, start: int = 0) -> re.Match[str]:
        """The first match of pattern printed after the first `start` characters."""
        with self.changed:
            found = self.changed.wait_for(lambda: re.search(pattern, self.text[start:]), SAFETY_S)
        assert found, f"no {pattern!r} on the terminal:\n{self.text[-2000:]}"
        return found

    def mode(self) -> list:
        return termios.tcgetattr(self.slave)

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        os.close(self.master)
        os.close(self.slave)


def accepted(api: str) -> int:
    """Accepted shares of the sim's user in the pool emulator's books."""
    with urllib.request.urlopen(api + "/_emulator/state", timeout=5) as r:
        return sum(c["accepted"] for c in json.load(r)["result"]["connections"])


def mines_on(api: str, shares: int) -> None:
    """Until the pool has booked `shares` more shares."""
    target = accepted(api) + shares
    deadline = time.monotonic() + SAFETY_S
    while accepted(api) < target:
        assert time.monotonic() < deadline, "the rig stopped mining"
        time.sleep(0.2)


@pytest.fixture
def terminal(tmp_path):
    if micropython_binary() is None:
        pytest.skip("micropython binary not found")
    term = Terminal([sys.executable, "-c", "import sys; from ducorig_host.cli import main; sys.exit(main())",
                     "sim", "--console", "--slaves", "3", "--minutes", "3", "--rtt", "5"], ROOT)
    yield term
    term.close()


def test_the_console_terminal_has_no_flow_control_and_a_paste_runs_nothing(terminal):
    api = terminal.wait(r"REST (http://127\.0\.0\.1:\d+)")[1]
    terminal.wait("console: \\? for help")
    iflag, oflag, _, lflag = terminal.mode()[:4]
    assert not iflag & termios.IXON and not lflag & (termios.ICANON | termios.ECHO | termios.ISIG)
    assert oflag & termios.OPOST  # \n still ends a line
    mines_on(api, 3)
    # Ctrl-S: a byte for the console, which says so; output and mining go on
    mark = len(terminal.text)
    terminal.type(b"\x13")
    terminal.wait("no flow control here", mark)
    terminal.type(b"o")  # output while "stopped": with ixon this write blocked the controller
    terminal.wait("mining, 0 held", mark)
    mines_on(api, 6)
    # a paste, every command letter in it: one line, nothing ran, the rig mines on
    mark = len(terminal.text)
    terminal.type(b"xyzjkQWE" + EVERY_KEY)
    terminal.wait(r"\? paste ignored \(28 bytes\), nothing ran: xyzjkQWE\?odspgcXS>bfzvCw\.\.\.", mark)
    mines_on(api, 6)
    terminal.type(b"o")
    rows = terminal.wait(r"> o\r\n(.*\r\n)*?mining, 0 held", mark)[0]
    assert "paused" not in rows and " 0    0 " not in rows  # nothing paused, nothing zeroed
    # typed one at a time, keys act: ? and q
    terminal.type(b"?")
    terminal.wait("a paste runs nothing", mark)
    terminal.type(b"q")
    terminal.wait("ducorig: stopped", mark)
    assert terminal.p.wait(SAFETY_S) == 0
    console = terminal.text[terminal.text.index("console: ? for help"):terminal.text.index("ducorig: stopped")]
    lines = console.replace("\r\n", "\n").split("\n")
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert terminal.mode() == terminal.before  # the terminal is given back as it was
