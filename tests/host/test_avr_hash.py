"""The Pro Mini DUCO-S1 core (firmware/minipro) built with avr-gcc and run
cycle-exactly in simavr, checked against hashlib."""
from __future__ import annotations

import hashlib
import random

import pytest

from ducorig_host import avrbench
from tests import avr_toolchain

OFFICIAL = avrbench.Job("ba29a15896fd2d792d5c4b60668bf2b9feebc51d", "d0beba883d7e8cd119ea2b0e09b78f60f29e0968", 10, 50)


def random_jobs() -> list[avrbench.Job]:
    """Seeded jobs: random answers, the nonce-length boundaries, the inclusive
    maximum 100*diff, and targets just past it (not found). About 100k hashes."""
    rng = random.Random(2024)
    jobs = []
    for diff, count in ((6, 14), (8, 14), (16, 12), (100, 5)):
        jobs += [avrbench.make_job(rng, diff, rng.randint(0, 100 * diff)) for _ in range(count)]
        jobs += [avrbench.make_job(rng, diff, 100 * diff), avrbench.make_job(rng, diff, None)]
    jobs += [avrbench.make_job(rng, 16, n) for n in (0, 9, 10, 99, 100, 999, 1000)]
    jobs += [avrbench.make_job(rng, 100, 9999), avrbench.make_job(rng, 100, None)]
    return jobs


@pytest.fixture(scope="module")
def elf():
    avr_toolchain.require()
    return avrbench.build()


@pytest.fixture(scope="module")
def sim(elf):
    with avrbench.AvrSim(elf) as sim:
        yield sim


def test_the_official_self_test_vector(sim):
    assert hashlib.sha1(f"{OFFICIAL.last_hash}50".encode()).hexdigest() == OFFICIAL.expected
    assert sim.mine(OFFICIAL)[0] == 50


def test_enough_seeded_jobs_of_each_kind():
    jobs = random_jobs()
    assert len(jobs) >= 50
    assert {j.diff for j in jobs} == {6, 8, 16, 100}
    assert sum(j.nonce is None for j in jobs) >= 4


@pytest.mark.parametrize("job", random_jobs(), ids=lambda j: f"diff{j.diff}-{'none' if j.nonce is None else j.nonce}")
def test_random_jobs_match_hashlib(sim, job):
    assert sim.mine(job)[0] == job.nonce


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_chunked_search_finds_the_same_nonce(sim, chunk):
    rng = random.Random(chunk)
    for nonce in (0, 9, 99, 405):
        assert sim.mine(avrbench.make_job(rng, 6, nonce), chunk)[0] == nonce


def test_search_starts_at_from(sim):
    job = avrbench.make_job(random.Random(5), 8, 123)
    assert sim.search(job.last_hash, job.expected, 123, 800, 5)[0] == 123
    assert sim.search(job.last_hash, job.expected, 124, 800, 5)[0] is None
    assert sim.search(job.last_hash, job.expected, 57, 122, 1000)[0] is None


@pytest.mark.parametrize("word", range(4))
def test_a_target_matching_only_in_the_last_word_is_not_found(sim, word):
    # The last word passes the early a76 check, so rounds 76..79 run and the
    # full compare must refuse; the search then goes on to the end.
    job = avrbench.make_job(random.Random(word), 6, 300)
    near = bytearray.fromhex(job.expected)
    near[4 * word] ^= 1
    assert sim.search(job.last_hash, near.hex(), 290, 310, 21)[0] is None


def test_long_nonces_and_a_new_digit_mid_chunk(sim):
    rng = random.Random(10)
    for first, nonce, last in ((99_999_990, 100_000_004, 100_000_010), (4_294_967_290, 4_294_967_293, 4_294_967_294)):
        job = avrbench.make_job(rng, 1, nonce)
        assert sim.search(job.last_hash, job.expected, first, last, 8)[0] == nonce


def test_cycle_counts_repeat_exactly(elf):
    # Same job in a fresh simulator: the same cycles, Timer0 interrupts included.
    counts = set()
    for _ in range(2):
        with avrbench.AvrSim(elf) as sim:
            counts.add(sim.mine(OFFICIAL)[1])
    assert len(counts) == 1


def test_bench_figures(elf):
    figures = avrbench.figures(jobs=4)
    assert figures["cycles_per_hash"] < avrbench.OFFICIAL_CYCLES_PER_HASH
    assert figures["hs_16mhz"] == pytest.approx(2 * figures["hs_8mhz"], rel=0.01)
    assert 0 < figures["flash_bytes"] <= 30720 and 0 < figures["ram_bytes"] < 2048
    assert figures["compiler"].startswith("avr-gcc ")
    # the sketch sleeps between capped nonces: awake for about a hash per nonce, not 5.6
    hashes_per_share = figures["hashes"] / figures["jobs"]
    assert figures["active_cycles_per_share"] < 1.3 * hashes_per_share * figures["cycles_per_hash"]
    assert figures["capped_true_hs"] <= figures["cap_hs"] == 370
    assert figures["sketch_cycles_per_hash"] < 1.05 * figures["cycles_per_hash"]
    assert figures["sketch_flash_bytes"] <= 30720 and figures["sketch_ram_bytes"] < 1200
