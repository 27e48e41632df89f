"""Loopback services that device tests need, started once per pytest session.

Each starter returns the environment variables through which device code on
both runtimes finds its service (MicroPython runs get them via the process
environment)."""
from __future__ import annotations

import os
from collections.abc import Callable

_stoppers: list[Callable[[], None]] = []


def pool_emulator() -> dict[str, str]:
    """The pool emulator; users named fault-* get fault rules (tests/device/test_pool.py)."""
    from ducorig_host.emulator import EmulatorConfig, EmulatorThread

    thread = EmulatorThread(EmulatorConfig(seed=1))
    thread.start()
    _stoppers.append(thread.stop)
    emulator = thread.emulator
    forever = 10**6
    thread.call(lambda: emulator.set_faults(user="fault-drop", drop=forever))
    thread.call(lambda: emulator.set_faults(user="fault-garbage", garbage=forever))
    thread.call(lambda: emulator.set_faults(user="fault-stall", stall_s=5.0, stall=forever))
    thread.call(lambda: emulator.set_faults(user="fault-bad", bad_burst=forever, bad_reason="Burst of BADs"))
    thread.call(lambda: emulator.set_faults(user="fault-easy", easy_every=3))
    return {
        "DUCORIG_POOL": f"127.0.0.1:{emulator.pool_port}",
        "DUCORIG_REST": f"http://127.0.0.1:{emulator.http_port}",
    }


def bounce_pool() -> dict[str, str]:
    """A pool emulator whose tier table fits neither the ducorig slaves'
    340 H/s (MEGA <-> ARM) nor yaum's 196 H/s (AVR <-> MEGA): tier bounce."""
    from ducorig_host.emulator import EmulatorConfig, EmulatorThread
    from ducorig_host.emulator.tiers import parse_tier

    tiers = tuple(parse_tier(spec) for spec in ("AVR:4:90:190", "MEGA:6:200:330", "ARM:8:380:550"))
    thread = EmulatorThread(EmulatorConfig(seed=2, tiers=tiers))
    thread.start()
    _stoppers.append(thread.stop)
    return {"DUCORIG_BOUNCE_POOL": f"127.0.0.1:{thread.emulator.pool_port}"}


def bad_pool() -> dict[str, str]:
    from tests.badpool import BadPool

    bad = BadPool()
    _stoppers.append(bad.close)
    return {"DUCORIG_BADPOOL": f"127.0.0.1:{bad.port}"}


def sim_buses() -> dict[str, str]:
    """The simulated I2C buses with the slave models (conformance, faults, shim)."""
    from ducorig_host.simbus import testrig

    env, servers = testrig.serve()
    _stoppers.extend(server.stop for server in servers)
    return env


def rig_bus() -> dict[str, str]:
    """A bus for the rig tests: three ducorig slaves (0x08-0x0a), one yaum (0x0b)."""
    from ducorig_host.simbus.bus import Bus
    from ducorig_host.simbus.ducorig import DucorigSlave
    from ducorig_host.simbus.server import BusServer
    from ducorig_host.simbus.testrig import ducoid_for
    from ducorig_host.simbus.yaum import YaumSlave

    slaves = [DucorigSlave(0x08 + i, ducoid_for(f"rig/{i}")) for i in range(3)]
    server = BusServer(Bus([*slaves, YaumSlave(0x0B, ducoid_for("rig/yaum"))])).start()
    _stoppers.append(server.stop)
    return {"DUCORIG_RIG_BUS": f"127.0.0.1:{server.port}"}


STARTERS: list[Callable[[], dict[str, str]]] = [pool_emulator, bounce_pool, bad_pool, sim_buses, rig_bus]
_started = False


def start_all() -> None:
    global _started
    if not _started:
        _started = True
        for starter in STARTERS:
            os.environ.update(starter())


def stop_all() -> None:
    while _stoppers:
        _stoppers.pop()()
