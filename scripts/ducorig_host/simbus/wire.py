"""The AVR Wire slave layer under both firmware models (ATmega328P TWI with the
Arduino Wire library, arduino/ArduinoCore-avr's utility/twi.c), plus the model-level
faults that act on the wire.

Times are the bus's clock readings in seconds. The bus calls `advance(now)` on
every slave before each transaction, so firmware timelines (hashing, reboots,
address changes) are up to date when a transaction looks at them.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from ducorig_host.simbus.faults import Faults

WIRE_BUFFER = 32  # Wire's RX and TX buffers
IDLE_LOOP_S = 50e-6  # an idle loop() pass: how soon the firmware notices anything
ERASED_EEPROM_ADDRESS = 4  # yaum's cluCom.h: an EEPROM byte > 127 means address 4


@dataclass
class Transfer:
    """This slave's side of one transaction it ACKed its address for."""

    timed_out: bool = False
    acks: int = 0  # writes: data bytes ACKed
    data: bytes = b""  # reads
    stretch_us: int = 0


class WireSlave(ABC):
    protocol: ClassVar[str]  # ducorig, yaum: the config's names
    default_hashrate: ClassVar[float]  # H/s of the real thing
    deaf_by_default: ClassVar[bool] = False

    def __init__(self, home: int, ducoid: str, hashrate: float | None = None, boot_s: float = 0.03):
        self.home = home  # factory address; the bus's controls name a slave by it
        self.ducoid = ducoid
        self.factory_hashrate = hashrate or self.default_hashrate
        self.boot_s = boot_s  # off the bus after a reset (watchdog + boot + setup())
        self.factory_reset(0.0)

    # --- life cycle -------------------------------------------------------

    def factory_reset(self, now: float) -> None:
        """Power-cycle with factory EEPROM and no faults, ready at once."""
        self.faults = Faults(deaf=self.deaf_by_default)
        self.hashrate = self.factory_hashrate
        self.eeprom_address = self.home
        self.reboot(now)
        self.online_at = now

    def reboot(self, now: float) -> None:
        """A reset: RAM state lost, EEPROM kept, off the bus while booting."""
        self.online_at = now + self.boot_s
        self.deaf_until = -math.inf
        self.address = self.eeprom_address if self.eeprom_address <= 127 else ERASED_EEPROM_ADDRESS
        self.power_on(now)

    # --- the bus's side ---------------------------------------------------

    def answers(self, now: float) -> bool:
        """Does it ACK its address now?"""
        return not self.faults.unplugged and now >= self.online_at and now >= self.deaf_until

    def write(self, data: bytes, now: float, timeout_us: int) -> Transfer:
        if self.faults.slow > timeout_us:
            return Transfer(timed_out=True)
        stretch = self.faults.slow
        if len(data) > WIRE_BUFFER + 1:
            # Byte 33 is still ACKed (TWEA was set), byte 34 is not, and the stock
            # Wire slave then ignores its own address (TW_SR_DATA_NACK).
            self.deaf_until = math.inf if self.faults.deaf else now + self.rearm_delay()
            self.on_overlong(now)
            return Transfer(acks=WIRE_BUFFER + 1, stretch_us=stretch)
        if self.faults.drop_writes:
            self.faults.drop_writes -= 1
            return Transfer(acks=len(data), stretch_us=stretch)
        if self.faults.nak_write and len(data) >= 2:
            # The slave takes the first half, then NAKs: the master stops, the
            # slave's receive handler gets what arrived.
            self.faults.nak_write -= 1
            data = data[:len(data) // 2]
            self.on_receive(data, now)
            return Transfer(acks=len(data), stretch_us=stretch)
        if self.faults.garble_job and len(data) > 1 and data[0] in b"LMNO":
            self.faults.garble_job -= 1
            data = data[:1] + bytes([data[1] ^ 1]) + data[2:]
        self.on_receive(data[:WIRE_BUFFER], now)  # a 33rd byte is ACKed and dropped
        return Transfer(acks=len(data), stretch_us=stretch)

    def read(self, n: int, now: float, timeout_us: int) -> Transfer:
        if self.faults.slow > timeout_us:
            return Transfer(timed_out=True)
        reply = self.on_request(now)[:WIRE_BUFFER] or b"\x00"  # Wire sends 0x00 for nothing
        if self.faults.garble_result and self.result_selected:
            self.faults.garble_result -= 1
            reply = reply[:-1] + bytes([reply[-1] ^ 1])
        elif self.faults.garble_status and self.status_selected:
            self.faults.garble_status -= 1
            reply = bytes([reply[0] ^ 1]) + reply[1:]
        return Transfer(data=(reply + b"\xff" * n)[:n], stretch_us=self.faults.slow)

    def control(self, name: str, value: str, now: float) -> None:
        if name == "factory":
            self.factory_reset(now)
        elif name == "power":  # off and on: its RAM and fault switches cleared, EEPROM and rate kept
            self.faults = Faults(deaf=self.deaf_by_default)
            self.reboot(now)
        elif name == "hashrate":
            if not float(value) > 0:
                raise ValueError("hashrate must be positive (the fault switch 'hung' stops hashing)")
            self.hashrate = float(value)
        else:
            self.faults.set(name, value)

    def rearm_delay(self) -> float:
        """The firmware re-arms TWEA from loop(), i.e. between nonces while hashing."""
        return self.nonce_time() if self.hashing else IDLE_LOOP_S

    # --- the firmware's side ----------------------------------------------

    @abstractmethod
    def power_on(self, now: float) -> None:
        """RAM state as setup() leaves it."""

    @abstractmethod
    def advance(self, now: float) -> None:
        """Run the firmware's own timeline (loop(), hashing) up to now."""

    @abstractmethod
    def on_receive(self, data: bytes, now: float) -> None:
        """Wire's onReceive: the bytes of one write (at most 32, maybe none)."""

    @abstractmethod
    def on_request(self, now: float) -> bytes:
        """Wire's onRequest: what a read returns."""

    def on_overlong(self, now: float) -> None:
        """A write of >= 34 bytes happened (no onReceive for it)."""

    @property
    @abstractmethod
    def result_selected(self) -> bool:
        """Would a read return a result (the target of garble_result)?"""

    @property
    @abstractmethod
    def status_selected(self) -> bool:
        """Would a read return a status (the target of garble_status)?"""

    @property
    @abstractmethod
    def hashing(self) -> bool: ...

    @abstractmethod
    def nonce_time(self) -> float:
        """Seconds per nonce of the running hash."""

    def holds_result(self) -> bool:
        """Does it pull the ready line low?"""
        return False
