"""The simulated rig of the fault bench and the soak (`ducorig bench faults`,
`ducorig bench soak`): a SimRig whose every part the bench can break, and
three ledgers that it keeps on its own, outside the controller, so that what
the controller reports can be checked against what happened:

* the found ledger: every share a slave model found (its job, nonce, and
  hashing interval), from the models themselves;
* the pool proxy's ledger: every job, result and answer that crossed the
  network between the controller and the pool emulator;
* the observer: the controller's reports (errors, rejects, losses and
  states as they change) and its log lines, stamped as they arrive.

The bench's hands: the slave models' fault switches (the bus's `CTL`), the
emulator's fault rules (per connection), the proxy (the pool's host
unreachable; a WiFi link gone, with the controller's station double told
through a file, ducorig.simi2c.SimStation), a stray write on the bus, the
controller's stdin (its console), and two files that the launch code's task
inside the controller reads (a heap ballast, a blocking call). The watchdog
is the controller's own (simi2c.SimWDT): when it fires, the controller exits
with the SDK's reset cause and this rig starts it again, as the chip reboots.

Times are time.monotonic() seconds since start(), as the bus's slave models
and the proxy keep them."""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ducorig_host.emulator import EmulatorConfig, EmulatorThread
from ducorig_host.emulator.tiers import Tier
from ducorig_host.simbus.ducorig import DucorigSlave
from ducorig_host.simbus.search import Search
from ducorig_host.simbus.testrig import ducoid_for
from ducorig_host.simbus.wire import WireSlave
from ducorig_host.simbus.yaum import YaumSlave
from ducorig_host.simrig import FIRST_ADDRESS, HEAPSIZE, Report, SimError, SimRig, SimSpec

WATCHDOG_MS = 3200  # the ESP8266 software watchdog fires 1.6-3.2 s after the last feed
WDT_EXIT = 3  # the controller's exit status when its watchdog fired (simi2c.SimWDT.WDT_EXIT)
ROUTINE_STATES = frozenset(("start", "identify", "connect", "hash", "submit"))  # a share's own steps
FAST_EXIT_S = 10.0  # a controller that exits this soon after a start twice in a row is broken


# --- the found ledger ------------------------------------------------------------

@dataclass(frozen=True)
class Found:
    """A share a slave found: its job's expected hash, the nonce, and the
    hashing interval (bus time, seconds since the rig started)."""
    index: int
    expected: str
    nonce: int
    start: float
    end: float


class FoundLedger:
    """Every search the slave models start, settled once it ends: found
    (kept), exhausted or abandoned (dropped)."""

    def __init__(self, origin: Callable[[], float]) -> None:
        self.origin = origin  # the rig's start, in bus time
        self.found: list[Found] = []
        self._open: list[tuple[int, WireSlave, Search]] = []
        self._lock = threading.Lock()

    def add(self, index: int, slave: WireSlave, search: Search) -> None:
        with self._lock:
            self._open.append((index, slave, search))

    def settle(self) -> None:
        with self._lock:
            still = []
            for index, slave, search in self._open:
                if search.finished:
                    if search.found is not None:
                        t0 = self.origin()
                        self.found.append(Found(index, search.target.hex(), search.found,
                                                search.start - t0, search.end - t0))
                elif getattr(slave, "search", None) is search:
                    still.append((index, slave, search))
            self._open = still


def ledger_model(kind: str) -> type[WireSlave]:
    """The slave model of `kind` that reports each search it starts."""
    return {"ducorig": LedgerDucorig, "yaum": LedgerYaum}[kind]


class LedgerDucorig(DucorigSlave):
    ledger: FoundLedger
    index: int

    def _start_hashing(self, now: float) -> None:
        super()._start_hashing(now)
        assert self.search is not None
        self.ledger.add(self.index, self, self.search)


class LedgerYaum(YaumSlave):
    ledger: FoundLedger
    index: int

    def _hashme(self, t: float) -> None:
        super()._hashme(t)
        assert self.search is not None
        self.ledger.add(self.index, self, self.search)


