# ducorig.pool line parsing and connection pacing on both runtimes.
import asyncio
from binascii import unhexlify

from ducorig import pool
from ducorig.ticks import ticks_diff, ticks_ms

H1 = b"ba29a15896fd2d792d5c4b60668bf2b9feebc51d"
H2 = b"d0beba883d7e8cd119ea2b0e09b78f60f29e0968"


def kind_of(fn, *args):
    """The kind of the PoolError fn raises, and its text."""
    try:
        fn(*args)
    except pool.PoolError as e:
        return e.kind, str(e)
    raise AssertionError("no PoolError")


def raises(exc_type, fn, *args):
    try:
        fn(*args)
    except exc_type as e:
        return str(e)
    raise AssertionError("%s not raised" % exc_type.__name__)


def test_parse_job_line():
    last, expected, digest, diff = pool.parse_job(b"%s,%s,8" % (H1, H2))
    assert (last, expected, diff) == (H1, H2, 8) and digest == unhexlify(H2)


def test_parse_job_rejects_malformed_lines():
    garbage = [
        b"%s,%s" % (H1, H2),              # 2 fields
        b"%s,%s,8,9" % (H1, H2),          # 4 fields
        b"%s,%s,8" % (H1[:-1] + b"g", H2),  # non-hex
        b"%s,%s,8" % (H1, H2[:39]),       # short hash
        b"%s,%s,eight" % (H1, H2),        # non-numeric difficulty
        b"%s,%s,-8" % (H1, H2),
        b"%s,%s,0" % (H1, H2),
        b"",
        b"GOOD",
    ]
    for line in garbage:
        assert kind_of(pool.parse_job, line)[0] == pool.GARBAGE, line


def test_parse_job_error_line_is_a_pool_message():
    kind, text = kind_of(pool.parse_job, b"BAD,No username specified")
    assert kind == pool.MESSAGE and "No username specified" in text


def test_parse_feedback_lines():
    assert pool.parse_feedback(b"GOOD") == ("GOOD", None)
    assert pool.parse_feedback(b"BLOCK") == ("BLOCK", None)
    assert pool.parse_feedback(b"BAD,Too low starting difficulty") == ("BAD", "Too low starting difficulty")
    assert pool.parse_feedback(b"BAD") == ("BAD", "")
    assert pool.parse_feedback(b"BAD,Incorrect result,extra") == ("BAD", "Incorrect result,extra")
    for line in (b"good", b"GOODX", b"", b"%s,%s,8" % (H1, H2)):
        assert kind_of(pool.parse_feedback, line)[0] == pool.GARBAGE, line


def test_fields_with_commas_are_refused_up_front():
    raises(ValueError, pool.PoolClient, "127.0.0.1", 1, "al,ice")
    raises(ValueError, pool.PoolClient, "127.0.0.1", 1, "alice", "k,ey")
    c = pool.PoolClient("127.0.0.1", 1, "alice")
    assert c._job_format % "AVR" == "JOB,alice,AVR,None"  # official miners send the literal None


def test_backoff_doubles_to_a_cap_with_a_quarter_of_jitter():
    assert pool.backoff_ms(0, 100, 500) == 0
    for failures, delay in ((1, 100), (2, 200), (3, 400), (4, 500), (40, 500)):
        for _ in range(20):
            assert delay <= pool.backoff_ms(failures, 100, 500) <= delay + delay // 4, failures


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
    except pool.PoolError as e:
        assert e.kind == pool.REFUSED and "127.0.0.1:1" in str(e)
    else:
        raise AssertionError("connect to port 1 succeeded")
    assert not c.connected
