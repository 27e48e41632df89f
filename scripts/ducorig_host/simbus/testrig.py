"""The simulated buses the device tests use (started by tests/services.py).
Separate bus servers keep families of tests from disturbing each other (a
scan touches every slave, SDA held low stops a whole bus).

Each bus is announced in two environment variables:
DUCORIG_<NAME>=127.0.0.1:<port> and DUCORIG_<NAME>_SLAVES=<role>=<address>,...
A bus whose slaves cannot be made (the AVR bus without its tool chain, or
when the sketch does not build) is not started; DUCORIG_<NAME>_ERROR says why.
"""
from __future__ import annotations

import hashlib

from ducorig_host.simbus.avr import AvrSlave, HarnessError, missing_tools
from ducorig_host.simbus.bus import Bus
from ducorig_host.simbus.ducorig import DucorigSlave
from ducorig_host.simbus.server import BusServer
from ducorig_host.simbus.wire import WireSlave
from ducorig_host.simbus.yaum import YaumSlave

FAST = 1_000_000.0  # H/s for the seeded random jobs: hashing time stays negligible
# The sketch in simavr, lockstep: the transcripts in the bus's own time (the
# model's timing margins), the seeded random jobs (uncapped) at up to 6x,
# a little more than this host simulates an AVR hashing flat out (4.8x).
AVR = AvrSlave.variant(time_scale=1.0)
AVR_FAST = AvrSlave.variant(time_scale=6.0)

# bus variable -> (role, model, home address, H/s or None for the model's default)
LAYOUT: dict[str, list[tuple[str, type[WireSlave], int, float | None]]] = {
    "DUCORIG_BUS": [  # the conformance suite
        ("ducorig", DucorigSlave, 0x10, None),
        ("ducorig-fast", DucorigSlave, 0x11, FAST),
        ("yaum", YaumSlave, 0x20, None),
        ("yaum-fast", YaumSlave, 0x21, FAST),
    ],
    "DUCORIG_FAULT_BUS": [  # tests/device/test_simi2c_faults.py
        ("ducorig", DucorigSlave, 0x10, None),
        ("yaum", YaumSlave, 0x20, None),
    ],
    "DUCORIG_SHIM_BUS": [  # tests/device/test_simi2c.py
        ("ducorig", DucorigSlave, 0x30, None),
        ("below-scan", DucorigSlave, 0x05, None),
        ("above-scan", DucorigSlave, 0x7A, None),
    ],
    "DUCORIG_AVR_BUS": [  # tests/device/test_conformance_avr.py: firmware/minipro in simavr
        ("avr", AVR, 0x12, None),
        ("avr-fast", AVR_FAST, 0x13, None),
    ],
}


def ducoid_for(name: str) -> str:
    """A stable DUCOID of the official shape, distinct per slave."""
    return "DUCOID" + hashlib.sha1(name.encode()).hexdigest()[:16].upper()


def serve() -> tuple[dict[str, str], list[BusServer]]:
    """Start a bus server per bus of LAYOUT: (environment, servers)."""
    env: dict[str, str] = {}
    servers = []
    for var, slaves in LAYOUT.items():
        if any(issubclass(model, AvrSlave) for _, model, _, _ in slaves) and missing_tools():
            env[var + "_ERROR"] = "AVR tool chain missing: " + ", ".join(missing_tools())
            continue
        try:
            bus = Bus(model(address, ducoid_for(f"{var}/{role}"), rate) for role, model, address, rate in slaves)
        except HarnessError as e:
            env[var + "_ERROR"] = str(e)[:2000]
            continue
        servers.append(BusServer(bus).start())
        env[var] = f"127.0.0.1:{servers[-1].port}"
        env[var + "_SLAVES"] = ",".join(f"{role}={address}" for role, _, address, _ in slaves)
    return env, servers
