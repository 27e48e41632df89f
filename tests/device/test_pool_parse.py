# ducorig.pool line parsing and connection pacing on both runtimes.
import asyncio

from ducorig import pool
from ducorig.ticks import ticks_diff, ticks_ms

H1 = "ba29a15896fd2d792d5c4b60668bf2b9feebc51d"
H2 = "d0beba883d7e8cd119ea2b0e09b78f60f29e0968"


def raises(exc_type, fn, *args):
    try:
        fn(*args)
    except exc_type as e:
        return str(e)
    raise AssertionError("%s not raised" % exc_type.__name__)


def test_parse_job_line():
    job = pool.parse_job("%s,%s,8" % (H1, H2))
    assert (job.last_hash, job.expected_hash, job.diff) == (H1, H2, 8)


def test_parse_job_rejects_malformed_lines():
    garbage = [
        "%s,%s" % (H1, H2),              # 2 fields
        "%s,%s,8,9" % (H1, H2),          # 4 fields
        "%s,%s,8" % (H1[:-1] + "g", H2),  # non-hex
        "%s,%s,8" % (H1, H2[:39]),       # short hash
        "%s,%s,eight" % (H1, H2),        # non-numeric difficulty
        "%s,%s,-8" % (H1, H2),
        "%s,%s,0" % (H1, H2),
        "",
        "GOOD",
    ]
    for line in garbage:
        raises(pool.PoolGarbage, pool.parse_job, line)


def test_parse_job_error_line_is_a_pool_message():
    text = raises(pool.PoolMessage, pool.parse_job, "BAD,No username specified")
    assert "No username specified" in text


def test_parse_result_lines():
    assert pool.parse_result("GOOD").accepted
    block = pool.parse_result("BLOCK")
    assert block.accepted and block.kind == "BLOCK"
    bad = pool.parse_result("BAD,Too low starting difficulty")
    assert not bad.accepted
    assert bad.reason == "Too low starting difficulty"
    assert pool.parse_result("BAD").reason == ""
    assert pool.parse_result("BAD,Incorrect result,extra").reason == "Incorrect result,extra"
    for line in ("good", "GOODX", "", "%s,%s,8" % (H1, H2)):
        raises(pool.PoolGarbage, pool.parse_result, line)


def test_fields_with_commas_are_refused_up_front():
    raises(ValueError, pool.PoolClient, "127.0.0.1", 1, "al,ice")
    raises(ValueError, pool.PoolClient, "127.0.0.1", 1, "alice", "k,ey")
    c = pool.PoolClient("127.0.0.1", 1, "alice")
    assert c.key == "None"  # official miners send the literal None


def test_backoff_doubles_to_a_cap_and_resets():
    b = pool.Backoff(first_ms=100, max_ms=500)
    delays = []
    for _ in range(5):
        b.failed()
        delays.append(b.delay_ms)
    assert delays == [100, 200, 400, 500, 500]
    b.succeeded()
    assert b.delay_ms == 0 and b.failures == 0


async def test_connect_limiter_never_exceeds_its_window():
    limiter = pool.ConnectLimiter(limit=4, window_ms=150)
    stamps = []

    async def connector():
        for _ in range(3):
            await limiter.acquire()
            stamps.append(ticks_ms())

    await asyncio.gather(connector(), connector(), connector(), connector())
    assert len(stamps) == 12
    stamps.sort()
    # any 5 consecutive connects span at least the window
    for i in range(len(stamps) - 4):
        assert ticks_diff(stamps[i + 4], stamps[i]) >= 150 - 2, stamps


async def test_connect_to_a_closed_port_is_refused():
    c = pool.PoolClient("127.0.0.1", 1, "alice", timeout_ms=3000,
                        limiter=pool.ConnectLimiter(limit=2))
    try:
        await c.connect()
    except pool.PoolRefused as e:
        assert "127.0.0.1:1" in str(e)
    else:
        raise AssertionError("connect to port 1 succeeded")
    assert not c.connected
