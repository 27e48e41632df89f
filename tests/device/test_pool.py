# ducorig.pool against the local pool emulator (`ducorig pool`), on both
# runtimes. The emulator is started by tests/conftest.py; its address comes in
# DUCORIG_POOL. Users named fault-* have fault rules set there.
import asyncio
import os

from ducorig import duco, pool

DUCOID = "DUCOID5A3F1C0B99124E31"


def client(user, timeout_ms=5000, **kw):
    host, port = os.getenv("DUCORIG_POOL").split(":")
    return pool.PoolClient(host, int(port), user, software="ducorig I2C test",
                           rig="test-rig", timeout_ms=timeout_ms,
                           limiter=pool.ConnectLimiter(limit=5, window_ms=100), **kw)


async def mine(c, hashrate=340.0, nonce_offset=0):
    """One share: (difficulty, (kind, reason))."""
    last, expected, digest, diff = await c.request_job()
    nonce = duco.solve(last, expected, diff)
    assert nonce is not None
    return diff, await c.submit(nonce + nonce_offset, hashrate, DUCOID)


async def expect(kind, coro):
    try:
        await coro
    except pool.PoolError as e:
        assert e.kind == kind, (kind, e.kind, str(e))
        return str(e)
    raise AssertionError("no %s error" % kind)


async def test_mines_20_shares_all_good():
    c = client("device-miner", wallet_id=2811)
    assert await c.connect() == "2.5"  # read as a line, not 3 bytes
    kinds = []
    for _ in range(20):
        diff, (kind, reason) = await mine(c)
        assert diff == 6
        kinds.append(kind)
    await c.close()
    assert kinds == ["GOOD"] * 20


async def test_motd_has_no_terminator_and_leaves_the_stream_clean():
    c = client("device-motd")
    await c.connect()
    text = await c.motd(wait_ms=300)
    assert len(text) > 0 and "\n" not in text
    assert (await mine(c))[1] == ("GOOD", None)
    await c.close()


async def test_wrong_nonce_is_incorrect_result_and_connection_survives():
    c = client("device-wrong")
    await c.connect()
    assert (await mine(c, nonce_offset=1))[1] == ("BAD", "Incorrect result")
    assert (await mine(c))[1] == ("GOOD", None)
    await c.close()


async def test_zero_hashrate_is_invalid_data():
    c = client("device-zero")
    await c.connect()
    assert (await mine(c, hashrate=0))[1] == ("BAD", "Invalid data")
    await c.close()


async def test_tier_moves_up_and_down_with_the_reported_hashrate():
    c = client("device-tier")
    await c.connect()
    diff, (kind, reason) = await mine(c, hashrate=500.0)  # >= AVR max 380
    assert (diff, reason) == (6, "Too low starting difficulty")
    diff, (kind, reason) = await mine(c, hashrate=50.0)  # now MEGA: < its min 380
    assert (diff, reason) == (16, "Too high starting difficulty")
    diff, (kind, reason) = await mine(c)
    assert (diff, kind) == (6, "GOOD")
    await c.close()


async def test_dropped_connection_is_pool_closed():
    c = client("fault-drop")
    await c.connect()
    await expect(pool.CLOSED, mine(c))
    assert not c.connected
    await expect(pool.CLOSED, c.request_job())  # no reuse of a dead link


async def test_garbage_reply_is_pool_garbage():
    c = client("fault-garbage")
    await c.connect()
    await expect(pool.GARBAGE, c.request_job())
    assert not c.connected


async def test_stall_is_a_timeout_and_a_reconnect_mines_again():
    # The rig bounds every exchange with one sweep over its connections; a
    # lone client runs pool.sweep itself.
    c = client("fault-stall", timeout_ms=300)
    sweeper = asyncio.create_task(pool.sweep([c]))
    try:
        await c.connect()
        await expect(pool.TIMEOUT, c.request_job())  # the pool would answer after its 5 s stall
        assert not c.connected
    finally:
        sweeper.cancel()
    ok = client("device-after-stall")
    await ok.connect()
    assert (await mine(ok))[1] == ("GOOD", None)
    await ok.close()


async def test_bad_burst_is_parsed_as_rejects():
    c = client("fault-bad")
    await c.connect()
    assert (await mine(c))[1] == ("BAD", "Burst of BADs")
    await c.close()
