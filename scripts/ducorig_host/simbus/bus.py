"""The bus: slaves by address, one transaction at a time, open-drain logic
(several slaves at one address all take a write and AND their read bytes),
and the traffic the masters made."""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ducorig.proto import STATUS_LEN
from ducorig.simi2c import transfer_half_periods, write_half_periods
from ducorig_host.simbus.wire import Transfer, WireSlave


@dataclass
class Outcome:
    """What the master sees of one transaction."""

    kind: str  # "OK", "NACK" (address not acknowledged) or "TIMEOUT" (stretched too long)
    acks: int = 0
    data: bytes = b""
    stretch_us: int = 0


@dataclass(frozen=True)
class Traffic:
    """What the masters did on the bus, counted here so that the controller
    pays nothing for it (the chip bench counts its instructions): transfers,
    the ESP8266 SoftI2C half-periods they take (ducorig.simi2c's formula: the
    wire time at any clock) plus clock stretching, and polls (STATUS_LEN-byte
    reads: a status read in both protocols)."""

    transfers: int = 0
    half_periods: int = 0
    stretch_us: int = 0
    polls: int = 0

    def __add__(self, other: Traffic) -> Traffic:
        return Traffic(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))

    def __sub__(self, other: Traffic) -> Traffic:
        return Traffic(*(a - b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))


def transfer_traffic(outcome: Outcome, nbytes: int, timeout_us: int, read: bool) -> Traffic:
    """One transfer as SoftI2C times it (as ducorig.simi2c blocks for it)."""
    if outcome.kind == "NACK":  # start, address byte, stop
        return Traffic(1, transfer_half_periods(0))
    if outcome.kind == "TIMEOUT":  # start, address byte, the stretch wait; no stop
        return Traffic(1, transfer_half_periods(0, False), timeout_us)
    half_periods = transfer_half_periods(nbytes) if read else write_half_periods(nbytes, outcome.acks)
    return Traffic(1, half_periods, outcome.stretch_us, int(read and nbytes == STATUS_LEN))


class Bus:
    def __init__(self, slaves: Iterable[WireSlave] = (), clock: Callable[[], float] = time.monotonic):
        self._slaves: dict[int, WireSlave] = {}
        self._clock = clock
        self._lock = threading.Lock()  # the bus server serves every master connection in its own thread
        self._level = 1  # the ready line as last looked at
        self._falls = 0  # its falls seen by any look (ready_state)
        self._traffic = Traffic()
        for slave in slaves:
            self.add(slave)

    def add(self, slave: WireSlave) -> None:
        if slave.home in self._slaves:
            raise ValueError(f"two slaves with home address {slave.home}")
        self._slaves[slave.home] = slave

    def slave(self, home: int) -> WireSlave:
        if home not in self._slaves:
            raise ValueError(f"no slave with home address {home}")
        return self._slaves[home]

    def write(self, address: int, data: bytes, timeout_us: int) -> Outcome:
        with self._lock:
            now = self._tick()
            if self._sda_low():  # a stuck-low SDA reads as ACK for every bit
                outcome = Outcome("OK", acks=len(data))
            else:
                outcome = self._combine([s.write(data, now, timeout_us) for s in self._answering(address, now)])
            self._traffic += transfer_traffic(outcome, len(data), timeout_us, read=False)
            return outcome

    def read(self, address: int, n: int, timeout_us: int) -> Outcome:
        with self._lock:
            now = self._tick()
            if self._sda_low():
                outcome = Outcome("OK", data=bytes(n))
            else:
                outcome = self._combine([s.read(n, now, timeout_us) for s in self._answering(address, now)])
            self._traffic += transfer_traffic(outcome, n, timeout_us, read=True)
            return outcome

    def traffic(self) -> Traffic:
        """The transfers so far (scans not included)."""
        with self._lock:
            return self._traffic

    def scan(self, first: int, last: int, timeout_us: int) -> list[int]:
        """Probe each address with a zero-length write, as MicroPython's scan() does."""
        with self._lock:
            now = self._tick()
            if self._sda_low():
                return list(range(first, last + 1))
            found = []
            for address in range(first, last + 1):
                if self._combine([s.write(b"", now, timeout_us) for s in self._answering(address, now)]).kind == "OK":
                    found.append(address)
            return found

    def ready(self) -> int:
        """The open-drain ready line: 0 while any slave holds a result."""
        return self.ready_state()[0]

    def ready_state(self) -> tuple[int, int]:
        """(level, falls): the ready line and how often any look at it (a
        master's READY, the watcher's samples) found it fallen since the last."""
        with self._lock:
            self._tick()
            level = 0 if any(s.holds_result() for s in self._slaves.values()) else 1
            if level < self._level:
                self._falls += 1
            self._level = level
            return level, self._falls

    def control(self, home: int, name: str, value: str) -> None:
        with self._lock:
            self.slave(home).control(name, value, self._tick())

    def _tick(self) -> float:
        now = self._clock()
        for slave in self._slaves.values():
            slave.advance(now)
        return now

    def _answering(self, address: int, now: float) -> list[WireSlave]:
        return [s for s in self._slaves.values() if s.address == address and s.answers(now)]

    def _sda_low(self) -> bool:
        return any(s.faults.sda_low for s in self._slaves.values())

    @staticmethod
    def _combine(transfers: list[Transfer]) -> Outcome:
        if not transfers:
            return Outcome("NACK")
        stretch = max(t.stretch_us for t in transfers)
        if any(t.timed_out for t in transfers):
            return Outcome("TIMEOUT", stretch_us=stretch)
        data = transfers[0].data
        for t in transfers[1:]:
            data = bytes(a & b for a, b in zip(data, t.data))
        return Outcome("OK", acks=max(t.acks for t in transfers), data=data, stretch_us=stretch)