# --- the pool proxy -----------------------------------------------------------------

@dataclass
class Submission:
    """A result the controller sent, and the pool's answer to it."""
    connection: int
    ducoid: str | None
    expected: str
    nonce: int
    sent: float
    swallowed: bool = False  # sent while the link was cut: it never reached the pool
    answer: str | None = None  # GOOD, BLOCK, BAD,<reason>, or whatever else came back
    answered: float | None = None

    @property
    def accepted(self) -> bool:
        return self.answer in ("GOOD", "BLOCK")

    @property
    def reason(self) -> str | None:
        """The reason of a BAD answer ("" for a bare BAD), else None."""
        if self.answer is None or not self.answer.startswith("BAD"):
            return None
        return self.answer[4:]


@dataclass
class Connection:
    number: int
    opened: float
    refused: bool = False
    ducoid: str | None = None  # from its first result
    closed: float | None = None


JOB = re.compile(r"^([0-9a-f]{40}),([0-9a-f]{40}),(\d+)$")


class PoolProxy:
    """The network between the controller and the pool: every read passed on
    as one write (the pool has no framing), while the ledger notes the jobs,
    results and answers. `refusing`: new connections are reset (the pool's
    host unreachable). `cut`: nothing passes either way and new connections
    are reset (the WiFi link gone); what was sent meanwhile is lost."""

    def __init__(self, upstream: Callable[[], tuple[str, int]], clock: Callable[[], float]) -> None:
        self.upstream = upstream
        self.clock = clock
        self.refusing = False
        self.cut = False
        self.connections: list[Connection] = []
        self.submissions: list[Submission] = []
        self.lock = threading.Lock()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="pool-proxy", daemon=True).start()
        self._ready.wait()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self.lock:
            conn = Connection(len(self.connections), self.clock(), refused=self.refusing or self.cut)
            self.connections.append(conn)
        if conn.refused:
            writer.transport.abort()  # a reset: the controller's connect fails
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream())
        except OSError:
            writer.transport.abort()
            return
        job: list[str | None] = [None]  # the expected hash of the job out, until its result
        pending: list[Submission | None] = [None]  # the result waiting for its answer

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, from_pool: bool) -> None:
            while data := await src.read(4096):
                with self.lock:
                    if from_pool:
                        self._note_answer(data, job, pending)
                    else:
                        self._note_request(conn, data, job, pending)
                    swallow = self.cut
                if not swallow:
                    dst.write(data)
                    await dst.drain()

        pumps = [asyncio.ensure_future(pump(reader, up_writer, False)),
                 asyncio.ensure_future(pump(up_reader, writer, True))]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            for w in (writer, up_writer):
                w.transport.abort()
            conn.closed = self.clock()

    def _note_request(self, conn: Connection, data: bytes, job: list[str | None],
                      pending: list[Submission | None]) -> None:
        text = data.decode("latin-1")
        if text.startswith("JOB,"):
            job[0] = None
            return
        fields = text.split(",")
        if job[0] is None or not fields[0].isdigit():
            return
        ducoid = fields[4] if len(fields) > 4 else None
        conn.ducoid = conn.ducoid or ducoid
        pending[0] = Submission(conn.number, ducoid, job[0], int(fields[0]), self.clock(), swallowed=self.cut)
        self.submissions.append(pending[0])
        job[0] = None

    def _note_answer(self, data: bytes, job: list[str | None], pending: list[Submission | None]) -> None:
        for line in data.decode("latin-1").splitlines():
            match = JOB.match(line)
            if pending[0] is not None:
                pending[0].answer = line
                pending[0].answered = self.clock()
                pending[0] = None
            elif match:
                job[0] = match.group(2)

    def ledger(self) -> tuple[list[Connection], list[Submission]]:
        with self.lock:
            return list(self.connections), list(self.submissions)


# --- the observer ------------------------------------------------------------------

