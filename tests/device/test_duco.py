# ducorig.duco on both runtimes: the official self-test vector and seeded
# random jobs checked against hashlib.
import hashlib
import random
from binascii import hexlify

from ducorig import duco

# The official AVR miner's start-up self-test (revoxhere/duino-coin AVR_Miner.py).
SELFTEST = ("ba29a15896fd2d792d5c4b60668bf2b9feebc51d",
            "d0beba883d7e8cd119ea2b0e09b78f60f29e0968", 10, 50)


def sha1_hex(text):
    return hexlify(hashlib.sha1(text.encode()).digest()).decode()


def random_job(diff, nonce):
    last = sha1_hex(str(random.getrandbits(30)))
    return last, sha1_hex(last + str(nonce))


def test_official_self_test_vector():
    last, expected, diff, nonce = SELFTEST
    assert duco.solve(last, expected, diff) == nonce


def test_seeded_random_jobs_match_hashlib():
    random.seed(2811)
    solved = 0
    for diff in (1, 6, 8, 16, 100):
        for _ in range(6):
            nonce = random.getrandbits(20) % (100 * diff + 1)
            last, expected = random_job(diff, nonce)
            assert duco.solve(last, expected, diff) == nonce, (last, diff, nonce)
            solved += 1
    assert solved == 30


def test_range_edges_are_inclusive():
    random.seed(7)
    for nonce in (0, 600):  # diff 6: 0..600 inclusive
        last, expected = random_job(6, nonce)
        assert duco.solve(last, expected, 6) == nonce


def test_not_found_returns_none():
    random.seed(8)
    for diff in (1, 6):
        last, expected = random_job(diff, 100 * diff + 1)  # just out of range
        assert duco.solve(last, expected, diff) is None


def test_nonce_is_decimal_without_leading_zeros():
    last, expected = random_job(1, 7)
    # "07" would give another hash: only the plain decimal form matches
    assert sha1_hex(last + "07") != expected
    assert duco.solve(last, expected, 1) == 7


def test_hashrate_counts_nonce_plus_one_hashes():
    assert duco.hashrate(339, 1000000) == 340.0
    assert duco.hashrate(0, 2000) == 500.0
    assert duco.hashrate(10, 0) == 0.0
