"""The simulated buses the device tests use (started by tests/services.py).
Three bus servers keep families of tests from disturbing each other (a scan
touches every slave, SDA held low stops a whole bus).

Each bus is announced in two environment variables:
DUCORIG_<NAME>=127.0.0.1:<port> and DUCORIG_<NAME>_SLAVES=<role>=<address>,...
"""
from __future__ import annotations

import hashlib

from ducorig_host.simbus.bus import Bus
from ducorig_host.simbus.ours import DucorigSlave
from ducorig_host.simbus.server import BusServer
from ducorig_host.simbus.wire import WireSlave
from ducorig_host.simbus.yaum import YaumSlave

FAST = 1_000_000.0  # H/s for the seeded random jobs: hashing time stays negligible

# bus variable -> (role, model, home address, H/s or None for the model's default)
LAYOUT: dict[str, list[tuple[str, type[WireSlave], int, float | None]]] = {
    "DUCORIG_BUS": [  # the conformance suite
        ("ours", DucorigSlave, 0x10, None),
        ("ours-fast", DucorigSlave, 0x11, FAST),
        ("yaum", YaumSlave, 0x20, None),
        ("yaum-fast", YaumSlave, 0x21, FAST),
    ],
    "DUCORIG_FAULT_BUS": [  # tests/device/test_simbus_faults.py
        ("ours", DucorigSlave, 0x10, None),
        ("yaum", YaumSlave, 0x20, None),
    ],
    "DUCORIG_SHIM_BUS": [  # tests/device/test_simbus.py
        ("ours", DucorigSlave, 0x30, None),
        ("below-scan", DucorigSlave, 0x05, None),
        ("above-scan", DucorigSlave, 0x7A, None),
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
        bus = Bus(model(address, ducoid_for(f"{var}/{role}"), rate) for role, model, address, rate in slaves)
        servers.append(BusServer(bus).start())
        env[var] = f"127.0.0.1:{servers[-1].port}"
        env[var + "_SLAVES"] = ",".join(f"{role}={address}" for role, _, address, _ in slaves)
    return env, servers
