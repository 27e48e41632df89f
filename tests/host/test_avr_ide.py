"""The sketch through the Arduino tools' own .ino handling: `make -C
firmware/minipro ide-check` builds minipro.ino with Debian's arduino-builder
(the IDE's preprocessing with generated prototypes) and arduino-mk, both
clocks, into firmware/minipro/build/ (ignored by git). Skipped without the
tools, failed under CI=true, like every AVR test."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from ducorig_host.simbus.avr import FIRMWARE
from tests import avr_toolchain

ARDUINO_MK = Path("/usr/share/arduino/Arduino.mk")
PRO_MINI_FLASH = 30720  # 32 KB minus the stock bootloader
PRO_MINI_RAM = 2048
BUILDS = [f"{tool}{board}" for tool in ("arduino-builder pro:cpu=", "arduino-mk pro ")
          for board in ("16MHzatmega328", "8MHzatmega328")]


def test_ide_check_builds_the_sketch_with_both_tools_and_both_clocks() -> None:
    avr_toolchain.require(*[name for name, found in (("arduino-builder", shutil.which("arduino-builder")),
                                                     (f"arduino-mk ({ARDUINO_MK})", ARDUINO_MK.is_file()))
                            if not found])
    proc = subprocess.run(["make", "-s", "-C", str(FIRMWARE), "ide-check"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sizes = {m["build"]: (int(m["flash"]), int(m["ram"]))
             for m in re.finditer(r"^(?P<build>.+): flash (?P<flash>\d+) RAM (?P<ram>\d+)$", proc.stdout, re.M)}
    assert sorted(sizes) == sorted(BUILDS), proc.stdout
    for flash, ram in sizes.values():
        assert 0 < flash <= PRO_MINI_FLASH and 0 < ram < PRO_MINI_RAM
