"""The ESP8266 side of `ducorig bench chip`: what the controller's work per
share costs the chip, from x86 instructions counted on the MicroPython unix
port and from the I2C transfers' SoftI2C timing. docs/chip-budget.md derives
the calibration and names its sources."""
from __future__ import annotations

from ducorig.simi2c import half_period_us

# ESP8266 microseconds at 160 MHz per 1000 x86 instructions the unix port
# runs for the same bytecode: low (integer-add loop, 80 -> 160 MHz x2.0),
# middle (their geometric mean), high (asyncio task switches, x1.47).
US_PER_KILO_INSTRUCTION = (17, 32, 58)
CLOCKS = (100_000, 400_000)  # the I2C clocks the bench reports


def wire_ms(half_periods: int, stretch_us: int, freq: int) -> float:
    """SoftI2C's time on the wire at freq: whole-microsecond half-periods
    plus clock stretching. It busy-waits: the CPU does nothing else."""
    return (half_periods * half_period_us(freq) + stretch_us) / 1000


def ms_per_share(instructions: float, wire: float) -> list[float]:
    """[low, middle, high] chip milliseconds per share: the counted
    instructions at each calibration plus the wire time (ms)."""
    return [instructions / 1000 * us / 1000 + wire for us in US_PER_KILO_INSTRUCTION]


def load(ms: list[float], shares_per_s: float) -> list[float]:
    """The share of the chip's time that ms per share take at shares_per_s
    (rig-wide); above 1 the chip cannot keep up."""
    return [m * shares_per_s / 1000 for m in ms]
