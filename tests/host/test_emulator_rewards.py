"""Reward booking, DUCOID and mining-key rules, miner statistics."""
from __future__ import annotations

import math
import re

import pytest
from test_emulator_support import DUCOID, USER, Miner, make_config, running, until

from ducorig_host.emulator.tiers import (AVR_REFERENCE_HASHRATE, DEFAULT_TIERS, SHARE_OVERHEAD_S,
                                         UPDATE_EVERY, calibrated_reward_div)

AVR = DEFAULT_TIERS[0]
# Loopback shares take well under 0.5 s, so the reward uses the reported rate.
REWARD = 2 * math.log(338.52) / AVR.reward_div


async def test_reward_booked_after_ten_shares_on_every_second_share() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        balances = []
        for _ in range(16):
            assert await miner.share() == "GOOD\n"
            balances.append(emu.balance(USER))
        expected = [0.0] * 11 + [REWARD, REWARD, 2 * REWARD, 2 * REWARD, 3 * REWARD]
        assert balances == pytest.approx(expected)


async def test_reward_shrinks_with_the_kolka_index() -> None:
    async with running(make_config(accounts={"bob": None})) as emu:
        first, second = await Miner.connect(emu), await Miner.connect(emu)
        await first.job()  # occupies ki 1 for alice
        for _ in range(12):
            assert await second.share() == "GOOD\n"
        assert emu.balance(USER) == pytest.approx(REWARD * 0.96)


def test_avr_divisor_is_calibrated_to_twelve_duco_a_day() -> None:
    share_s = (50 * AVR.diff + 0.5) / AVR_REFERENCE_HASHRATE + SHARE_OVERHEAD_S
    per_day = 86400 / share_s / UPDATE_EVERY * AVR.reward(AVR_REFERENCE_HASHRATE, 1)
    assert per_day == pytest.approx(12.0)
    assert AVR.reward_div == calibrated_reward_div(343, 6)


async def test_miner_listed_after_the_second_share_and_gone_on_close() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        await miner.share(rig="Rig_1/A (x)")
        assert emu.miners(USER) == []
        await miner.share(rig="Rig_1/A (x)")
        (stats,) = emu.miners(USER)
        assert re.fullmatch(r"[0-9a-f]{16}", stats.threadid)
        assert stats.api() == {
            "threadid": stats.threadid, "username": USER, "hashrate": 338.52,
            "sharetime": stats.sharetime, "accepted": 2, "rejected": 0, "diff": 6,
            "software": "Official AVR Miner 4.3", "identifier": "Rig 1 A (x)",
            "algorithm": "DUCO-S1", "pool": "ducorig-emulator", "wd": None, "ki": 1,
            "ducoid": DUCOID, "tier": "AVR", "zero_reward": 0,
        }
        await miner.share()  # odd share: no refresh
        assert emu.miners(USER)[0].accepted == 2
        await miner.close()
        await until(lambda: emu.miners(USER) == [], "unlisting")


async def test_changed_ducoid_answers_good_but_pays_nothing() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        for _ in range(10):
            await miner.share()
        replies = [await miner.share(ducoid="DUCOID0000000000000000"),
                   await miner.share(ducoid=None),
                   await miner.share(), await miner.share()]
        assert replies == ["GOOD\n"] * 4
        (session,) = emu.connections
        assert (session.accepted, session.rejected, session.zero_reward) == (14, 2, 2)
        # Shares 12 (zero) and 14 (paid) were booked.
        assert emu.balance(USER) == pytest.approx(REWARD)


async def test_no_ducoid_on_the_first_result_never_pays() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        for _ in range(14):
            assert await miner.share(ducoid=None) == "GOOD\n"
        assert emu.balance(USER) == 0
        assert emu.connections[0].zero_reward == 4


async def test_wrong_mining_key_still_good_but_no_credit_and_not_listed() -> None:
    async with running(make_config(accounts={USER: "secret"})) as emu:
        wrong, right = await Miner.connect(emu), await Miner.connect(emu)
        for _ in range(12):
            job = await wrong.job(key="nope")
            assert await wrong.share(job) == "GOOD\n"
        assert emu.balance(USER) == 0 and emu.miners(USER) == []
        for _ in range(12):
            job = await right.job(key="secret")
            assert await right.share(job) == "GOOD\n"
        assert emu.balance(USER) == pytest.approx(REWARD * 0.96)  # ki 2
        assert [s.threadid for s in emu.miners(USER)] == [emu.connections[1].threadid]


async def test_legacy_key_in_the_rig_field() -> None:
    async with running(make_config(accounts={USER: "secret"})) as emu:
        miner = await Miner.connect(emu)
        for _ in range(12):
            await miner.share(rig="Rig1:secret")
        assert emu.balance(USER) == pytest.approx(REWARD)
        assert emu.miners(USER)[0].identifier == "Rig1"


async def test_block_adds_the_block_reward() -> None:
    async with running(make_config(block_chance=1)) as emu:
        miner = await Miner.connect(emu)
        assert [await miner.share() for _ in range(2)] == ["BLOCK\n"] * 2
        assert emu.balance(USER) == pytest.approx(28.11)  # only share 2 was booked


async def test_unregistered_user_is_created_on_first_job() -> None:
    async with running() as emu:
        assert emu.balance("carol") is None
        await (miner := await Miner.connect(emu)).job(user="carol")
        assert emu.balance("carol") == 0.0
        await miner.close()
