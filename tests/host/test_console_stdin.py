"""The console through the REAL stdin path: a small rig (three slaves of the
session rig bus) runs with the console on, in `micropython` and in CPython
alike; we write command bytes into its stdin pipe and read its stdout.

Keys are written as a person types them: one command (a number and its key)
per write, the next only once the console echoed the last (`> 1#`), since
bytes that arrive together are a paste, which runs nothing. Assertions are
on effects: accepted counts in the rig's own overview, the slave model's
status, the pool emulator's books (`/_emulator/state`); timeouts are only
safety nets."""
from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests import services
from tests.conftest import micropython_binary

ROOT = Path(__file__).resolve().parents[2]
SAFETY_S = 20
# An overview row: index, name, state, H/s, accepted (ducorig.commands.c_over)
ROW = re.compile(r"^\s*(\d+) (\S+)\s+(.+?)\s+(\S+)\s+(\d+)\s+\d+\s+\d+%\s+\d+%")
EVERY_KEY = b"?odspgcXS>bfzvCwRqm#"


@pytest.fixture(scope="module")
def env():
    services.start_all()
    lib = str(ROOT / "lib")
    return dict(os.environ, MICROPYPATH=os.pathsep.join([lib, ".frozen"]), PYTHONPATH=lib)


@pytest.fixture(params=["micropython", "cpython"])
def runtime(request):
    return request.param


def summary(line: str) -> bool:
    """The overview's last line (not "mining slave 1", the answer to g)."""
    return line.startswith(("mining,", "paused,", "stopped,"))


class Proc:
    """A running controller: type commands, wait for output."""

    def __init__(self, argv, env, cwd):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.lines: list[str] = []
        self.text = ""  # everything printed, also a line not ended yet (a raw line being typed)
        self.q: queue.Queue[str | None] = queue.Queue()
        self.changed = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        part = b""
        while chunk := os.read(self.p.stdout.fileno(), 4096):
            with self.changed:
                self.text += chunk.decode(errors="replace")
                self.changed.notify_all()
            part += chunk
            *done, part = part.split(b"\n")
            for raw in done:
                self.q.put(raw.decode(errors="replace").rstrip("\r"))
        self.q.put(None)

    def send(self, data: bytes):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def type(self, *commands: bytes):
        """Each command (a number and its key) once the console echoed the last."""
        for command in commands:
            self.send(command)
            self.wait_for(lambda l: l == "> " + command.decode(), f"echo of {command!r}")

    def wait_text(self, text: str, start: int):
        """Until text was printed after the first `start` characters."""
        with self.changed:
            assert self.changed.wait_for(lambda: text in self.text[start:], SAFETY_S), self.text[-500:]

    def wait_for(self, pred, what="") -> list[str]:
        """Lines until pred(line) is true; returns the lines read meanwhile."""
        got = []
        deadline = time.monotonic() + SAFETY_S
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"timeout waiting for {what}: {self.lines[-30:]}"
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            assert line is not None, f"process ended waiting for {what}: {self.lines[-30:]}"
            self.lines.append(line)
            got.append(line)
            if pred(line):
                return got

    def overview(self) -> dict[int, tuple[str, int]]:
        """Type `o`, return (state, accepted) per slave index shown."""
        self.type(b"o")
        rows = {}
        for line in self.wait_for(summary, "overview"):
            m = ROW.match(line)
            if m:
                rows[int(m[1])] = (m[3], int(m[5]))
        return rows

    def accepted(self) -> dict[int, int]:
        return {i: row[1] for i, row in self.overview().items()}

    def until(self, cond, what):
        """Overviews until cond(accepted counts) holds; returns those counts."""
        for _ in range(200):
            acc = self.accepted()
            if cond(acc):
                return acc
            time.sleep(0.1)
        raise AssertionError(f"{what}: {self.lines[-20:]}")

    def wait_held(self, workers: int) -> None:
        """Overviews until `workers` workers wait at the pause gate."""
        for _ in range(200):
            self.type(b"o")
            if f"{workers} held" in self.wait_for(summary, "held")[-1]:
                return
            time.sleep(0.1)
        raise AssertionError(self.lines[-10:])

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def pool_connections(user: str) -> list[dict]:
    """The user's open connections in the pool emulator's books."""
    with urllib.request.urlopen(os.environ["DUCORIG_REST"] + "/_emulator/state", timeout=5) as r:
        return [c for c in json.load(r)["result"]["connections"] if c["username"] == user]


