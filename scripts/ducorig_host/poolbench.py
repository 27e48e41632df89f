"""`ducorig bench pool`: the emulator's per-share latency on loopback, measured
through the device pool client with no hashing time."""
from __future__ import annotations

import argparse
import asyncio
import sys

from ducorig.pool import ConnectLimiter, PoolClient
from ducorig_host.avrclient import SimulatedAvr, ducoid_for
from ducorig_host.emulator import EmulatorConfig, PoolEmulator
from ducorig_host.percentile import percentile
from ducorig_host.bench import Progress, print_figures

SHARES_PER_S = 1500  # what one loopback miner gets through, about (no hashing time)
DEFAULT_RUN = "{time}: 1 miner x 500 shares"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--miners", type=int, default=1,
                        help="pool connections mining at once, each a simulated AVR (default 1)")
    parser.add_argument("--shares", type=int, default=500, help="accepted shares per miner (default 500)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def estimate_s(args: argparse.Namespace) -> float:
    return 1.0 + args.miners * args.shares / SHARES_PER_S


def run(args: argparse.Namespace) -> int:
    if args.miners < 1 or args.shares < 1:
        print("ducorig bench pool: --miners and --shares must be at least 1", file=sys.stderr)
        return 2
    progress = Progress("pool", 1, estimate_s(args))
    progress.step(f"{args.miners} miner(s) x {args.shares} shares")
    figures = asyncio.run(bench_pool(args.miners, args.shares))
    progress.done()
    print_figures(figures, args.json)
    return 0


async def bench_pool(miners: int, shares: int) -> dict[str, float | int]:
    # No share-rate cap: the benchmark mines far faster than an AVR could.
    emulator = PoolEmulator(EmulatorConfig(max_shares_per_minute=10**9))
    await emulator.start()
    limiter = ConnectLimiter()
    try:
        sims = [
            SimulatedAvr(PoolClient("127.0.0.1", emulator.pool_port, "bench", rig=f"bench-{i}", limiter=limiter),
                         ducoid_for(i), 340.0, simulate_hashing=False)
            for i in range(miners)
        ]
        stop = asyncio.Event()
        stats = await asyncio.gather(*(s.run(stop, max_shares=shares) for s in sims))
    finally:
        await emulator.stop()
    job = [t * 1000 for s in stats for t in s.job_rtt_s]
    submit = [t * 1000 for s in stats for t in s.submit_rtt_s]
    cycle = [(a + b) * 1000 for s in stats for a, b in zip(s.job_rtt_s, s.submit_rtt_s)]
    return {
        "miners": miners,
        "shares": sum(s.accepted for s in stats),
        "rejected": sum(s.rejected_total for s in stats),
        "job_ms_median": round(percentile(job, 50), 3),
        "job_ms_p95": round(percentile(job, 95), 3),
        "result_ms_median": round(percentile(submit, 50), 3),
        "result_ms_p95": round(percentile(submit, 95), 3),
        "share_ms_median": round(percentile(cycle, 50), 3),
        "share_ms_p95": round(percentile(cycle, 95), 3),
    }
