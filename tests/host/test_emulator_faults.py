"""Fault and latency injection, switched while the emulator runs."""
from __future__ import annotations

import asyncio

import pytest
from test_emulator_support import USER, Miner, make_config, result_line, running, until

from ducorig_host.emulator import Faults
from ducorig_host.emulator.faults import GARBAGE


async def test_drop_closes_after_a_result_without_feedback() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        job = await miner.job()
        assert emu.set_faults(user=USER, drop=1) == Faults(drop=1)
        await miner.send(result_line(job.solve()))
        assert await miner.closed()
        await until(lambda: not emu.connections, "cleanup")
        again = await Miner.connect(emu)  # the count is used up
        assert await again.share() == "GOOD\n"


async def test_garbage_replaces_the_job_then_the_feedback() -> None:
    async with running() as emu:
        emu.set_faults(user=USER, garbage=2)
        miner = await Miner.connect(emu)  # the version line is never garbled
        await miner.send(f"JOB,{USER},AVR,None")
        assert await miner.line() == GARBAGE
        await miner.send("0,338.52,x,None,DUCOID1")  # the server still holds a job
        assert await miner.line() == GARBAGE
        assert emu.connections[0].rejected == 1
        assert await miner.share() == "GOOD\n"


async def test_stall_holds_the_reply_back() -> None:
    async with running() as emu:
        emu.set_faults(user=USER, stall=1, stall_s=0.05)
        miner = await Miner.connect(emu)
        assert await miner.share() == "GOOD\n"  # late, but it comes
        assert emu.state()["faults"]["users"][USER]["stall"] == 0


async def test_stall_longer_than_the_idle_timeout_loses_the_connection() -> None:
    async with running(make_config(mining_idle_timeout_s=0.2)) as emu:
        emu.set_faults(user=USER, stall=1, stall_s=5)
        miner = await Miner.connect(emu)
        await miner.send(f"JOB,{USER},AVR,None")
        assert await miner.closed()  # no job line ever arrived


async def test_bad_burst_rejects_correct_results() -> None:
    async with running() as emu:
        emu.set_faults(user=USER, bad_burst=2, bad_reason="Too many workers")
        miner = await Miner.connect(emu)
        replies = [await miner.share() for _ in range(3)]
        assert replies == ["BAD,Too many workers\n"] * 2 + ["GOOD\n"]
        assert (emu.connections[0].accepted, emu.connections[0].rejected) == (1, 2)


async def test_easy_every_gives_every_nth_job_of_a_connection_the_answer_1() -> None:
    async with running() as emu:
        emu.set_faults(user=USER, easy_every=2)
        miner = await Miner.connect(emu)
        answers = []
        for _ in range(4):
            answers.append((await miner.job()).solve())
            await miner.send(result_line(answers[-1]))
            assert await miner.line() == b"GOOD\n"
        assert answers[1] == answers[3] == 1 and 1 not in (answers[0], answers[2]), answers


async def test_threadid_rule_hits_one_connection_only() -> None:
    async with running() as emu:
        first, second = await Miner.connect(emu), await Miner.connect(emu)
        target = emu.connections[1].threadid
        emu.set_faults(threadid=target, bad_burst=5)
        assert await first.share() == "GOOD\n"
        assert await second.share() == "BAD,Incorrect result\n"


async def test_user_rule_counts_are_shared_by_its_connections() -> None:
    async with running() as emu:
        emu.set_faults(user=USER, bad_burst=1)
        first, second = await Miner.connect(emu), await Miner.connect(emu)
        assert [await first.share(), await second.share()] == ["BAD,Incorrect result\n", "GOOD\n"]


def test_fault_validation() -> None:
    from ducorig_host.emulator.faults import FaultBoard
    board = FaultBoard()
    for bad in ({"drop": -1}, {"drop": 1.5}, {"stall": "x"}, {"bad_reason": "a\nb"}, {"easy_every": 0.5}, {"nope": 1}):
        with pytest.raises(ValueError):
            board.set(user=USER, **bad)
    with pytest.raises(ValueError):
        board.set(drop=1)
    assert board.set(user=USER, drop=1) == Faults(drop=1)
    assert board.set(user=USER, garbage=2) == Faults(drop=1, garbage=2)  # merged


async def test_latency_delays_every_reply_including_the_version() -> None:
    # A delay can only make replies later, so a lower bound is a safe assertion.
    async with running(make_config(rtt_ms=150)) as emu:
        loop = asyncio.get_running_loop()
        start = loop.time()
        miner = await Miner.connect(emu)
        assert loop.time() - start >= 0.14
        emu.set_latency(rtt_ms=0)
        emu.set_latency(user=USER, rtt_ms=150)
        start = loop.time()
        assert await miner.share() == "GOOD\n"
        assert loop.time() - start >= 2 * 0.14


async def test_jitter_never_reorders_replies() -> None:
    motd = make_config().motd
    async with running(make_config(rtt_ms=20, jitter_ms=20)) as emu:
        for _ in range(5):
            miner = await Miner.connect(emu, greet=False)
            await miner.send("MOTD")  # queued behind the still-delayed version line
            assert await miner.exactly(4 + len(motd)) == b"2.5\n" + motd.encode()
            await miner.close()