def until_pool(cond, what):
    for _ in range(200):
        conns = cond()
        if conns:
            return conns
        time.sleep(0.1)
    raise AssertionError(what)


def config(tmp_path: Path, user: str, slaves=(8, 9, 10)) -> Path:
    host, port = os.environ["DUCORIG_POOL"].split(":")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "user": user, "pool": {"host": host, "port": int(port)}, "stagger_ms": 20,
        "i2c": {"sim": os.environ["DUCORIG_RIG_BUS"]},
        "slaves": [{"address": a, "name": f"s{a}"} for a in slaves]}))
    return path


def argv(runtime: str, code: str) -> list[str]:
    if runtime == "cpython":
        return [sys.executable, "-u", "-c", code]  # -u: each console line reaches the pipe at once
    mp = micropython_binary()
    if mp is None:
        pytest.skip("micropython binary not found")
    return [mp, "-X", "heapsize=512k", "-c", code]


def start(tmp_path, env, runtime, user):
    # After main() the process stays alive (as the REPL would) until stdin
    # closes: the pool's books then show what the stop closed, not the exit.
    code = (f"import sys\nfrom ducorig import rig\nrig.main({str(config(tmp_path, user))!r}, True)\n"
            "while sys.stdin.read(1):\n    pass\n")
    return Proc(argv(runtime, code), env, tmp_path)


def stopped(p: Proc, user: str) -> None:
    """After q or Ctrl-C: no connection of the user left in the pool's books
    while the process is still alive, then a clean exit once stdin closes."""
    p.wait_for(lambda l: l == "ducorig: stopped", "stopped")
    until_pool(lambda: not pool_connections(user), "connections closed")
    p.p.stdin.close()
    assert p.p.wait(SAFETY_S) == 0