@dataclass(frozen=True)
class Evidence:
    """One thing the bench saw: what (error, rejected, lost, state, log,
    consumed, reset, heap), about which slave (None: the rig), and detail."""
    t: float
    what: str
    index: int | None
    detail: str


class Observer:
    """The controller's reports turned into evidence, each counter's rises
    and each change into a state off a share's routine, plus its free-heap
    samples. A restarted controller counts from zero again."""

    def __init__(self, slaves: int) -> None:
        self.slaves = slaves
        self.evidence: list[Evidence] = []
        self.heap: list[tuple[float, int]] = []  # (t, free bytes) at each change of the rig's sample
        self.lock = threading.Lock()
        self._zero()

    def _zero(self) -> None:
        self._counts: list[dict[str, dict[str, int]]] = [{"errors": {}, "rejected": {}, "lost": {}}
                                                         for _ in range(self.slaves)]
        self._states: list[str | None] = [None] * self.slaves
        self._bus_failures = 0

    def restarted(self) -> None:
        with self.lock:
            self._zero()

    def add(self, t: float, what: str, index: int | None, detail: str) -> None:
        with self.lock:
            self.evidence.append(Evidence(t, what, index, detail))

    def snapshot(self, t: float, snapshot: dict[str, Any]) -> None:
        with self.lock:
            for i, slave in enumerate(snapshot["slaves"][:self.slaves]):
                for table, seen in self._counts[i].items():
                    for key, count in slave.get(table, {}).items():
                        for _ in range(count - seen.get(key, 0)):
                            self.evidence.append(Evidence(t, table.rstrip("s") if table == "errors" else table,
                                                          i, key))
                        seen[key] = count
                state = slave.get("state")
                if state != self._states[i] and state not in ROUTINE_STATES:
                    self.evidence.append(Evidence(t, "state", i, str(state)))
                self._states[i] = state
            rig = snapshot["rig"]
            for _ in range(rig.get("bus_failures", 0) - self._bus_failures):
                self.evidence.append(Evidence(t, "error", None, "bus failure"))
            self._bus_failures = rig.get("bus_failures", 0)
            free = rig.get("free_heap")
            if free is not None and (not self.heap or self.heap[-1][1] != free):
                self.heap.append((t, free))
                self.evidence.append(Evidence(t, "heap", None, str(free)))

    def since(self, t: float) -> list[Evidence]:
        with self.lock:
            return [e for e in self.evidence if e.t >= t]


# --- the rig ------------------------------------------------------------------------

@dataclass(frozen=True)
class Slot:
    """One slave of the rig as the bench knows it."""
    index: int
    kind: str  # ducorig or yaum
    home: int
    ducoid: str
    hashrate: float  # its own rate (a power cycle keeps it)


