"""`ducorig miners`: grouping by rig, totals, flags, sort keys, --rig,
--config, --json, --watch and the exit codes."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from test_hosttools_support import (FakeClock, Reply, envelope, fake_client, html, miner_json, parse_args,
                                    scripted, user_result, world)  # noqa: F401 (fixtures)

from ducorig_host import miners
from ducorig_host.apimodels import Miner, UserSnapshot
from ducorig_host.emulator.tiers import parse_tier
from ducorig_host.minerreport import SORT_KEYS, Limits, RigConfig, build_report


def snapshot(*raw_miners: dict, max_miners: int | None = None) -> UserSnapshot:
    return UserSnapshot("alice", 1.0, tuple(Miner.from_api(m) for m in raw_miners), max_miners)


def flags_of(report) -> list[str]:
    return [flag for rig in report.rigs for line in rig.lines for flag in line.flags]


def run_json(argv: list[str], capsys) -> dict:
    assert miners.run(parse_args(miners, [*argv, "--json"])) == 0
    return json.loads(capsys.readouterr().out)


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rig.json"
    path.write_text(text)
    return str(path)


# -- against the emulator --------------------------------------------------------------------
def test_table_groups_by_rig_with_totals(world, capsys) -> None:
    assert miners.run(parse_args(miners, ["alice", "--api", world.url])) == 0
    out = capsys.readouterr().out
    assert "alice: 4 miner(s) online (pool limit 50)" in out
    assert "\nrig wallet id 2811 (rig-1)\n  3 miner(s), 1020 H/s, " in out
    assert "\nrig desk-nano\n  1 miner(s), 420 H/s" in out
    assert "\ntotal of 2 rigs\n  4 miner(s), 1440 H/s" in out
    header = next(line for line in out.splitlines() if "DUCOID" in line)
    assert header.split() == ["DUCOID", "thread", "H/s", "diff", "acc", "rej", "share", "s", "ki", "eff"]
    assert "attention: 1 item(s) flagged" in out  # desk-nano's rejected share
    assert "\n  software Official AVR Miner 4.3, pool ducorig-emulator\n" in out
    assert "\n    ! 1 rejected\n" in out


def test_table_fits_80_columns_and_rows_name_their_chip(world, capsys) -> None:
    assert miners.run(parse_args(miners, ["alice", "--api", world.url])) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= 80
    # Each row starts with the DUCOID its slave sends (the console's `d` shows it): rows match slaves.
    ducoids = [miner.ducoid for miner in world.rig.miners[:4]]  # alice's (carol's is the fifth)
    assert len(set(ducoids)) == 4
    for ducoid in ducoids:
        assert sum(line.startswith(f"  {ducoid}  ") for line in lines) == 1
    assert "no DUCOID" not in "\n".join(lines)


def test_without_ducoids_the_table_says_so(scripted, capsys) -> None:
    scripted.set("/v2/users/alice", envelope(user_result(miners=[miner_json(1), miner_json(2, software="x")])))
    assert miners.run(parse_args(miners, ["alice", "--api", scripted.url])) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "thread" in line)
    assert header.split()[0] == "thread" and "no DUCOID: this API does not list" in out
    # The software differs within the rig: each row says its own, under it.
    assert "\n  pool test-pool\n" in out and "\n    software x\n" in out and max(map(len, out.splitlines())) <= 80


def test_json_has_every_field_and_the_efficiency(world, capsys) -> None:
    data = run_json(["alice", "--api", world.url], capsys)
    assert data["user"] == "alice" and data["online"] == 4 and data["totals"]["miners"] == 4
    rigs = {rig["rig"]: rig for rig in data["rigs"]}
    assert set(rigs) == {"desk-nano", "wallet id 2811 (rig-1)"}
    nano = rigs["desk-nano"]["miners"][0]
    assert nano["diff"] == 16 and nano["rejected"] == 1 and nano["flags"] == ["1 rejected"]
    for rig in data["rigs"]:
        for m in rig["miners"]:
            assert m["efficiency"] == pytest.approx(0.96 ** (m["ki"] - 1))
            assert len(m["threadid"]) == 16 and m["pool"] == "ducorig-emulator"
    assert rigs["wallet id 2811 (rig-1)"]["totals"]["full_workers"] == pytest.approx(
        sum(m["efficiency"] for m in rigs["wallet id 2811 (rig-1)"]["miners"]))


@pytest.mark.parametrize("key", sorted(SORT_KEYS))
def test_every_sort_key_orders_the_miners(world, capsys, key: str) -> None:
    for reverse in (False, True):
        data = run_json(["alice", "--api", world.url, "--sort", key, *(["--reverse"] if reverse else [])], capsys)
        (rig,) = [rig for rig in data["rigs"] if rig["wd"] == 2811]
        values = [m[key] for m in rig["miners"]]
        if key == "identifier":
            values = [(m["identifier"], m["threadid"]) for m in rig["miners"]]
        assert values == sorted(values, reverse=reverse)


def test_rig_filter_and_rig_config(world, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, '{"rig": "rig-1", "slaves": [{"address": 8}, {"address": 9}]}')
    data = run_json(["alice", "--api", world.url, "--rig", "rig-1", "--config", config], capsys)
    (rig,) = data["rigs"]
    assert rig["wd"] == 2811 and rig["flags"] == ["3 miners but the rig config has 2 slave(s)"]
    assert data["online"] == 4 and data["totals"]["miners"] == 3
    assert [r["rig"] for r in run_json(["alice", "--api", world.url, "--rig", "2811"], capsys)["rigs"]] == [
        "wallet id 2811 (rig-1)"]
    absent = write_config(tmp_path, '{"rig": "garage", "slaves": [1, 2, 3]}')
    data = run_json(["alice", "--api", world.url, "--config", absent], capsys)
    assert data["flags"] == ["rig 'garage' (rig config) has no miner online"]


def test_rig_filter_without_match_and_user_without_miners(world, capsys) -> None:
    assert miners.run(parse_args(miners, ["alice", "--api", world.url, "--rig", "nope"])) == 0
    assert "no rig named 'nope' online" in capsys.readouterr().out
    assert miners.run(parse_args(miners, ["bob", "--api", world.url])) == 0
    assert "no miner online" in capsys.readouterr().out


def test_a_wrong_mining_key_leaves_the_list_empty(world, capsys) -> None:
    assert run_json(["carol", "--api", world.url], capsys)["online"] == 0


@pytest.mark.parametrize("text, message", [
    ('{"rig": "r"}', '"slaves" must be a list'), ('{"slaves": []}', 'needs a "rig" name'),
    ("{not json", "not JSON"), (None, "No such file"), ('{"rig": "r", "slaves": [], "wallet_id": "7"}', "wallet_id"),
])
def test_bad_rig_config_exits_2(tmp_path: Path, capsys, text: str | None, message: str) -> None:
    path = write_config(tmp_path, text) if text is not None else str(tmp_path / "missing.json")
    assert miners.run(parse_args(miners, ["alice", "--api", "http://127.0.0.1:9", "--config", path])) == 2
    assert message in capsys.readouterr().err


def test_nothing_to_show_exits_1(world, capsys, monkeypatch) -> None:
    assert miners.run(parse_args(miners, ["nobody", "--api", world.url])) == 1
    assert "no such user 'nobody'" in capsys.readouterr().err
    monkeypatch.setattr(miners, "client_from_args", lambda args: fake_client(args.api, FakeClock(), retries=0))
    assert miners.run(parse_args(miners, ["alice", "--api", "http://127.0.0.1:9"])) == 1
    assert "cannot reach the API" in capsys.readouterr().err


# -- flags, from synthetic miners ----------------------------------------------------------
def test_hashrate_windows_by_difficulty() -> None:
    report = build_report(snapshot(miner_json(1, hashrate=400.0), miner_json(2, hashrate=95.0),
                                   miner_json(3, diff=16, hashrate=600.0), miner_json(4, diff=8, hashrate=9999.0),
                                   miner_json(5, hashrate=float("inf"))))
    assert flags_of(report) == ["hashrate 400 H/s outside AVR [90, 380)", "hashrate 600 H/s outside MEGA [380, 550)",
                                "hashrate inf H/s outside AVR [90, 380)"]
    live = Limits(tiers=(parse_tier("AVR:8:100:400"),))
    assert flags_of(build_report(snapshot(miner_json(1, diff=8, hashrate=420.0)), live)) == [
        "hashrate 420 H/s outside AVR [100, 400)"]


def test_rejected_and_efficiency_flags() -> None:
    report = build_report(snapshot(miner_json(1, rejected=3), miner_json(2, ki=9), miner_json(3, ki=10),
                                   miner_json(4, ki=3, software="PC Miner 4.3")))
    assert flags_of(report) == ["3 rejected", "efficiency 69% < 70%", "efficiency 64% < 70%"]
    assert build_report(snapshot(miner_json(1, ki=3)), Limits(min_efficiency=0.95)).rigs[0].lines[0].flags == [
        "efficiency 92% < 95%"]


@pytest.mark.parametrize("count, max_miners, expected", [
    (44, None, []),
    (45, None, ["45 miners: nearing the pool's 50-worker limit"]),
    (51, None, ["51 miners: over the pool's 50-worker limit (every share gets BAD,Too many workers)"]),
    (10, 8, ["10 miners but the account allows 8 (max_miners)"]),
])
def test_worker_limit_flags(count: int, max_miners: int | None, expected: list[str]) -> None:
    raw = [miner_json(n, ki=1) for n in range(count)]
    assert build_report(snapshot(*raw, max_miners=max_miners)).flags == expected


def test_grouping_without_wallet_id_uses_the_identifier() -> None:
    report = build_report(snapshot(miner_json(1, wd=None, identifier="a"), miner_json(2, wd=None, identifier="b"),
                                   miner_json(3, wd=None, identifier="a"), miner_json(4, wd=7, identifier="a")))
    assert [(rig.label, len(rig.lines)) for rig in report.rigs] == [("a", 2), ("b", 1), ("wallet id 7 (a)", 1)]
    two = snapshot(miner_json(1, wd=None, identifier="a"), miner_json(2, wd=None, identifier="a"))
    assert build_report(two, rig_config=RigConfig("a", 1)).rigs[0].flags == [
        "2 miners but the rig config has 1 slave(s)"]


def test_rig_config_matches_by_wallet_id_too(tmp_path: Path) -> None:
    config = RigConfig.load(Path(write_config(tmp_path, '{"rig": "garage", "slaves": [1], "wallet_id": 2811}')))
    assert config == RigConfig("garage", 1, 2811)
    report = build_report(snapshot(miner_json(1), miner_json(2)), rig_config=config)
    assert report.flags == [] and report.rigs[0].flags == ["2 miners but the rig config has 1 slave(s)"]


# -- odd API data and --watch (scripted server) ------------------------------------------------
def test_infinity_shows_as_inf_and_json_null(scripted, capsys) -> None:
    body = envelope(user_result(miners=[miner_json(1)])).body.replace(b"340.0", b"Infinity")
    scripted.set("/v2/users/alice", Reply(200, body, {}))
    assert miners.run(parse_args(miners, ["alice", "--api", scripted.url])) == 0
    assert " inf " in capsys.readouterr().out
    data = run_json(["alice", "--api", scripted.url], capsys)
    assert data["rigs"][0]["miners"][0]["hashrate"] is None and data["totals"]["hashrate"] == 0
    assert all(not path.startswith("/miners") for path in scripted.requests)


def _watch(scripted, argv: list[str]) -> tuple[int, FakeClock]:
    clock = FakeClock()
    args = parse_args(miners, ["alice", "--api", scripted.url, "--watch", *argv])
    view = miners.MinersView(args, fake_client(scripted.url, clock, retries=0), Limits(), None, now=clock.time)
    return miners.watch(view, miners.Screen(), count=3), clock


def test_watch_keeps_the_last_table_when_the_api_fails(scripted, capsys) -> None:
    scripted.set("/v2/users/alice", envelope(user_result(miners=[miner_json(1)])), html(503, "Service Unavailable"),
                 envelope(user_result(miners=[miner_json(1), miner_json(2)])))
    code, clock = _watch(scripted, [])
    frames = re.split(r"\n(?=alice: )", capsys.readouterr().out)
    assert code == 0 and clock.sleeps == [20.0, 20.0] and len(scripted.requests) == 3
    assert "STALE" in frames[1] and "HTTP 503" in frames[1] and "1 miner(s) online" in frames[1]
    assert "2 miner(s) online" in frames[2] and "STALE" not in frames[2]


def test_watch_json_prints_json_lines_and_errors_on_stderr(scripted, capsys) -> None:
    scripted.set("/v2/users/alice", envelope(user_result(miners=[miner_json(1)])), html(503, "Service Unavailable"),
                 envelope(user_result(miners=[miner_json(1)])))
    code, _ = _watch(scripted, ["--json"])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert code == 0 and len(lines) == 2 and all(json.loads(line)["online"] == 1 for line in lines)
    assert "HTTP 503" in captured.err


def test_watch_stops_for_an_unknown_user(world, capsys) -> None:
    args = ["nobody", "--api", world.url, "--watch", "--interval", "0.01", "--count", "4"]
    assert miners.run(parse_args(miners, args)) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("ducorig miners: no such user 'nobody'")


def test_watch_without_an_answer_exits_1(scripted, capsys) -> None:
    scripted.set("/v2/users/alice", html(503, "Service Unavailable"))
    code, _ = _watch(scripted, [])
    captured = capsys.readouterr()
    assert code == 1 and captured.out.count("STALE") == 3
    assert captured.err.startswith("ducorig miners: no answer in 3 request(s); the last error: ")


def test_efficiency_is_nan_safe() -> None:
    assert math.isnan(Miner.from_api({"ki": "x"}).efficiency)
    assert Miner.from_api({"ki": 2, "software": "Official ESP8266 Miner"}).efficiency == pytest.approx(0.96)
    assert Miner.from_api({"ki": 2, "software": "Official PC Miner"}).efficiency == pytest.approx(0.80)


def test_emulator_only_fields_but_the_ducoid_are_ignored() -> None:
    # The emulator adds these to its REST miners; the real API never sends them.
    extras = {"tier": "AVR", "zero_reward": 3}
    assert Miner.from_api({**miner_json(1), **extras}) == Miner.from_api(miner_json(1))
    assert Miner.from_api({**miner_json(1), "ducoid": "DUCOID0123456789ABCDEF"}).ducoid == "DUCOID0123456789ABCDEF"
    assert Miner.from_api(miner_json(1)).ducoid == ""