def test_pause_one_slave_reset_quota_paste_and_ctrl_c(tmp_path, env, runtime):
    user = "console-stdin-" + runtime
    p = start(tmp_path, env, runtime, user)
    try:
        p.wait_for(lambda l: "? for help" in l, "banner")
        # a command while the rig is still starting: answered, not fatal
        p.type(b"0#", b"S")
        p.wait_for(lambda l: l.startswith(("0 s8: ", "? 0 s8:")), "early status")
        p.type(b"#", b"?")
        help_lines = p.wait_for(lambda l: "Ctrl-C" in l, "help")
        assert len(help_lines) > 15 and all(len(l) < 80 for l in help_lines)
        p.until(lambda acc: len(acc) == 3 and min(acc.values()) >= 1, "first shares")
        # pause slave 1 only: its count stops while the others keep rising
        p.type(b"1#", b"p")
        p.wait_for(lambda l: l == "s9: paused", "slave 1 held")
        p.type(b"#")
        a = p.overview()
        assert a[1][0] == "paused" and p.lines[-1] == "mining, 1 held"
        b = p.until(lambda acc: acc[0] >= a[0][1] + 2 and acc[2] >= a[2][1] + 2, "the others mine on")
        assert b[1] == a[1][1]
        # X reaches the slave: its state turns to booted
        p.type(b"1#", b"S")
        assert "booted" not in p.wait_for(lambda l: l.startswith("1 s9: "), "status")[-1]
        p.type(b"X")
        p.wait_for(lambda l: l == "1 s9: reset sent", "reset")
        time.sleep(0.2)  # the model is off the bus while it boots (30 ms)
        p.type(b"S")
        assert p.wait_for(lambda l: l.startswith(("1 s9: ", "? 1 s9:")), "status")[-1] == \
            "1 s9: booted; last command carried out"
        # resumed, the reset slave mines again
        p.type(b"g", b"#")
        p.until(lambda acc: acc[1] > a[1][1], "slave 1 mines again")
        # quota: slave 0, held, mines exactly 2 more shares, then pauses by itself
        p.type(b"0#", b"p")
        p.wait_for(lambda l: l == "s8: paused", "slave 0 held")
        p.type(b"#")
        before = p.accepted()[0]
        p.type(b"0#", b"2g", b"#")
        p.wait_for(lambda l: l == "s8: paused", "slave 0 held after its quota")
        state, after = p.overview()[0]
        assert state == "paused" and after == before + 2
        p.type(b"g")  # all of them mine again
        p.wait_for(lambda l: l == "mining all slaves", "resumed")
        # a paste (garbage, then every command letter) runs nothing: one line
        # each, and the rig mines on, nothing paused, zeroed or stopped
        for paste in (b"\xff\xfe\x80 xjy 99# 123456789g \x1b[A\x1b[1;5C\x1bOP 7\x08\x08", b"5" + EVERY_KEY):
            n = len(p.lines)
            p.send(paste)
            p.wait_for(lambda l: l.startswith("? paste ignored ("), "paste")
            acc = p.accepted()
            assert len(p.lines) - n == 1 + 1 + 1 + 3 + 1  # the paste's line, then o's echo, header, rows, summary
            assert p.lines[-1] == "mining, 0 held" and min(acc.values()) >= 1
        p.until(lambda now: all(now[i] >= acc[i] + 1 for i in acc), "mining on after the pastes")
        # Ctrl-C (then Ctrl-A, as mpremote sends, arriving together): a clean
        # stop, every socket closed
        assert len(pool_connections(user)) == 3
        p.send(b"\r\x03\r\x01")
        p.wait_for(lambda l: l == "stopping: closing pool connections", "stopping")
        stopped(p, user)
    finally:
        p.close()


