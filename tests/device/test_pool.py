# ducorig.pool against the local pool emulator (`ducorig pool`), on both
# runtimes. The emulator is started by tests/conftest.py; its address comes in
# DUCORIG_POOL. Users named fault-* have fault rules set there.
import os

from ducorig import duco, pool

DUCOID = "DUCOID5A3F1C0B99124E31"


def client(user, timeout_ms=5000, **kw):
    host, port = os.getenv("DUCORIG_POOL").split(":")
    return pool.PoolClient(host, int(port), user, software="ducorig I2C test",
                           rig="test-rig", timeout_ms=timeout_ms,
                           limiter=pool.ConnectLimiter(limit=5, window_ms=100), **kw)


async def mine(c, hashrate=340.0, nonce_offset=0):
    job = await c.request_job()
    nonce = duco.solve(job.last_hash, job.expected_hash, job.diff)
    assert nonce is not None
    return job, await c.submit(nonce + nonce_offset, hashrate, DUCOID)


async def expect(exc_type, coro):
    try:
        await coro
    except exc_type as e:
        return str(e)
    raise AssertionError("%s not raised" % exc_type.__name__)


async def test_mines_20_shares_all_good():
    c = client("device-miner", wallet_id=2811)
    assert await c.connect() == "2.5"  # read as a line, not 3 bytes
    kinds = []
    for _ in range(20):
        job, result = await mine(c)
        assert job.diff == 6
        kinds.append(result.kind)
    await c.close()
    assert kinds == ["GOOD"] * 20


async def test_motd_has_no_terminator_and_leaves_the_stream_clean():
    c = client("device-motd")
    await c.connect()
    text = await c.motd(wait_ms=300)
    assert len(text) > 0 and "\n" not in text
    job, result = await mine(c)
    assert result.kind == "GOOD"
    await c.close()


async def test_wrong_nonce_is_incorrect_result_and_connection_survives():
    c = client("device-wrong")
    await c.connect()
    job, result = await mine(c, nonce_offset=1)
    assert (result.kind, result.reason) == ("BAD", "Incorrect result")
    job, result = await mine(c)
    assert result.kind == "GOOD"
    await c.close()


async def test_zero_hashrate_is_invalid_data():
    c = client("device-zero")
    await c.connect()
    job, result = await mine(c, hashrate=0)
    assert (result.kind, result.reason) == ("BAD", "Invalid data")
    await c.close()


async def test_tier_moves_up_and_down_with_the_reported_hashrate():
    c = client("device-tier")
    await c.connect()
    job, result = await mine(c, hashrate=500.0)  # >= AVR max 380
    assert (job.diff, result.reason) == (6, "Too low starting difficulty")
    job, result = await mine(c, hashrate=50.0)  # now MEGA: < its min 380
    assert (job.diff, result.reason) == (16, "Too high starting difficulty")
    job, result = await mine(c)
    assert (job.diff, result.kind) == (6, "GOOD")
    await c.close()


async def test_dropped_connection_is_pool_closed():
    c = client("fault-drop")
    await c.connect()
    await expect(pool.PoolClosed, mine(c))
    assert not c.connected
    await expect(pool.PoolClosed, c.request_job())  # no reuse of a dead link


async def test_garbage_reply_is_pool_garbage():
    c = client("fault-garbage")
    await c.connect()
    await expect(pool.PoolGarbage, c.request_job())
    assert not c.connected


async def test_stall_is_a_timeout_and_a_reconnect_mines_again():
    c = client("fault-stall", timeout_ms=300)
    await c.connect()
    await expect(pool.PoolTimeout, c.request_job())
    assert not c.connected
    ok = client("device-after-stall")
    await ok.connect()
    job, result = await mine(ok)
    assert result.kind == "GOOD"
    await ok.close()


async def test_bad_burst_is_parsed_as_rejects():
    c = client("fault-bad")
    await c.connect()
    job, result = await mine(c)
    assert (result.kind, result.reason) == ("BAD", "Burst of BADs")
    await c.close()
