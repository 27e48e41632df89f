# ducorig.pool against a broken pool (tests/badpool.py): each bad reply is a
# clear PoolError and leaves the client closed, never a crash or a hang.
import os

from ducorig import pool


def client(user):
    host, port = os.getenv("DUCORIG_BADPOOL").split(":")
    return pool.PoolClient(host, int(port), user, timeout_ms=2000,
                           limiter=pool.ConnectLimiter(limit=5, window_ms=100))


async def job_error(user):
    c = client(user)
    await c.connect()
    try:
        await c.request_job()
    except pool.PoolError as e:
        assert not c.connected
        return e
    finally:
        await c.close()
    raise AssertionError("no error for " + user)


async def test_a_line_in_three_segments_is_one_job():
    c = client("split")
    await c.connect()
    last, expected, digest, diff = await c.request_job()
    assert (diff, last[:4]) == (10, b"ba29")
    await c.close()


async def test_socket_closed_mid_line():
    e = await job_error("midline")
    assert e.kind == pool.CLOSED and "mid-line" in str(e)


async def test_non_ascii_bytes():
    e = await job_error("nonascii")
    assert e.kind == pool.GARBAGE and "non-ASCII" in str(e)


async def test_over_long_line():
    e = await job_error("overlong")
    assert e.kind == pool.GARBAGE and "longer than" in str(e)


async def test_job_line_with_two_fields():
    e = await job_error("twofields")
    assert e.kind == pool.GARBAGE and "2 fields" in str(e)


async def test_non_numeric_difficulty():
    e = await job_error("nonnumeric")
    assert e.kind == pool.GARBAGE and "difficulty" in str(e)


async def test_closed_without_a_word():
    e = await job_error("silentclose")
    assert e.kind == pool.CLOSED
