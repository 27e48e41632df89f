"""What the host charges the controller's micropython process that an ESP8266
would not pay, so the ESP8266 projection scales only the interpreter's work.

Two costs, each calibrated once per run with the process's own exact CPU time
(the kernel's nanosecond run time, not tick samples):
* a block: every time the process sleeps and wakes again (the event loop's
  idle wait, a blocking socket read) the host's scheduler, timers and, on a
  VM, the hypervisor charge it tens of microseconds; on the chip the idle
  loop costs nothing that the 600x factor should multiply.
* a simulated-bus request: the loopback round trip ducorig.simi2c makes per
  I2C transfer, beyond its blocks; on the chip a transfer is SoftI2C's C
  code, whose time is its wire time (counted apart)."""
from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ducorig_host.simbus.bus import Bus
from ducorig_host.simbus.ducorig import DucorigSlave
from ducorig_host.simbus.server import BusServer
from ducorig_host.simbus.testrig import ducoid_for

LIB_PARENT = Path(__file__).resolve().parents[2] / "lib"
CALIBRATION_ADDRESS = 0x08


@dataclass(frozen=True)
class Usage:
    """A process's exact CPU seconds and how often it blocked (slept) so far."""
    cpu_s: float
    blocks: int

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.cpu_s - other.cpu_s, self.blocks - other.blocks)


@dataclass(frozen=True)
class HostCosts:
    block_us: float  # CPU per sleep-and-wake
    sim_request_us: float  # CPU per simulated-bus round trip, its blocks excluded

    def controller_s(self, usage: Usage, sim_requests: int) -> float:
        """The process's CPU less what the host and the simulated bus charged it."""
        return max(0.0, usage.cpu_s - usage.blocks * self.block_us / 1e6 - sim_requests * self.sim_request_us / 1e6)


def usage_of(pid: int) -> Usage:
    """Run time (/proc/PID/task/*/schedstat, ns) and voluntary context
    switches of every thread of a running process."""
    cpu_ns = blocks = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            cpu_ns += int((task / "schedstat").read_text().split()[0])
            status = (task / "status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that just ended
        blocks += int(status.split("voluntary_ctxt_switches:")[1].split()[0])
    return Usage(cpu_ns / 1e9, blocks)


@functools.cache
def host_costs(micropython: str, count: int = 3000) -> HostCosts:
    """Calibrate both costs on this host: micropython's event loop sleeping
    `count` times, and `count` status reads through ducorig.simi2c, each
    against the same program without the sleeps or the reads."""
    env = dict(os.environ, MICROPYPATH=f"{LIB_PARENT}:.frozen")
    # The event loop's way to sleep, against the same loop only yielding:
    # the interpreter's work is the same, the difference is the host's.
    sleeps = ("import asyncio\nasync def main():\n    for _ in range(%d):\n"
              "        await asyncio.sleep_ms(%d)\nasyncio.run(main())\n")
    yielded, slept = (_run([micropython, "-c", sleeps % (count, ms)], env) for ms in (0, 1))
    block_us = (slept.cpu_s - yielded.cpu_s) / max(1, slept.blocks - yielded.blocks) * 1e6
    server = BusServer(Bus([DucorigSlave(CALIBRATION_ADDRESS, ducoid_for("calibration"))])).start()
    reads = ("from ducorig.simi2c import SimI2C\n"
             f"i2c = SimI2C('127.0.0.1:{server.port}', 100000)\nbuf = bytearray(3)\n"
             f"for _ in range(%d):\n    i2c.readfrom_into({CALIBRATION_ADDRESS}, buf)\n")
    try:
        idle, busy = (_run([micropython, "-c", reads % n], env) for n in (0, count))
    finally:
        server.stop()
    extra = busy - idle
    return HostCosts(round(block_us, 1), round(max(0.0, extra.cpu_s * 1e6 - extra.blocks * block_us) / count, 1))


def _run(command: list[str], env: dict[str, str]) -> Usage:
    """A command's whole CPU time (user + system: their sum is exact) and
    voluntary context switches, run to its end."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{command[0]} exited with {process.returncode}")
    return Usage(usage.ru_utime + usage.ru_stime, usage.ru_nvcsw)
