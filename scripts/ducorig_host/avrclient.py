"""A simulated AVR miner on the host: one pool connection through the device
client `ducorig.pool`, shares solved with `ducorig.duco`, and the hashing time
an AVR at `hashrate` H/s would need spent asleep. `ducorig bench pool` uses it
with no hashing time."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from ducorig import duco
from ducorig.pool import GARBAGE, PoolClient, PoolError, backoff_ms, sweep

log = logging.getLogger("ducorig.avr")


@dataclass
class MinerStats:
    accepted: int = 0
    blocks: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    job_rtt_s: list[float] = field(default_factory=list)  # JOB sent -> job line read
    submit_rtt_s: list[float] = field(default_factory=list)  # result sent -> feedback read
    hash_s: float = 0.0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


class SimulatedAvr:
    def __init__(self, client: PoolClient, ducoid: str, hashrate: float, simulate_hashing: bool = True):
        self.client = client
        self.ducoid = ducoid
        self.hashrate = hashrate
        self.simulate_hashing = simulate_hashing
        self.stats = MinerStats()
        self.failures = 0  # failed shares in a row
        self.first_backoff_ms = 1000

    async def run(self, stop: asyncio.Event, max_shares: int | None = None) -> MinerStats:
        sweeper = asyncio.create_task(sweep([self.client]))  # bounds every pool wait
        try:
            while not stop.is_set() and (max_shares is None or self.stats.accepted < max_shares):
                try:
                    await self.mine_one()
                    self.failures = 0
                except PoolError as e:
                    self.stats.errors[e.kind] = self.stats.errors.get(e.kind, 0) + 1
                    log.warning("%s: %s: %s", self.ducoid, e.kind, e)
                    self.failures += 1
                    await asyncio.sleep(backoff_ms(self.failures, self.first_backoff_ms) / 1000)
        finally:
            sweeper.cancel()
            await self.client.close()
        return self.stats

    async def mine_one(self) -> None:
        if not self.client.connected:
            await self.client.connect()
        t0 = time.perf_counter()
        last, expected, _, diff = await self.client.request_job()
        self.stats.job_rtt_s.append(time.perf_counter() - t0)
        nonce = duco.solve(last, expected, diff)
        if nonce is None:  # the pool's nonce is always in range: a broken job
            raise PoolError(GARBAGE, f"job has no solution in 0..{100 * diff}")
        hash_s = (nonce + 1) / self.hashrate
        if self.simulate_hashing:
            await asyncio.sleep(hash_s)
        self.stats.hash_s += hash_s
        t0 = time.perf_counter()
        kind, reason = await self.client.submit(nonce, self.hashrate, self.ducoid)
        self.stats.submit_rtt_s.append(time.perf_counter() - t0)
        if kind != "BAD":
            self.stats.accepted += 1
            self.stats.blocks += kind == "BLOCK"
        else:
            reason = reason or "BAD"
            self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + 1
            log.info("%s: share rejected: %s", self.ducoid, reason)


def ducoid_for(index: int) -> str:
    """A stable, distinct DUCOID per simulated board, shaped like the sketch's."""
    return f"DUCOID{0xD0C0000000000000 + index:016X}"
