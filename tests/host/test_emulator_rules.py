"""Every rejection reason of mining.js, tier moves, limits and the Kolka index."""
from __future__ import annotations

from test_emulator_support import USER, Miner, make_config, result_line, running, until

from ducorig_host.emulator import Tier
from ducorig_host.emulator.tiers import parse_tier


async def test_incorrect_result() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        job = await miner.job()
        await miner.send(result_line(job.solve() + 1))
        assert await miner.line() == b"BAD,Incorrect result\n"
        (session,) = emu.connections
        assert (session.accepted, session.rejected) == (0, 1)


async def test_non_positive_hashrate_is_invalid_data_and_not_counted() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        for hashrate in ("0", "-5"):
            job = await miner.job()
            await miner.send(result_line(job.solve(), hashrate=hashrate))
            assert await miner.line() == b"BAD,Invalid data\n"
        (session,) = emu.connections
        # mining.js counts neither accepted nor rejected for reject_shares reasons.
        assert (session.accepted, session.rejected) == (0, 0)


async def test_missing_hashrate_passes_the_tier_checks() -> None:
    # NaN compares false with both tier bounds, so a correct nonce is GOOD.
    async with running() as emu:
        miner = await Miner.connect(emu)
        job = await miner.job()
        await miner.send(result_line(job.solve(), hashrate=""))
        assert await miner.line() == b"GOOD\n"


async def test_too_high_starting_difficulty_moves_one_tier_down() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        job = await miner.job(tier="MEGA")
        assert job.diff == 16
        await miner.send(result_line(job.solve(), hashrate="200"))
        assert await miner.line() == b"BAD,Too high starting difficulty\n"
        job = await miner.job()
        assert job.diff == 6
        await miner.send(result_line(job.solve(), hashrate="50"))  # AVR is the bottom: stays
        assert await miner.line() == b"BAD,Too high starting difficulty\n"
        assert (await miner.job()).diff == 6
        assert emu.connections[0].rejected == 2


async def test_too_low_starting_difficulty_moves_one_tier_up() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        job = await miner.job()
        await miner.send(result_line(job.solve(), hashrate="380"))  # max is exclusive
        assert await miner.line() == b"BAD,Too low starting difficulty\n"
        job = await miner.job()
        assert job.diff == 16
        await miner.send(result_line(job.solve(), hashrate="450"))
        assert await miner.line() == b"GOOD\n"
        assert emu.connections[0].tier.name == "MEGA"


async def test_top_tier_stays() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        job = await miner.job(tier="DUE")
        await miner.send(result_line(job.solve(), hashrate="6000"))
        assert await miner.line() == b"BAD,Too low starting difficulty\n"
        assert (await miner.job()).diff == 500


async def test_custom_tier_table_order() -> None:
    tiers = (Tier("SLOW", 2, 0, 100, 1000.0), Tier("FAST", 3, 100, 200, 1000.0))
    async with running(make_config(tiers=tiers)) as emu:
        miner = await Miner.connect(emu)
        job = await miner.job(tier="SLOW")
        assert job.diff == 2
        await miner.send(result_line(job.solve(), hashrate="150"))
        assert await miner.line() == b"BAD,Too low starting difficulty\n"
        assert (await miner.job()).diff == 3


async def test_a_rate_between_two_tiers_bounces_on_every_share() -> None:
    # The real pool code, given AVR [90, 330) and MEGA [380, 550) and a slave
    # at 340 H/s, moved the connection AVR -> MEGA -> AVR on every share.
    tiers = (parse_tier("AVR:6:90:330"), parse_tier("MEGA:16:380:550"))
    async with running(make_config(tiers=tiers)) as emu:
        miner = await Miner.connect(emu)
        job = await miner.job()
        diffs, feedback = [], []
        for _ in range(6):
            diffs.append(job.diff)
            await miner.send(result_line(job.solve(), hashrate="340"))
            feedback.append((await miner.line()).decode().strip())
            job = await miner.job()
        assert diffs == [6, 16, 6, 16, 6, 16]
        assert feedback == ["BAD,Too low starting difficulty", "BAD,Too high starting difficulty"] * 3
        assert emu.connections[0].accepted == 0 and emu.connections[0].rejected == 6


async def test_unknown_or_empty_tier_falls_back_to_net() -> None:
    async with running() as emu:
        for tier in ("I2C", ""):
            miner = await Miner.connect(emu)
            assert (await miner.job(tier=tier)).diff == 100000


async def test_too_low_difficulty_over_the_share_limit() -> None:
    async with running(make_config(max_shares_per_minute=3)) as emu:
        miner = await Miner.connect(emu)
        replies = [await miner.share() for _ in range(3)]
        job = await miner.job()
        await miner.send(result_line(job.solve(), hashrate="-1"))  # also invalid: the later check wins
        replies.append((await miner.line()).decode())
        replies.append(await miner.share())
        assert replies == ["GOOD\n"] * 3 + ["BAD,Too low difficulty\n"] * 2


async def test_share_counter_resets_in_the_stats_block_after_the_window() -> None:
    async with running(make_config(max_shares_per_minute=3, share_window_s=0)) as emu:
        miner = await Miner.connect(emu)
        assert [await miner.share() for _ in range(8)] == ["GOOD\n"] * 8


async def test_too_many_workers_with_51_connections() -> None:
    async with running() as emu:
        miners = [await Miner.connect(emu) for _ in range(51)]
        jobs = [await miner.job() for miner in miners]
        assert emu.books.user_workers[USER] == 51
        await miners[50].send(result_line(jobs[50].solve()))
        assert await miners[50].line() == b"BAD,Too many workers\n"
        # The connection is kept, and the limit hits every worker of the user.
        assert await miners[0].share(jobs[0]) == "GOOD\n"  # its job predates the 51st
        assert await miners[0].share() == "BAD,Too many workers\n"
        await miners.pop().close()
        await until(lambda: emu.books.user_workers[USER] == 50, "worker release")
        assert await miners[0].share() == "GOOD\n"


async def test_kolka_index_counts_workers_and_drops_when_others_close() -> None:
    async with running() as emu:
        miners = [await Miner.connect(emu) for _ in range(3)]
        for miner in miners:
            await miner.job()
        assert sorted(s.ki for s in emu.connections) == [1, 2, 3]
        last = emu.connections[-1]
        for miner in miners[:2]:
            await miner.close()
        await until(lambda: len(emu.connections) == 1, "two closes")
        assert last.ki == 3              # lowered only at the next job request
        await miners[2].send(result_line(0))
        await miners[2].line()
        await miners[2].job()
        assert last.ki == 1


async def test_kolka_index_uses_the_ip_count_across_users() -> None:
    async with running() as emu:
        miners = {user: await Miner.connect(emu) for user in ("alice", "bob")}
        for user, miner in miners.items():
            await miner.job(user=user)
        assert sorted(s.ki for s in emu.connections) == [1, 2]
        assert emu.books.ip_workers == {"127.0.0.1": 2}
