"""Pure helpers: Node/JavaScript parsing, tiers, the reward formula."""
from __future__ import annotations

import math

import pytest

from ducorig_host.emulator import Tier
from ducorig_host.emulator.tiers import DEFAULT_TIERS, FALLBACK_TIER, TierTable, parse_tier
from ducorig_host.emulator.wire import (decode, iot_reading, js_parse_float, js_parse_int,
                                        sanitize_name, split_message)


def test_decode_clears_the_high_bit() -> None:
    assert decode(b"\xcaOB,\xe1") == "JOB,a"


def test_split_trims_only_javascript_whitespace() -> None:
    assert split_message(" \tJOB,a\r\n") == ["JOB", "a"]
    assert split_message("MOTD\nJOB,a") == ["MOTD\nJOB", "a"]
    assert split_message("\x1cX") == ["\x1cX"]


@pytest.mark.parametrize(("text", "value"), [
    ("338.52", 338.52), ("  12abc", 12.0), (".5", 0.5), ("1e3x", 1000.0), ("-4", -4.0),
    ("Infinity", math.inf), ("+7.", 7.0),
])
def test_parse_float(text: str, value: float) -> None:
    assert js_parse_float(text) == value


@pytest.mark.parametrize("text", ["", "abc", "e5", None, "-", "infinity"])
def test_parse_float_nan(text: str | None) -> None:
    assert math.isnan(js_parse_float(text))


@pytest.mark.parametrize(("text", "value"), [
    ("412", 412), (" 12xyz", 12), ("0x1F", 31), ("-3", -3), ("3.9", 3), ("", None), ("x1", None),
    (None, None), ("9" * 5000, None),
])
def test_parse_int(text: str | None, value: int | None) -> None:
    assert js_parse_int(text) == value


def test_sanitize_and_iot() -> None:
    assert sanitize_name("AVR_I2C/v4.3 (rig)") == "AVR I2C v4.3 (rig)"
    assert sanitize_name("###") is None and sanitize_name(None) is None
    assert iot_reading("Temp:24.5*C@Hum:40%") == "Temp:24.5*C@Hum:40%"
    assert iot_reading("***") == "Error:incorrect data"
    assert iot_reading("a" * 49) == "Error:data too long"
    assert iot_reading("") is None


def test_tier_table_moves_and_fallback() -> None:
    table = TierTable(DEFAULT_TIERS)
    avr, mega, arm, due = DEFAULT_TIERS
    assert [table.up(t).name for t in DEFAULT_TIERS] == ["MEGA", "ARM", "DUE", "DUE"]
    assert [table.down(t).name for t in DEFAULT_TIERS] == ["AVR", "AVR", "MEGA", "ARM"]
    assert table.lookup("avr") is FALLBACK_TIER and table.lookup("") is FALLBACK_TIER
    assert table.up(FALLBACK_TIER) is FALLBACK_TIER
    own_net = Tier("NET", 50, 0, 10, 1.0)
    assert TierTable([own_net]).lookup("nope") is own_net
    assert [(t.name, t.diff, t.min_hashrate, t.max_hashrate) for t in DEFAULT_TIERS] == [
        ("AVR", 6, 90, 380), ("MEGA", 16, 380, 550), ("ARM", 100, 550, 1000), ("DUE", 500, 1000, 5000)]


def test_parse_tier() -> None:
    assert parse_tier("X:8:100:400:1000") == Tier("X", 8, 100, 400, 1000.0)
    assert parse_tier("X:8:100:400").reward_div > 0
    for bad in ("X:8:100", "X:a:1:2", "X:8:400:100", ":8:1:2", "X:0:1:2", "X:8:1:2:0"):
        with pytest.raises(ValueError):
            parse_tier(bad)


def test_kolka_v1() -> None:
    tier = Tier("T", 6, 0, 1000, 10.0)
    assert tier.reward(100, 1) == pytest.approx(2 * math.log(100) / 10)
    assert tier.reward(100, 3) == pytest.approx(2 * math.log(100) / 10 * 0.96 ** 2)
    assert math.isnan(tier.reward(math.nan, 1)) and math.isnan(tier.reward(0, 1))
