"""`ducorig sim --slaves avr:3` in short: the real controller (MicroPython)
drives three simulated Pro Minis (the sketch in simavr, in real time) that
mine on the pool emulator, each with the DUCOID of its own chip serial.
Guarded like every AVR test: skipped without the tool chain, failed under
CI=true."""
from __future__ import annotations

import re
import time
from pathlib import Path

from ducorig_host.simrig import SimRig, SimSpec
from tests import avr_toolchain

SLAVES = 3
DEADLINE_S = 300.0  # only turns a hang into a failure


def booked(rig: SimRig) -> list[tuple[str | None, int]]:
    """(DUCOID, accepted shares) of each miner the emulator's books list (a
    connection is listed from its 2nd accepted share on)."""
    miners = rig.emulator.call(lambda: rig.emulator.emulator.miners(rig.spec.user))
    return [(stats.ducoid, stats.accepted) for stats in miners]


def test_three_simulated_pro_minis_mine_with_distinct_ducoids(tmp_path: Path) -> None:
    avr_toolchain.require()
    rig = SimRig(SimSpec(["avr"] * SLAVES), tmp_path)
    rig.start()
    try:
        deadline = time.monotonic() + DEADLINE_S
        while len(miners := booked(rig)) < SLAVES:
            assert rig.alive(), (tmp_path / "rig.log").read_text()
            assert time.monotonic() < deadline, f"booked after {DEADLINE_S:.0f} s: {miners}"
            time.sleep(0.5)
    finally:
        rig.stop()
    ducoids = {ducoid for ducoid, _ in miners}
    assert len(miners) == len(ducoids) == SLAVES, miners
    assert all(re.fullmatch(r"DUCOID[0-9A-F]{16}", str(ducoid)) for ducoid in ducoids), miners
    assert all(accepted > 0 for _, accepted in miners), miners