class FaultRig(SimRig):
    def __init__(self, kinds: Sequence[str], hashrates: Sequence[float], workdir: Path, *,
                 heap: str = HEAPSIZE, tiers: tuple[Tier, ...] | None = None, seed: int | None = None,
                 console: bool = False) -> None:
        self.slots = [Slot(i, kind, FIRST_ADDRESS + i, ducoid_for(f"sim/{i}"), rate)
                      for i, (kind, rate) in enumerate(zip(kinds, hashrates, strict=True))]
        self.found = FoundLedger(lambda: self.started)
        super().__init__(SimSpec(list(kinds), heapsize=heap), workdir)
        config = EmulatorConfig(seed=seed) if tiers is None else EmulatorConfig(seed=seed, tiers=tiers)
        self.emulator = EmulatorThread(config)
        self.proxy = PoolProxy(lambda: ("127.0.0.1", self.emulator.pool_port), self.now)
        self.observer = Observer(len(kinds))
        self.with_console = console
        self.resets: list[float] = []  # when the controller's watchdog (or a crash) reset it
        self.exits: list[int] = []  # the exit status of each reset
        self._log_at = 0  # how far the log has been read
        self._partial = b""
        self._pipe_lock = threading.Lock()

    # --- the parts ----------------------------------------------------------

    def make_slave(self, index: int, kind: str) -> WireSlave:
        slot = self.slots[index]
        slave = ledger_model(kind)(slot.home, slot.ducoid, slot.hashrate)
        slave.ledger, slave.index = self.found, index
        return slave

    @property
    def pool_address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.proxy.port)

    def now(self) -> float:
        return time.monotonic() - self.started

    def model(self, index: int) -> WireSlave:
        return self.bus.bus.slave(self.slots[index].home)

    def file(self, name: str) -> Path:
        """A file the controller's side of the bench looks for (launch_code)."""
        return self.workdir / name

    def start(self, console: bool = False, prefix: Sequence[str] = (), launch: str | None = None,
              stdin: int = subprocess.DEVNULL) -> None:
        self.proxy.start()
        self.workdir.mkdir(parents=True, exist_ok=True)
        super().start(console, prefix, launch or self.launch_code(), subprocess.PIPE if self.with_console else stdin)

    def launch_code(self) -> str:
        """MicroPython: rig.main with the sim's station and watchdog
        (simi2c.online) and a task that does what the bench asks through
        two files: `block` (ms: the loop blocks that long, once) and
        `ballast` (bytes: a heap ballast leaving that much free, until the
        file goes). Its lines in the log start with `faultbench:`."""
        folder = str(self.workdir)
        return (
            "import asyncio, gc, os, time\nfrom ducorig import rig\nfrom ducorig.simi2c import online\n"
            "from ducorig.ticks import sleep_ms\n"
            f"D = {folder!r}\n"
            "def number(name):\n"
            "    try:\n        with open(D + '/' + name) as f:\n            return int(f.read())\n"
            "    except (OSError, ValueError):\n        return None\n"
            "def load(free):\n"
            "    ballast = None  # a chain of (chunk, rest): a list would need one ever larger block\n"
            "    size = 4096\n"
            "    while size >= 16:\n"
            "        gc.collect()\n        spare = gc.mem_free() - free\n"
            "        if spare < 128:\n            break\n"
            "        try:\n            ballast = (bytearray(min(spare - 96, size)), ballast)\n"
            "        except MemoryError:\n            size //= 2  # no free block that large left\n"
            "    return ballast or ()\n"
            "async def bench_hand(r):\n"
            "    ballast = None\n"
            "    while True:\n"
            "        await sleep_ms(200)\n"
            "        try:\n"
            "            ms = number('block')\n"
            "            if ms is not None:\n"
            "                os.remove(D + '/block')\n"
            "                print('faultbench: the loop blocks for %d ms' % ms)\n"
            "                time.sleep_ms(ms)\n"
            "            free = number('ballast')\n"
            "            if free is None and ballast is not None:\n"
            "                ballast = None\n                gc.collect()\n"
            "                print('faultbench: ballast gone, %d bytes free' % gc.mem_free())\n"
            "            elif free is not None and ballast is None:\n"
            "                ballast = load(free)\n"
            "                print('faultbench: ballast in, %d bytes free' % gc.mem_free())\n"
            "        except MemoryError:\n"
            "            pass\n"
            "async def runner(r):\n"
            "    asyncio.create_task(bench_hand(r))\n"
            f"    await online(r, D + '/link-down', {WATCHDOG_MS})\n"
            f"rig.main({str(self.config_path)!r}, console={self.with_console}, runner=runner)\n")

    def stop(self) -> int | None:
        try:
            return super().stop()
        finally:
            self.proxy.stop()

    def _report(self, snapshot: dict[str, Any]) -> Report:
        self.observer.snapshot(self.now(), snapshot)
        return super()._report(snapshot)

    # --- what the bench does ------------------------------------------------------

    def control(self, index: int, name: str, value: object = 1) -> None:
        """A slave model's fault switch or setting (the bus's CTL); a whole
        number goes as one (the yaum model reads its timings as integers first)."""
        text = f"{value:g}" if isinstance(value, float) else str(value)
        self.bus.bus.control(self.slots[index].home, name, text)

    def power_cycle(self, index: int) -> None:
        """The slave off and on: its RAM and fault switches cleared, its rate
        kept (a tier move's too: a power cycle does not change a slave's speed)."""
        self.control(index, "power")

    def pool_fault(self, index: int, **rule: Any) -> bool:
        """A fault rule on the slave's open pool connection; False while it
        has none the pool knows by its DUCOID (before its first result)."""
        emulator = self.emulator
        ducoid = self.slots[index].ducoid

        def arm() -> bool:
            sessions = [s for s in emulator.emulator.connections if s.ducoid == ducoid]
            if not sessions:
                return False
            emulator.emulator.set_faults(threadid=sessions[-1].threadid, **rule)
            return True

        return bool(emulator.call(arm))

    def stray_write(self, index: int, data: bytes) -> bool:
        """A write from nowhere (a glitch on the bus) to a slave that hashes;
        False while it does not."""
        slave = self.model(index)
        if not slave.hashing:
            return False
        self.bus.bus.write(slave.address, data, 50_000)
        return True

    def link(self, up: bool) -> None:
        """The WiFi link: down, nothing passes and the station double says so."""
        self.proxy.cut = not up
        down = self.file("link-down")
        if up:
            down.unlink(missing_ok=True)
        else:
            down.touch()

    def ballast(self, free: int | None) -> None:
        """A heap ballast leaving `free` bytes; None takes it away."""
        if free is None:
            self.file("ballast").unlink(missing_ok=True)
        else:
            self.file("ballast").write_text(str(free))

    def block(self, ms: int) -> None:
        """The controller's loop blocks for ms, once."""
        self.file("block").write_text(str(ms))

    def type(self, data: bytes) -> None:
        """Bytes on the controller's console (its stdin)."""
        with self._pipe_lock:
            process = self.process
            if process is None or process.stdin is None:
                raise SimError("the fault rig runs without a console")
            try:
                process.stdin.write(data)
                process.stdin.flush()
            except BrokenPipeError:  # it is being reset
                pass

    # --- watching -----------------------------------------------------------

    def watch(self) -> None:
        """Call a few times a second: settles the found ledger, reads the
        log, and starts the controller again when it has reset."""
        self.found.settle()
        self._read_log()
        process = self.process
        if process is None or process.poll() is None:
            return
        t = self.now()
        if len(self.resets) >= 2 and t - self.resets[-2] < 2 * FAST_EXIT_S:
            raise SimError(f"the controller keeps exiting (status {process.returncode}); see {self.log_path}")
        self.resets.append(t)
        self.exits.append(process.returncode)
        kind = "watchdog" if process.returncode == WDT_EXIT else f"exit {process.returncode}"
        self.observer.add(t, "reset", None, kind)
        self.observer.restarted()
        self.spawn(stdin=subprocess.PIPE if self.with_console else subprocess.DEVNULL)
        threading.Thread(target=self._collect, daemon=True).start()

    def _read_log(self) -> None:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_at)
                data = f.read()
        except OSError:
            return
        self._log_at += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        t = self.now()
        for line in lines:
            self.observer.add(t, "log", None, line.decode("utf-8", "replace").rstrip("\r"))

    def put_away(self, keep: bool) -> Path | None:
        """After stop(): with keep, the ledgers go to ledgers.json in the run's
        folder, which stays (its path returned); without, the folder goes."""
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
            return None
        connections, submissions = self.proxy.ledger()
        path = self.workdir / "ledgers.json"
        path.write_text(json.dumps({"found": [asdict(f) for f in self.found.found],
                                    "submissions": [asdict(s) for s in submissions],
                                    "connections": [asdict(c) for c in connections],
                                    "evidence": [asdict(e) for e in self.observer.evidence]}))
        return path

    def index_of(self, ducoid: str | None) -> int | None:
        for slot in self.slots:
            if slot.ducoid == ducoid:
                return slot.index
        return None
