"""The real Pro Mini sketch (firmware/minipro) in simavr, as a slave on the
simulated bus: `AvrSlave` implements the interface the Python models
implement (`WireSlave`), and forwards every write and read to one `avrsim`
process (firmware/minipro/sim/avrsim.c), where it becomes a real TWI
transaction: bit times, ACKs and clock stretching come from the simulated
ATmega328P running the compiled sketch.

Two ways to keep time:

* lockstep (tests): the AVR runs only when the bus needs it, up to
  `time_scale` times the bus clock (wall) time that has passed, as fast as
  the host allows (for at most `wall_budget_ms` per step; time the host
  cannot simulate is dropped, not owed). The bus advances every slave before
  each transaction; this one catches up lazily, when it is addressed or asked
  for the ready line, and eagerly only for `EAGER_S` of simulated time after
  a transfer or a control (so that `V` and `X` take effect): idle AVRs on a
  busy bus cost nothing. Simulation speed on this 2-core host: 4.8x real
  time hashing flat out, 14x under the default rate cap, 36x idle.
* real time (`realtime=True`, the simulated rig): the AVR runs on by itself,
  throttled to the wall clock: measured 0.27 of a host core per AVR hashing
  flat out, 0.11 under the default cap, 0.06 idle. `MAX_REALTIME_SLAVES` (6)
  keeps a rig within this 2-core machine (1.6 cores flat out).

The sketch's ready line (D4) is the slave's `holds_result()`: the bus's
READY line in the simulation.

Controls (`CTL <home> <name> <value>`): `factory` (power-cycle with a fresh
EEPROM file holding the home address), `power` (power-cycle, EEPROM kept),
`hung` (loop() stuck with interrupts on: the sketch's watchdog restarts it
within 0.5 s), `unplugged` and `sda_low` (as for the models). The sketch's
own rate cap replaces the models' `hashrate` switch (write `W`).
"""
from __future__ import annotations

import hashlib
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ducorig_host.simbus.faults import Faults
from ducorig_host.simbus.wire import Transfer, WireSlave

FIRMWARE = Path(__file__).resolve().parents[3] / "firmware" / "minipro"
HARNESS = FIRMWARE / "build" / "avrsim"
ARDUINO_CORE = Path("/usr/share/arduino/hardware/arduino/avr/cores/arduino")
APT_PACKAGES = ("gcc-avr", "avr-libc", "binutils-avr", "arduino-core-avr", "arduino-mk", "simavr",
                "libsimavr-dev", "libelf-dev", "pkg-config", "gcc", "libc6-dev", "make")
FREQUENCIES = (16_000_000, 8_000_000)
EEPROM_SIZE = 1024
BUS_HZ = 100_000
MAX_REALTIME_SLAVES = 6  # 0.27 core each flat out, 0.11 capped; this machine has 2
# GPIOR0 marks of the sketch (firmware/minipro/board.h)
MARK_READY, MARK_START, MARK_END = 0x10, 0x01, 0x02
REPLY_TIMEOUT_S = 120.0
REALTIME_PROBE_S = 0.002  # real time: the state (address, ACK, ready line) is at most this old
EAGER_S = 0.05  # lockstep: simulated seconds after a transfer during which every bus tick advances it


class HarnessError(RuntimeError):
    """The avrsim process failed, crashed or answered nonsense."""


def missing_tools() -> list[str]:
    """What is missing to build the sketch and the harness (empty: all there)."""
    missing = [tool for tool in ("make", "cc", "avr-gcc", "avr-size", "avr-objcopy", "pkg-config")
               if not shutil.which(tool)]
    if not ARDUINO_CORE.is_dir():
        missing.append(f"arduino-core-avr ({ARDUINO_CORE})")
    if shutil.which("pkg-config") and subprocess.run(["pkg-config", "--exists", "simavr"]).returncode != 0:
        missing.append("libsimavr-dev (pkg-config simavr)")
    return missing


_built: dict[int, Path] = {}
_build_lock = threading.Lock()