def test_commands_reconnect_zero_raw_and_q(tmp_path, env, runtime):
    user = "console-cmds-" + runtime
    p = start(tmp_path, env, runtime, user)
    try:
        p.wait_for(lambda l: "? for help" in l, "banner")
        p.type(b"b")
        assert "08 09 0a" in p.wait_for(lambda l: l.startswith("found:"), "scan")[-1]
        p.type(b"C")
        conf = p.wait_for(lambda l: l.startswith("slaves: "), "config")
        assert conf[-1] == "slaves: 0x08 s8 auto, 0x09 s9 auto, 0x0a s10 auto"  # (four a line)
        assert "user: " + user in conf and "mining_key: none" in conf
        assert not [line for line in conf if "{" in line or "'" in line]  # no Python reprs
        p.type(b"w")
        p.wait_for(lambda l: l == "WiFi: not on this platform", "wifi")
        p.type(b"R")
        p.wait_for(lambda l: l == "reboot: not on this platform", "reboot")
        # m: its five lines (their numbers are checked in tests/device/test_console_mem.py)
        p.type(b"m")
        mem = p.wait_for(lambda l: l.startswith("loop lag: "), "memory and timing")[-5:]
        assert mem[0].startswith("heap: ") and mem[1].startswith("SDK heap (lwIP): n/a on this port; ")
        assert mem[2].startswith("slave 0 (0x08) status poll: ") and mem[3].startswith("slave 0 (0x08) job write: ")
        # (that the bus's half-period follows is asserted in tests/device/test_rig.py)
        p.type(b"200f")
        p.wait_for(lambda l: l == "I2C 200 kHz", "freq set")
        p.type(b"f")
        p.wait_for(lambda l: l == "I2C 200 kHz", "freq shown")
        p.send(b"500f")
        p.wait_for(lambda l: "too large" in l, "freq too large")
        p.type(b"1v")
        p.wait_for(lambda l: l.startswith(("s8 GOOD", "s9 GOOD", "s10 GOOD")), "verbose share log")
        p.type(b"0v")
        p.wait_for(lambda l: l == "verbose off", "verbose off")
        p.type(b"1#", b"d")
        det = p.wait_for(lambda l: l.startswith("  submit wait"), "detail")
        head = next(l for l in det if l.startswith("1 s9 at 0x09: "))
        ducoid = head.split(", ")[1]
        # c: slave 1 gets a new pool connection (a new threadid for its DUCOID),
        # the others keep theirs
        old = until_pool(lambda: [c["threadid"] for c in pool_connections(user) if c["ducoid"] == ducoid],
                         "slave 1's connection")
        others = {c["threadid"] for c in pool_connections(user) if c["ducoid"] not in (None, ducoid)}

        def renewed():
            mine = [c["threadid"] for c in pool_connections(user) if c["ducoid"] == ducoid]
            return mine and not set(mine) & set(old)

        p.type(b"c")
        until_pool(renewed, "a new connection for slave 1")
        assert others <= {c["threadid"] for c in pool_connections(user)}
        p.type(b">")
        p.wait_for(lambda l: "pause first" in l, "raw needs pause")
        p.type(b"p")
        p.wait_for(lambda l: l == "s9: paused", "slave 1 held")
        # a raw line, typed key by key (each echoed): sends "S", reads 3 bytes
        mark = len(p.text)
        p.send(b"3>")
        p.wait_text("raw 1> ", mark)
        for key, shown in ((b"S", "raw 1> S"), (b"X", "raw 1> SX"), (b"\x08", "raw 1> SX\b \b")):
            p.send(key)
            p.wait_text(shown, mark)
        p.send(b"\r")
        reply = p.wait_for(lambda l: l.startswith("0x09 replied "), "raw answer")[-1]
        assert re.fullmatch(r'0x09 replied [0-9a-f]{2} 65 20 \("[ZILBCNRE]e "\)', reply)  # a status
        # z: with every slave held, the counts read zero afterwards
        p.type(b"#", b"p")
        p.wait_held(3)
        p.type(b"z")
        p.wait_for(lambda l: l == "statistics and bus counters zeroed", "zeroed")
        assert p.overview() == {0: ("paused", 0), 1: ("paused", 0), 2: ("paused", 0)}
        p.type(b"s")
        assert p.wait_for(lambda l: "accepted" in l, "stats")[-1].startswith("0 accepted, 0 rejected, 0 lost:")
        # q: every pool socket closed
        assert len(pool_connections(user)) == 3
        p.type(b"q")
        stopped(p, user)
    finally:
        p.close()


def test_headless_with_stdin_closed_keeps_mining(tmp_path, env, runtime):
    """Console forced on, stdin at EOF: it says so once and mining goes on."""
    cfg = config(tmp_path, "console-eof", slaves=(8,))
    code = ("import asyncio\nfrom ducorig import rig, config\nc = config.load(%r)\n"
            "i2c, l, r = rig.make_i2c(c)\nR = rig.Rig(c, i2c, l, r)\nR.console = True\nR.verbose = True\n"
            "async def stop():\n    while R.stats.slaves[0].accepted < 3:\n        await asyncio.sleep(0.05)\n"
            "    R.stop()\nasync def both():\n    asyncio.create_task(stop())\n    await R.run()\n"
            "asyncio.run(both())\nprint('accepted', R.stats.slaves[0].accepted)\n") % str(cfg)
    out = subprocess.run(argv(runtime, code), stdin=subprocess.DEVNULL, capture_output=True,
                         env=env, cwd=tmp_path, timeout=SAFETY_S)
    text = out.stdout.decode()
    assert out.returncode == 0, text + out.stderr.decode()
    assert text.count("input closed") == 1 and "accepted 3" in text
