"""Fault switches of a slave model, set through the bus (`CTL` requests, the
shim's `sim_control`). Model only: the conformance suite never uses them."""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class Faults:
    unplugged: bool = False  # NACK its address, absent from scans
    hung: bool = False  # a hash started while set never ends (only a reset helps)
    slow: int = 0  # clock stretch per transfer, us; above the master's timeout -> ETIMEDOUT
    garble_job: int = 0  # the next n job chunks get bit 0 of their first payload byte flipped
    garble_result: int = 0  # the next n result reads get bit 0 of their last byte flipped
    garble_status: int = 0  # the next n status reads get bit 0 of their first byte flipped (B<->C)
    drop_writes: int = 0  # the next n writes are ACKed and lost (a read then returns the old reply)
    nak_write: int = 0  # the next n writes of 2+ bytes: the slave NAKs the byte after the first half
    reset_after: int = -1  # the next hash reboots the slave after this many nonces (-1: off)
    sda_low: bool = False  # holds SDA low: the whole bus ACKs everything and reads 0x00
    deaf: bool = False  # no re-arm after a write of >= 34 bytes (stock Wire)

    def set(self, name: str, value: str) -> None:
        names = [f.name for f in fields(self)]
        if name not in names:
            raise ValueError(f"unknown fault switch {name!r}; known: {', '.join(names)}")
        number = int(value)
        setattr(self, name, bool(number) if isinstance(getattr(self, name), bool) else number)