def build(f_cpu: int = 16_000_000) -> Path:
    """`make -C firmware/minipro` for f_cpu (the sketch and the harness); the sketch's ELF."""
    with _build_lock:
        if f_cpu not in _built:
            proc = subprocess.run(["make", "-C", str(FIRMWARE), f"F_CPU={f_cpu}", "all", "sim"],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise HarnessError(f"make -C {FIRMWARE} F_CPU={f_cpu} failed:\n"
                                   f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            _built[f_cpu] = FIRMWARE / "build" / str(f_cpu) / "minipro.elf"
        return _built[f_cpu]


def factory_eeprom(address: int | None) -> bytes:
    """An erased EEPROM, with the I2C address in byte 0 if given."""
    return (bytes([address]) if address is not None else b"\xff") + b"\xff" * (EEPROM_SIZE - 1)


@dataclass
class State:
    """What every harness reply carries."""

    cycle: int = 0
    sleep_cycles: int = 0
    address: int = 0  # TWAR >> 1
    armed: bool = False  # TWEN and TWEA: it ACKs its address
    ready_low: bool = False  # it pulls the ready line (D4) low: it holds a result


class Harness:
    """One avrsim process: one simulated Pro Mini running `elf`.

    Lockstep (default): nothing runs between requests; `run_us`/`run_to`
    advance simulated time. Real time: the AVR runs on its own."""

    def __init__(self, elf: Path, eeprom: Path, serial: str = "5A3F1C0B99124E31", *,
                 f_cpu: int = 16_000_000, realtime: bool = False, bus_hz: int = BUS_HZ):
        self.f_cpu = f_cpu
        self.state = State()
        self.updated = 0.0  # time.monotonic() of the last reply (which carries the state)
        self.uart = bytearray()  # everything the sketch printed
        self.marks: list[tuple[int, int, int]] = []  # (GPIOR0 value, cycle, sleep cycles)
        self.resets = 0  # watchdog system resets seen
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._crash: str | None = None
        args = [str(HARNESS), "-f", str(f_cpu), "-b", str(bus_hz), "-e", str(eeprom), "-s", serial]
        self._proc = subprocess.Popen(args + (["-r"] if realtime else []) + [str(elf)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, name="avrsim", daemon=True)
        self._reader.start()
        ready = self._reply()
        if not ready.startswith("@READY"):
            raise HarnessError(f"avrsim did not start: {ready}")

    # --- the process ----------------------------------------------------------

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            tag = line[:2]
            if tag == "@O":
                self.uart += bytes.fromhex(line[3:].strip())
            elif tag == "@M":
                value, cycle, sleep = map(int, line[3:].split())
                self.marks.append((value, cycle, sleep))
            elif tag == "@B":
                self.resets += 1
            elif tag == "@X":
                self._crash = line[3:].strip()
            elif line.startswith("@"):
                self._replies.put(line.strip())
        self._replies.put(None)  # the process ended

    def _reply(self) -> str:
        try:
            line = self._replies.get(timeout=REPLY_TIMEOUT_S)
        except queue.Empty:
            raise HarnessError("avrsim did not answer") from None
        if line is None:
            err = self._proc.stderr.read() if self._proc.stderr else ""
            raise HarnessError(f"avrsim ended ({self._crash or 'exit ' + str(self._proc.wait())}): {err[-500:]}")
        return line

    def request(self, line: str) -> list[str]:
        """One command; the reply's own fields (the state is kept in .state)."""
        with self._lock:
            if self._proc.poll() is not None:
                raise HarnessError(f"avrsim has ended ({self._crash or self._proc.returncode})")
            assert self._proc.stdin is not None
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
            reply = self._reply().split()
        if reply[0] == "@?" or len(reply) < 6:
            raise HarnessError(f"avrsim refused {line!r}: {' '.join(reply)}")
        cycle, sleep, address, armed, ready = map(int, reply[1:6])
        self.state = State(cycle, sleep, address, bool(armed), not ready)
        self.updated = time.monotonic()
        return reply[6:]

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write("Q\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._reader.join(timeout=5)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream:
                stream.close()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- what it does -----------------------------------------------------------

    def probe(self) -> State:
        self.request("P")
        return self.state

    def run_to(self, cycle: int, wall_ms: int = 0) -> State:
        self.request(f"S {cycle} {wall_ms}")
        return self.state

    def run_us(self, us: float) -> State:
        self.request(f"T {round(us)}")
        return self.state

    def run_until_armed(self, limit_us: float = 100_000) -> State:
        """Boot: run until the sketch ACKs its address (the TWI is on)."""
        deadline = self.state.cycle + limit_us * self.f_cpu / 1e6
        while not self.state.armed and self.state.cycle < deadline:
            self.run_us(100)
        return self.state

    def address(self, address: int, timeout_us: int = 50_000) -> str:
        """START and the address byte alone: "ACK", "NACK" or "TIMEOUT". After
        an ACK, the next write or read to that address goes on from there."""
        return self.request(f"A {address:x} {timeout_us}")[0]

    def write(self, address: int, data: bytes, timeout_us: int = 50_000) -> tuple[str, int, int]:
        """("OK", acks, stretch_us), ("NACK", 0, 0) or ("TIMEOUT", 0, 0)."""
        reply = self.request(f"W {address:x} {timeout_us} {data.hex() or '-'}")
        return (reply[0], int(reply[1]), int(reply[2])) if reply[0] == "OK" else (reply[0], 0, 0)

    def read(self, address: int, n: int, timeout_us: int = 50_000) -> tuple[str, bytes, int]:
        """("OK", data, stretch_us), ("NACK", b"", 0) or ("TIMEOUT", b"", 0)."""
        reply = self.request(f"R {address:x} {timeout_us} {n}")
        if reply[0] != "OK":
            return reply[0], b"", 0
        return "OK", (b"" if reply[1] == "-" else bytes.fromhex(reply[1])), int(reply[2])

    def serial_in(self, text: bytes) -> None:
        """Bytes to the sketch's UART (paced at 38400 Bd in simulated time)."""
        for i in range(0, len(text), 400):
            self.request(f"U {text[i:i + 400].hex()}")

    def peek(self, address: int, n: int = 1) -> bytes:
        """Data memory: I/O registers (0x20..0xFF) and SRAM."""
        return bytes.fromhex(self.request(f"K {address:x} {n}")[0])

    def hang(self) -> None:
        self.request("H")


class AvrSlave(WireSlave):
    """A simulated Pro Mini running the compiled sketch, at its home address
    on a `Bus`. The DUCOID the bus gives it becomes the chip's serial number
    in the simulated signature row, so each instance reports its own."""

    protocol = "ducorig"
    default_hashrate = 370.0  # the sketch's default rate cap (it runs 2,052 H/s flat out at 16 MHz)
    # Class settings (make variants with `AvrSlave.variant(...)`).
    f_cpu = 16_000_000
    realtime = False
    time_scale = 1.0  # lockstep: simulated seconds per bus-clock second, at most
    wall_budget_ms = 50  # lockstep: host time one advance may take

    @classmethod
    def variant(cls, **settings) -> type[AvrSlave]:
        """A subclass with other class settings, e.g. variant(time_scale=20)."""
        unknown = set(settings) - {"f_cpu", "realtime", "time_scale", "wall_budget_ms"}
        if unknown:
            raise TypeError(f"unknown AvrSlave settings: {', '.join(sorted(unknown))}")
        return type(cls.__name__, (cls,), settings)

    def __init__(self, home: int, ducoid: str, hashrate: float | None = None, boot_s: float = 0.0):
        if hashrate is not None:
            raise ValueError("an AvrSlave hashes at the sketch's own rate (its cap is set with W)")
        self.elf = build(self.f_cpu)
        self._dir = tempfile.TemporaryDirectory(prefix="ducorig-avr-")
        self.eeprom_file = Path(self._dir.name) / "eeprom.bin"
        self.serial = ducoid[6:]
        self.harness: Harness | None = None
        self._anchor: tuple[float, int] | None = None  # lockstep: (bus time, cycle) that match
        self._now: float | None = None  # lockstep: the bus time to catch up to
        self._address_phase: str | None = None  # the harness's answer to the last START + address
        self._eager_until = 0  # lockstep: cycle up to which advance() simulates at once
        super().__init__(home, ducoid, None, boot_s)

    # --- life cycle -----------------------------------------------------------

    def factory_reset(self, now: float) -> None:
        self.faults = Faults()
        self.eeprom_file.write_bytes(factory_eeprom(self.home))
        self.reboot(now)

    def reboot(self, now: float) -> None:
        """Power-cycle: a fresh avrsim process on the same EEPROM file, booted."""
        self.close()
        self.harness = Harness(self.elf, self.eeprom_file, self.serial, f_cpu=self.f_cpu, realtime=self.realtime)
        if self.realtime:
            deadline = time.monotonic() + 1.0
            while not self.harness.probe().armed and time.monotonic() < deadline:
                time.sleep(0.001)
        else:
            self.harness.run_until_armed()
        self._anchor = None
        self._now = None
        self._eager()
        self._sync()

    def close(self) -> None:
        if self.harness:
            self.harness.close()
            self.harness = None

    def power_on(self, now: float) -> None:
        """(the sketch's setup() does this)"""

    def _sync(self) -> None:
        assert self.harness is not None
        self.address = self.harness.state.address

    # --- the bus's side ---------------------------------------------------------

    def advance(self, now: float) -> None:
        harness = self.harness
        assert harness is not None
        if self.realtime:
            if time.monotonic() - harness.updated > REALTIME_PROBE_S:  # a ready-line watcher asks every ms
                harness.probe()
            self._sync()
            return
        self._now = now
        if harness.state.cycle < self._eager_until:
            self._catch_up()

    def _catch_up(self) -> None:
        """Lockstep: simulate up to the bus time of the last advance (scaled)."""
        harness, now = self.harness, self._now
        assert harness is not None
        if now is None or self.realtime:
            return
        if self._anchor is None:
            self._anchor = (now, harness.state.cycle)
        else:
            since, cycle = self._anchor
            target = cycle + int((now - since) * self.time_scale * self.f_cpu)
            if target > harness.state.cycle:
                harness.run_to(target, self.wall_budget_ms)
                if harness.state.cycle < target:  # the host fell behind: no catching up later
                    self._anchor = (now, harness.state.cycle)
        self._sync()

    def _eager(self) -> None:
        assert self.harness is not None
        self._eager_until = self.harness.state.cycle + int(EAGER_S * self.f_cpu)

    def answers(self, now: float) -> bool:
        """The chip decides: START and the address byte run in the simulation
        now, and the bus's write or read (which always follows) goes on from there."""
        self._catch_up()
        if self.faults.unplugged or self.harness is None:
            return False
        self._address_phase = self.harness.address(self.address)
        self._sync()
        return self._address_phase != "NACK"

    def write(self, data: bytes, now: float, timeout_us: int) -> Transfer:
        assert self.harness is not None
        if self._address_phase == "TIMEOUT":  # SCL held before the address: the master gave up
            self._address_phase = None
            return Transfer(timed_out=True)
        kind, acks, stretch = self.harness.write(self.address, data, timeout_us)
        self._eager()
        self._sync()
        return Transfer(timed_out=kind == "TIMEOUT", acks=acks, stretch_us=stretch)

    def read(self, n: int, now: float, timeout_us: int) -> Transfer:
        assert self.harness is not None
        if self._address_phase == "TIMEOUT":
            self._address_phase = None
            return Transfer(timed_out=True)
        kind, data, stretch = self.harness.read(self.address, n, timeout_us)
        self._eager()
        self._sync()
        return Transfer(timed_out=kind == "TIMEOUT", data=data if kind == "OK" else b"\xff" * n,
                        stretch_us=stretch)

    def control(self, name: str, value: str, now: float) -> None:
        if name == "factory":
            self.factory_reset(now)
        elif name == "power":
            self.reboot(now)
        elif name == "hung":
            if int(value):
                assert self.harness is not None
                self.harness.hang()
                self._eager_until = self.harness.state.cycle + int(0.6 * self.f_cpu)  # the watchdog restart
        elif name in ("unplugged", "sda_low"):
            self.faults.set(name, value)
        else:
            raise ValueError(f"the avr backend has no switch {name!r}: factory, power, hung, unplugged, sda_low")

    # --- the WireSlave hooks the bus never reaches here ---------------------------

    def on_receive(self, data: bytes, now: float) -> None:
        raise NotImplementedError("the sketch in simavr receives its writes itself")

    def on_request(self, now: float) -> bytes:
        raise NotImplementedError("the sketch in simavr builds its replies itself")

    def holds_result(self) -> bool:
        """The sketch's ready line (D4, open drain)."""
        self._catch_up()
        return self.harness is not None and self.harness.state.ready_low

    @property
    def result_selected(self) -> bool:
        return False

    @property
    def status_selected(self) -> bool:
        return False

    @property
    def hashing(self) -> bool:
        return False

    def nonce_time(self) -> float:
        return 1 / self.default_hashrate


def slaves(count: int, first_address: int = 0x10, *, f_cpu: int = 16_000_000,
           realtime: bool = True) -> list[AvrSlave]:
    """`count` simulated Pro Minis at first_address, first_address + 1, ...
    (for `ducorig sim --slaves avr:N`). Real time is capped at
    MAX_REALTIME_SLAVES: each needs up to 0.27 of a host core."""
    if realtime and count > MAX_REALTIME_SLAVES:
        raise ValueError(f"at most {MAX_REALTIME_SLAVES} real-time AVRs (up to 0.27 of a core each; 2 cores here)")
    cls = AvrSlave.variant(f_cpu=f_cpu, realtime=realtime)
    return [cls(first_address + i, ducoid_of(f"avr-{first_address + i}")) for i in range(count)]


def ducoid_of(name: str) -> str:
    """A DUCOID of the official shape for a simulated chip named `name`."""
    return "DUCOID" + hashlib.sha1(name.encode()).hexdigest()[:16].upper()
