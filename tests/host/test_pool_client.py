"""The device pool client against emulators configured for the BAD reasons a
shared session emulator cannot show (CPython; the device tests cover the rest
on both runtimes), plus the host-side miner and pool discovery."""
from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

from ducorig import duco
from ducorig.pool import ConnectLimiter, PoolClient, PoolError
from ducorig_host.avrclient import SimulatedAvr, ducoid_for
from ducorig_host.emulator import EmulatorConfig, PoolEmulator
from ducorig_host.getpool import PoolDiscoveryError, get_pool

DUCOID = "DUCOID5A3F1C0B99124E31"


@pytest.fixture
async def emulator(request):
    config = getattr(request, "param", EmulatorConfig(seed=3))
    emu = PoolEmulator(config)
    await emu.start()
    yield emu
    await emu.stop()


def client(emu: PoolEmulator, user: str = "alice", **kw) -> PoolClient:
    return PoolClient("127.0.0.1", emu.pool_port, user, timeout_ms=3000,
                      limiter=ConnectLimiter(limit=100, window_ms=100), **kw)


async def mine(c: PoolClient, hashrate: float = 340.0) -> str:
    last, expected, _, diff = await c.request_job()
    return feedback(await c.submit(duco.solve(last, expected, diff), hashrate, DUCOID))


def feedback(result: tuple[str, str | None]) -> str:
    kind, reason = result
    return kind if reason is None else f"{kind},{reason}"


@pytest.mark.parametrize("emulator", [EmulatorConfig(seed=3, max_workers=2)], indirect=True)
async def test_too_many_workers(emulator):
    clients = [client(emulator) for _ in range(3)]
    for c in clients:
        await c.connect()
    # Workers are counted at each connection's first JOB, checked at every JOB.
    assert [await mine(c) for c in clients] == ["GOOD", "GOOD", "BAD,Too many workers"]
    assert [await mine(c) for c in clients] == ["BAD,Too many workers"] * 3
    await clients[2].close()
    await asyncio.sleep(0.05)  # the emulator books the close
    assert await mine(clients[0]) == "GOOD"
    for c in clients:
        await c.close()


@pytest.mark.parametrize("emulator", [EmulatorConfig(seed=3, max_shares_per_minute=3)], indirect=True)
async def test_too_low_difficulty_past_the_share_rate_cap(emulator):
    c = client(emulator)
    await c.connect()
    answers = [await mine(c) for _ in range(5)]
    assert answers == ["GOOD"] * 3 + ["BAD,Too low difficulty"] * 2
    await c.close()


@pytest.mark.parametrize("emulator", [EmulatorConfig(seed=3, block_chance=1)], indirect=True)
async def test_block_is_an_accepted_share(emulator):
    c = client(emulator)
    await c.connect()
    assert await mine(c) == "BLOCK"
    await c.close()


async def test_a_second_message_before_the_answer_is_refused(emulator):
    c = client(emulator)
    await c.connect()
    first = asyncio.ensure_future(c.request_job())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already waiting"):
        await c.request_job()
    assert (await first)[3] == 6
    await c.close()


async def test_each_bad_reason_reaches_the_client_as_a_reject(emulator):
    c = client(emulator)
    await c.connect()
    assert await mine(c, hashrate=0) == "BAD,Invalid data"
    assert await mine(c, hashrate=500) == "BAD,Too low starting difficulty"
    assert await mine(c, hashrate=50) == "BAD,Too high starting difficulty"
    last, expected, _, diff = await c.request_job()
    wrong = (duco.solve(last, expected, diff) + 1) % (100 * diff + 1)
    assert feedback(await c.submit(wrong, 340.0, DUCOID)) == "BAD,Incorrect result"
    await c.close()


async def test_simulated_miner_reconnects_after_a_drop_and_keeps_mining(emulator):
    emulator.set_faults(user="bob", drop=1)
    miner = SimulatedAvr(client(emulator, "bob"), ducoid_for(0), 340.0, simulate_hashing=False)
    miner.first_backoff_ms = 10
    stats = await miner.run(asyncio.Event(), max_shares=5)
    assert stats.accepted == 5
    assert stats.errors == {"closed": 1}


async def test_rest_users_lists_the_miners_of_a_mining_client(emulator):
    c = client(emulator, wallet_id=2811, software="ducorig I2C test", rig="rig-1")
    await c.connect()
    for _ in range(12):
        assert await mine(c) == "GOOD"
    url = f"http://127.0.0.1:{emulator.http_port}/users/alice"
    body = await asyncio.to_thread(lambda: json.load(urllib.request.urlopen(url, timeout=5)))
    await c.close()
    (miner,) = body["result"]["miners"]
    assert (miner["accepted"], miner["software"], miner["identifier"], miner["wd"]) == (12, "ducorig I2C test", "rig-1", 2811)
    assert body["result"]["balance"]["balance"] > 0  # shares 11 and 12 were past the first 10


async def test_getpool_returns_the_emulator_itself(emulator):
    api = f"http://127.0.0.1:{emulator.http_port}"
    pool = await asyncio.to_thread(get_pool, api)
    assert (pool.host, pool.port) == ("127.0.0.1", emulator.pool_port)
    with pytest.raises(PoolDiscoveryError):
        await asyncio.to_thread(get_pool, "http://127.0.0.1:1", 2.0)


async def test_pool_errors_are_one_family():
    c = PoolClient("127.0.0.1", 1, "alice", timeout_ms=1000, limiter=ConnectLimiter(limit=2))
    with pytest.raises(PoolError):
        await c.connect()
