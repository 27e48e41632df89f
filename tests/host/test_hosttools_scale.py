"""`ducorig miners`, `check` and `perf --once` against the scripted API with
what the emulator cannot list (it refuses a user's 51st worker): thousands of
miners, with unicode in their identifiers and software names. Run through
the console script's entry point (cli.main) for the real exit codes."""
from __future__ import annotations

import json
import re

import pytest
from test_hosttools_support import ScriptedApi, envelope, json_reply, miner_json, scripted, user_result  # noqa: F401

from ducorig_host import check, cli

MINERS = 3000
PER_RIG = 50
HASHRATE = 340.0
BALANCE = 1234.5
# Latin accents, Cyrillic, CJK, an emoji with a variation selector, a combining accent.
NAMES = ("Gießerei", "Ригa", "矿机", "⛏️ café", "nai\u0308ve")
SOFTWARE = ("ducorig I2C ✓ 0.1", "Официальный AVR 4.3", "ミナー ESP8266")


def identifier(rig: int) -> str:
    return f"{NAMES[rig % len(NAMES)]} {rig}"


def big_account() -> list[dict]:
    # No wallet id: the miners group by identifier, PER_RIG to a rig. Every
    # 1000th has a rejected share, so exactly three are flagged.
    return [miner_json(n, identifier=identifier(n // PER_RIG), software=SOFTWARE[n % len(SOFTWARE)], wd=None,
                       hashrate=HASHRATE, rejected=int(n % 1000 == 0))
            for n in range(MINERS)]


@pytest.fixture
def api(scripted: ScriptedApi) -> ScriptedApi:  # noqa: F811 (the imported fixture)
    scripted.set("/v2/users/alice", envelope(user_result(BALANCE, big_account())))
    scripted.set("/mining_key", json_reply({"success": True, "has_key": True}))
    return scripted


def run_cli(argv: list[str], api: ScriptedApi, capsys) -> tuple[int, str]:
    code = cli.main([*argv, "--api", api.url])
    captured = capsys.readouterr()
    assert captured.err == ""
    return code, captured.out


def test_miners_table_of_thousands_with_unicode(api: ScriptedApi, capsys) -> None:
    code, out = run_cli(["miners", "alice"], api, capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"alice: {MINERS} miner(s) online (pool limit 50)"
    assert f"  ! {MINERS} miners: over the pool's 50-worker limit" in out
    rigs = [f"{line}: {totals.split(' H/s, ')[0]}" for line, totals in zip(lines, lines[1:]) if line.startswith("rig ")]
    assert sorted(rigs) == sorted(f"rig {identifier(rig)}:   {PER_RIG} miner(s), {PER_RIG * HASHRATE:.0f}"
                                  for rig in range(MINERS // PER_RIG))
    # One table row per miner, its software (which differs within a rig) under
    # it; the unicode names intact.
    rows = [line for line in lines if re.match(r"  [0-9a-f]{8}  ", line)]
    assert len(rows) == MINERS
    software = [line for line in lines if line.startswith("    software ")]
    assert sorted(software) == sorted(f"    software {SOFTWARE[n % len(SOFTWARE)]}" for n in range(MINERS))
    assert "\nrig ⛏️ café 3\n  50 miner(s)" in out
    assert max(map(len, lines)) <= 80
    assert f"total of {MINERS // PER_RIG} rigs\n  {MINERS} miner(s), {MINERS * HASHRATE:.0f} H/s, " in out
    # Three rejected miners and the account's worker limit.
    assert lines[-2] == "attention: 4 item(s) flagged"


def test_miners_json_of_thousands_with_unicode(api: ScriptedApi, capsys) -> None:
    code, out = run_cli(["miners", "alice", "--json"], api, capsys)
    data = json.loads(out)
    assert code == 0 and data["online"] == MINERS and data["totals"]["miners"] == MINERS
    assert data["totals"]["hashrate"] == MINERS * HASHRATE
    assert [rig["rig"] for rig in data["rigs"]] == sorted(identifier(r) for r in range(MINERS // PER_RIG))
    listed = {(m["threadid"], m["identifier"], m["software"]) for rig in data["rigs"] for m in rig["miners"]}
    assert listed == {(m["threadid"], m["identifier"], m["software"]) for m in big_account()}


def test_check_counts_thousands_over_the_limit(api: ScriptedApi, capsys) -> None:
    code, out = run_cli(["check", "alice", "--key", "schlüssel-🔑"], api, capsys)
    assert code == check.OVER_LIMIT
    assert f"ok    account  alice found, balance {BALANCE:.8f} DUCO" in out
    assert "ok    key      right" in out
    assert f"FAIL  miners   {MINERS} online (pool limit 50): too many" in out
    assert out.rstrip().endswith(f"(exit {check.OVER_LIMIT})")
    assert "k=schl%C3%BCssel-%F0%9F%94%91" in api.requests[-1]


def test_perf_once_sums_thousands(api: ScriptedApi, capsys) -> None:
    code, out = run_cli(["perf", "alice", "--once"], api, capsys)
    fields = dict(pair.split("=", 1) for pair in out.split())
    assert code == 0
    assert (fields["user"], fields["balance"]) == ("alice", f"{BALANCE:.8f}")
    assert (fields["miners"], fields["hashrate"]) == (str(MINERS), f"{MINERS * HASHRATE:.1f}")
