"""`ducorig sim`: the pool emulator with simulated AVR miners mining against it.

This is the interim main job: the full simulated rig (MicroPython controller,
virtual Pro Minis on a simulated I2C bus) replaces the host-side miners when
it lands. Every miner still goes through the device pool client."""
from __future__ import annotations

import argparse
import asyncio
import logging
import time

from ducorig.pool import ConnectLimiter, PoolClient
from ducorig_host.avrclient import MinerStats, SimulatedAvr, ducoid_for
from ducorig_host.emulator import EmulatorConfig, PoolEmulator
from ducorig_host.percentile import percentile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--miners", type=int, default=3, help="simulated AVR miners (default 3)")
    parser.add_argument("--hashrate", type=float, default=340.0, help="H/s of each miner (default 340)")
    parser.add_argument("--rtt", type=float, default=0.0, help="pool round-trip time to simulate, ms")
    parser.add_argument("--jitter", type=float, default=0.0, help="uniform jitter on the RTT, ms")
    parser.add_argument("--minutes", type=float, default=1.0, help="how long to mine (default 1)")
    parser.add_argument("--user", default="ducorig-sim", help="pool username")
    parser.add_argument("--status-every", type=float, default=10.0, help="seconds between status lines")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(simulate(args))


async def simulate(args: argparse.Namespace) -> int:
    emulator = PoolEmulator(EmulatorConfig(rtt_ms=args.rtt, jitter_ms=args.jitter))
    await emulator.start()
    print(f"pool emulator: pool 127.0.0.1:{emulator.pool_port}, REST http://127.0.0.1:{emulator.http_port}")
    print(f"  try: curl http://127.0.0.1:{emulator.http_port}/users/{args.user}")
    limiter = ConnectLimiter()
    miners = [
        SimulatedAvr(
            PoolClient("127.0.0.1", emulator.pool_port, args.user, software="ducorig I2C sim",
                       rig=f"sim-{i}", wallet_id=2811, limiter=limiter),
            ducoid_for(i), args.hashrate)
        for i in range(args.miners)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(m.run(stop)) for m in miners]
    start = time.monotonic()
    try:
        deadline = start + args.minutes * 60
        while time.monotonic() < deadline:
            await asyncio.sleep(min(args.status_every, max(0.0, deadline - time.monotonic())))
            print(status_line(time.monotonic() - start, [m.stats for m in miners], emulator.balance(args.user)))
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.monotonic() - start
        print(summary([m.stats for m in miners], elapsed, args))
        await emulator.stop()
    return 0


def status_line(elapsed: float, stats: list[MinerStats], balance: float) -> str:
    shares = " ".join(f"{s.accepted}/{s.rejected_total}" for s in stats)
    return f"{elapsed:6.0f}s  accepted/rejected per miner: {shares}  balance {balance:.4f} DUCO"


def summary(stats: list[MinerStats], elapsed: float, args: argparse.Namespace) -> str:
    accepted = sum(s.accepted for s in stats)
    rejected = sum(s.rejected_total for s in stats)
    job = [t for s in stats for t in s.job_rtt_s]
    submit = [t for s in stats for t in s.submit_rtt_s]
    # Busy: the share of the wall time each miner spent hashing (the rest is waiting).
    busy = " ".join(f"{s.hash_s / elapsed:.0%}" for s in stats)
    lines = [
        f"summary: {len(stats)} miners, {elapsed:.0f} s, {accepted} accepted, {rejected} rejected,"
        f" {accepted / elapsed:.2f} shares/s, hashing {busy} of the time",
    ]
    if job and submit:
        lines.append(f"  pool latency: job {ms(job)}, result {ms(submit)}")
    return "\n".join(lines)


def ms(samples: list[float]) -> str:
    return f"median {percentile(samples, 50) * 1000:.2f} ms, p95 {percentile(samples, 95) * 1000:.2f} ms"
