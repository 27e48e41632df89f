"""Byte-exact transcripts of the pool's TCP protocol (revoxhere/duino-coin-pools
src/connectionHandler.js, src/mining.js)."""
from __future__ import annotations

import asyncio
import hashlib
import re

from test_emulator_support import (DUCOID, USER, Job, Miner, make_config, result_line, running,
                                   until)

from ducorig_host.emulator.session import State

MOTD = "Welcome to the first Duino-Coin pool!"


async def test_greeting_is_the_version_line() -> None:
    async with running(make_config(version="3.0")) as emu:
        miner = await Miner.connect(emu, greet=False)
        assert await miner.line() == b"3.0\n"


async def test_reading_three_bytes_of_the_version_leaves_the_newline() -> None:
    # Section 2.1: a client reading exactly 3 bytes gets "\n" as its next read.
    async with running() as emu:
        miner = await Miner.connect(emu, greet=False)
        assert await miner.exactly(3) == b"2.5"
        await miner.send(f"JOB,{USER},AVR,None")
        assert await miner.line() == b"\n"
        assert re.fullmatch(rb"[0-9a-f]{40},[0-9a-f]{40},6\n", await miner.line())


async def test_motd_has_no_terminator() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        await miner.send("MOTD\n")
        assert await miner.exactly(len(MOTD)) == MOTD.encode()
        # Were there a "\n" after the MOTD, it would be read here instead of the job.
        job = await miner.job()
        assert job.diff == 6


async def test_motd_and_job_in_one_segment_are_ignored() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        await miner.send(f"MOTD\nJOB,{USER},AVR,None\n")
        (session,) = emu.connections
        await until(lambda: session.messages == 1)
        assert session.state is State.HANDSHAKE and session.username is None
        await miner.send("PING")  # unknown commands are ignored too
        await until(lambda: session.messages == 2)
        assert session.state is State.HANDSHAKE
        assert (await miner.job()).diff == 6  # nothing was queued before the job


async def test_job_line_and_real_avr_result_line() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        await miner.send(f"JOB,{USER},AVR,None\n")
        line = await miner.line()
        assert re.fullmatch(rb"[0-9a-f]{40},[0-9a-f]{40},6\n", line)
        job = Job.parse(line)
        assert job.last_hash == "ba29a15896fd2d792d5c4b60668bf2b9feebc51d"
        nonce = job.solve()
        assert 1 <= nonce <= 600
        assert hashlib.sha1(f"{job.last_hash}{nonce}".encode()).hexdigest() == job.expected
        await miner.send(f"{nonce},338.52,Official AVR Miner 4.3,None,{DUCOID}")
        assert await miner.line() == b"GOOD\n"
        (session,) = emu.connections
        assert (session.accepted, session.rejected, session.ducoid) == (1, 0, DUCOID)


async def test_esp_style_six_fields_with_newline() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        for _ in range(2):
            job = await miner.job()
            await miner.send(result_line(job.solve(), software="AVR I2C v4.3", rig="AVR-I2C-3",
                                         wd="1234", end="\n"))
            assert await miner.line() == b"GOOD\n"
        (stats,) = emu.miners(USER)
        assert (stats.wd, stats.software, stats.identifier) == (1234, "AVR I2C v4.3", "AVR-I2C-3")


async def test_too_many_fields_before_job_is_incorrect_data() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        await miner.send(f"JOB,{USER},AVR,None,iot,x,y")
        assert await miner.line() == b"BAD,Incorrect data\n"
        assert await miner.closed()


async def test_job_without_username() -> None:
    async with running() as emu:
        for request in ("JOB,,AVR,None", "JOB\n"):
            miner = await Miner.connect(emu)
            await miner.send(request)
            assert await miner.line() == b"BAD,No username specified\n"
            assert await miner.closed()


async def test_banned_user() -> None:
    async with running(make_config(banned_users=frozenset({"mallory"}))) as emu:
        miner = await Miner.connect(emu)
        await miner.send("JOB,mallory,AVR,None")
        assert await miner.line() == b"BAD,User banned\n"
        assert await miner.closed()
        assert "mallory" not in emu.books.accounts


async def test_high_bit_bytes_are_cleared_like_node_ascii() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        await miner.send(b"\xcaOB,alice,AVR,None")  # 0xCA & 0x7F == "J"
        assert Job.parse(await miner.line()).diff == 6
        assert emu.connections[0].username == USER


async def test_last_hash_advances_every_second_accepted_share() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        first = await miner.job()
        assert await miner.share(first) == "GOOD\n"
        second = await miner.job()
        assert second.last_hash == first.last_hash
        assert await miner.share(second) == "GOOD\n"
        third = await miner.job()
        assert third.last_hash == second.expected


async def test_result_and_job_in_one_segment_mismatch_the_ducoid_and_stall() -> None:
    # Section 2.8: the JOB is swallowed into field 4 of the result.
    async with running(make_config(mining_idle_timeout_s=0.5)) as emu:
        miner = await Miner.connect(emu)
        for _ in range(11):
            assert await miner.share() == "GOOD\n"
        (session,) = emu.connections
        job = await miner.job()
        await miner.send(result_line(job.solve()) + f"\nJOB,{USER},AVR,None")
        assert await miner.line() == b"GOOD\n"
        assert (session.accepted, session.rejected, session.zero_reward) == (12, 1, 1)
        assert session.state is State.AWAIT_REQUEST  # the server waits for a job request...
        assert await miner.closed()                 # ...that never comes: idle timeout, no job sent


async def test_idle_timeout_before_first_job() -> None:
    async with running(make_config(idle_timeout_s=0.2)) as emu:
        miner = await Miner.connect(emu)
        assert await miner.closed()
        await until(lambda: not emu.connections, "connection cleanup")


async def test_idle_timeout_while_mining_frees_the_worker() -> None:
    async with running(make_config(mining_idle_timeout_s=0.2)) as emu:
        miner = await Miner.connect(emu)
        await miner.job()
        assert emu.books.user_workers == {USER: 1}
        assert await miner.closed()
        await until(lambda: not emu.books.user_workers and not emu.books.ip_workers, "worker release")


async def test_traffic_resets_the_idle_timer() -> None:
    async with running(make_config(idle_timeout_s=0.4)) as emu:
        miner = await Miner.connect(emu)
        for _ in range(6):  # 6 x 0.1 s > 0.4 s, yet every MOTD keeps it alive
            await miner.send("MOTD")
            assert await miner.exactly(len(MOTD)) == MOTD.encode()
            await asyncio.sleep(0.1)
        assert (await miner.job()).diff == 6
