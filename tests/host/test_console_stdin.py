"""The console through the REAL stdin path: `micropython` runs a small rig
(three slaves of the session rig bus) with the console on, we write command
bytes into its stdin pipe and read its stdout. Assertions are on the rig's
own output (counts, lines); timeouts are only safety nets."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import services
from tests.conftest import micropython_binary

ROOT = Path(__file__).resolve().parents[2]
SAFETY_S = 20


@pytest.fixture(scope="module")
def env():
    services.start_all()
    return dict(os.environ, MICROPYPATH=os.pathsep.join([str(ROOT / "lib"), ".frozen"]))


class Proc:
    """A running controller: send bytes, wait for output lines."""

    def __init__(self, argv, env, cwd):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.lines: list[str] = []
        self.q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for raw in self.p.stdout:
            self.q.put(raw.decode(errors="replace").rstrip("\r\n"))
        self.q.put(None)

    def send(self, data: bytes):
        self.p.stdin.write(data)
        self.p.stdin.flush()

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

    def overview(self) -> dict[int, int]:
        """Send `o`, return accepted counts per slave index."""
        self.send(b"o")
        lines = self.wait_for(lambda l: l.startswith(("mining", "paused", "stopped")), "overview")
        acc = {}
        for l in lines:
            w = l.split()
            if len(w) > 4 and w[0].isdigit() and w[4].startswith("A"):
                acc[int(w[0])] = int(w[4][1:])
        return acc

    def wait_held(self, workers: int) -> None:
        """Poll the overview until `workers` workers wait at the pause gate."""
        for _ in range(200):
            self.send(b"o")
            last = self.wait_for(lambda l: l.startswith(("paused", "mining")), "paused")[-1]
            if f"{workers} held" in last:
                return
            time.sleep(0.1)
        raise AssertionError(self.lines[-10:])

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def config(tmp_path: Path, user: str, slaves=(8, 9, 10)) -> Path:
    host, port = os.environ["DUCORIG_POOL"].split(":")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "user": user, "pool": {"host": host, "port": int(port)}, "stagger_ms": 20,
        "i2c": {"sim": os.environ["DUCORIG_RIG_BUS"]},
        "slaves": [{"address": a, "name": f"s{a}"} for a in slaves]}))
    return path


def start(tmp_path, env, user, console="True"):
    mp = micropython_binary()
    if mp is None:
        pytest.skip("micropython binary not found")
    cfg = config(tmp_path, user)
    return Proc([mp, "-X", "heapsize=512k", "-c", f"from ducorig import rig; rig.main({str(cfg)!r}, {console})"],
                env, tmp_path)


def mined(p: Proc, n: int) -> dict[int, int]:
    """Overviews until every slave has n accepted shares."""
    for _ in range(200):
        acc = p.overview()
        if len(acc) == 3 and min(acc.values()) >= n:
            return acc
        time.sleep(0.1)
    raise AssertionError(p.lines[-20:])


def test_overview_pause_quota_garbage_and_ctrl_c(tmp_path, env):
    p = start(tmp_path, env, "console-stdin")
    try:
        p.wait_for(lambda l: "? for help" in l, "banner")
        # a command while the rig is still starting: answered, not fatal
        p.send(b"0#S")
        p.wait_for(lambda l: l.startswith("0: status") or l.startswith("? 0:"), "early status")
        p.send(b"#?")
        help_lines = p.wait_for(lambda l: "Ctrl-C" in l, "help")
        assert len(help_lines) > 15 and all(len(l) <= 80 for l in help_lines)
        mined(p, 1)
        # pause: once every worker is held, the counts stop changing
        p.send(b"#p")
        p.wait_held(3)
        a = p.overview()
        time.sleep(0.5)
        assert p.overview() == a
        # garbage: one-line errors (a burst is not a flood), and the rig keeps going
        before = len(p.lines)
        p.send(b"\xff\xfe\x80 xjy 99# 123456789g \x1b[A\x1b[1;5C\x1bOP 7\x08\x08")
        p.send(b"s")
        got = p.wait_for(lambda l: l.startswith("free heap"), "stats after garbage")
        errors = [l for l in got if l.startswith("? ")]
        assert 1 <= len(errors) <= 12, got
        assert len(p.lines) - before < 20
        # quota: two more shares, then paused again by itself
        p.send(b"2g")
        p.wait_for(lambda l: l.startswith("quota done"), "quota")
        p.wait_held(3)
        b = p.overview()
        assert sum(b.values()) - sum(a.values()) <= 2  # at most 2 more (a share may be lost)
        # resume: accepted grows again
        p.send(b"g")
        for _ in range(200):
            c = p.overview()
            if sum(c.values()) > sum(b.values()) + 2:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(p.lines[-10:])
        # Ctrl-C (then Ctrl-A, as mpremote sends): a clean stop, the process ends
        p.send(b"\r\x03\r\x01")
        p.wait_for(lambda l: "stopped" in l, "stopped")
        assert p.p.wait(SAFETY_S) == 0
        assert any(l.startswith("stopping: closing pool connections") for l in p.lines)
    finally:
        p.close()


def test_commands_and_raw_passthrough(tmp_path, env):
    p = start(tmp_path, env, "console-cmds")
    try:
        p.wait_for(lambda l: "? for help" in l, "banner")
        p.send(b"b")
        assert "08 09 0a" in p.wait_for(lambda l: l.startswith("found:"), "scan")[-1]
        p.send(b"C")
        conf = p.wait_for(lambda l: l.startswith(" slave 0x0a"), "config")
        assert any(" user: console-cmds" in l for l in conf)
        p.send(b"w")
        p.wait_for(lambda l: l == "WiFi: not on this platform", "wifi")
        p.send(b"R")
        p.wait_for(lambda l: l == "reboot: not on this platform", "reboot")
        p.send(b"200f")
        p.wait_for(lambda l: l == "I2C 200 kHz", "freq")
        p.send(b"500f")
        p.wait_for(lambda l: "too large" in l, "freq too large")
        p.send(b"1v")
        p.wait_for(lambda l: l.startswith("s8 GOOD") or l.startswith("s9 GOOD") or l.startswith("s10 GOOD"),
                   "verbose share log")
        p.send(b"0v")
        p.wait_for(lambda l: l == "verbose off", "verbose off")
        p.send(b"1#d")
        det = p.wait_for(lambda l: l.startswith("  submit"), "detail")
        assert any(l.startswith("1 s9 0x09") for l in det)
        time.sleep(0.4)  # errors closer than 0.3 s together are counted, not printed
        p.send(b">")
        p.wait_for(lambda l: "pause first" in l, "raw needs pause")
        p.send(b"p")
        for _ in range(200):
            p.send(b"o")
            if "3 held" in p.wait_for(lambda l: l.startswith(("paused", "mining")), "held")[-1]:
                break
            time.sleep(0.1)
        p.send(b"3>SX\x08\r")  # typed S, X, Backspace: sends "S", reads 3 bytes
        p.wait_for(lambda l: l.startswith("0x09: b'"), "raw answer")
        p.send(b"#zo")
        p.wait_for(lambda l: l.startswith("2 s10"), "zeroed overview")
        p.send(b"q")
        p.wait_for(lambda l: "stopped" in l, "stopped")
        assert p.p.wait(SAFETY_S) == 0
    finally:
        p.close()


def test_headless_with_stdin_closed_keeps_mining(tmp_path, env):
    """Console forced on, stdin at EOF: it says so once and mining goes on."""
    mp = micropython_binary()
    if mp is None:
        pytest.skip("micropython binary not found")
    cfg = config(tmp_path, "console-eof", slaves=(8,))
    code = ("import asyncio\nfrom ducorig import rig, config\nc = config.load(%r)\n"
            "i2c, l, r = rig.make_i2c(c)\nR = rig.Rig(c, i2c, l, r)\nR.console = True\nR.verbose = True\n"
            "async def stop():\n    while R.stats.slaves[0].accepted < 3:\n        await asyncio.sleep(0.05)\n"
            "    R.stop()\nasync def both():\n    asyncio.create_task(stop())\n    await R.run()\n"
            "asyncio.run(both())\nprint('accepted', R.stats.slaves[0].accepted)\n") % str(cfg)
    out = subprocess.run([mp, "-X", "heapsize=512k", "-c", code], stdin=subprocess.DEVNULL, capture_output=True,
                         env=env, cwd=tmp_path, timeout=SAFETY_S)
    text = out.stdout.decode()
    assert out.returncode == 0, text + out.stderr.decode()
    assert text.count("input closed") == 1 and "accepted 3" in text


def test_cpython_console_against_a_pipe(env):
    """The same console on CPython, reading a pipe through its fd reader."""
    code = r"""
import asyncio, os, sys
sys.path.insert(0, %r)
from ducorig import console
class W: pass
class Rig:
    running = True; paused = False; quota = None; held = 0; workers = []; verbose = False
    out = sys.stdout
    def stop(self): self.running = False
    def pause(self, p=True): self.paused = p
r, w = os.pipe()
os.write(w, b"p9#v2gq")
asyncio.run(console.Console(Rig()).run(os.fdopen(r, "rb", 0)))
""" % str(ROOT / "lib")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=SAFETY_S)
    text = out.stdout.decode()
    assert out.returncode == 0, text + out.stderr.decode()
    for want in ("pausing", "? no slave 9", "verbose on", "mining 2 more shares", "stopping"):
        assert want in text, text
