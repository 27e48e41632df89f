# The conformance suite (conformance.py) against the real sketch,
# firmware/minipro compiled with avr-gcc and run in simavr on the simulated
# bus (scripts/ducorig_host/simbus/avr.py): every check, under the same test
# names as for the model. The tests exist only where the AVR tool chain is
# installed (a device test cannot skip on MicroPython); without it,
# tests/host/test_avr_sketch.py fails under CI=true.
import os

import conformance

TOOL_CHAIN = ("/usr/bin/avr-gcc", "/usr/include/simavr/sim_avr.h",
              "/usr/share/arduino/hardware/arduino/avr/cores/arduino/Arduino.h")


def _installed(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


if all(_installed(path) for path in TOOL_CHAIN):
    conformance.bind(__name__, conformance.DUCORIG, "DUCORIG_AVR_BUS", "avr", "avr-fast")
