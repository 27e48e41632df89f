"""`ducorig check`: every exit code, against the emulator where it can
produce the case and the scripted server where it cannot."""
from __future__ import annotations

import pytest
from test_hosttools_support import (FakeClock, envelope, fake_client, html, json_reply, miner_json, parse_args,
                                    scripted, user_result, world)  # noqa: F401 (fixtures)

from ducorig_host import check, cli


def run_check(argv: list[str], capsys) -> tuple[int, str]:
    code = check.run(parse_args(check, argv))
    return code, capsys.readouterr().out


@pytest.mark.parametrize("argv, code, expected", [
    (["alice", "--key", "s3cret"], check.OK, ["ok    key      right", "ok    miners   4 online (pool limit 50)"]),
    (["alice", "--key", "nope"], check.WRONG_KEY, ["FAIL  key      WRONG"]),
    (["alice"], check.KEY_UNCHECKED, ["give it with --key"]),
    (["bob", "--key", "anything"], check.NO_MINERS, ["ignored: send None", "FAIL  miners   none online"]),
    (["carol", "--key", "right-key"], check.NO_MINERS, ["ok    key      right"]),  # her rig uses a wrong key
    (["nobody"], check.NO_ACCOUNT, ["FAIL  account  no such user 'nobody'"]),
    (["alice", "--key", "s3cret", "--max-workers", "4", "--worker-margin", "0"], check.OK, ["4 online"]),
    (["alice", "--key", "s3cret", "--max-workers", "6"], check.OK, ["warn  miners   4 online", "nearly full"]),
    (["alice", "--key", "s3cret", "--max-workers", "3"], check.OVER_LIMIT, ["too many"]),
])
def test_exit_codes_on_the_emulator(world, capsys, argv: list[str], code: int, expected: list[str]) -> None:
    got, out = run_check([*argv, "--api", world.url], capsys)
    assert got == code and out.rstrip().endswith(f"(exit {code})")
    for text in expected:
        assert text in out


def test_account_balance_is_shown(world, capsys) -> None:
    _, out = run_check(["alice", "--key", "s3cret", "--api", world.url], capsys)
    balance = world.emulator.emulator.balance("alice")
    assert f"ok    account  alice found, balance {balance:.8f} DUCO" in out and balance > 0


def test_api_down_is_exit_1(capsys, monkeypatch) -> None:
    monkeypatch.setattr(check, "client_from_args", lambda args: fake_client(args.api, FakeClock(), retries=0))
    code, out = run_check(["alice", "--api", "http://127.0.0.1:9"], capsys)
    assert code == check.API_ERROR and "cannot reach the API" in out


def test_key_check_failing_is_exit_1(scripted, capsys, monkeypatch) -> None:
    monkeypatch.setattr(check, "client_from_args", lambda args: fake_client(args.api, FakeClock()))
    scripted.set("/v2/users/alice", envelope(user_result(miners=[miner_json(1)])))
    scripted.set("/mining_key", html(403, "Forbidden"))
    code, out = run_check(["alice", "--key", "k", "--api", scripted.url], capsys)
    assert code == check.API_ERROR and "FAIL  key      cannot check it" in out and "ok    miners" in out
    assert [path.split("?")[0] for path in scripted.requests] == ["/v2/users/alice", "/mining_key"]


def test_account_max_miners_from_the_live_api(scripted, capsys) -> None:
    scripted.set("/v2/users/alice", envelope(user_result(miners=[miner_json(n) for n in range(3)], max_miners=2)))
    scripted.set("/mining_key", json_reply({"success": True, "has_key": False}))
    code, out = run_check(["alice", "--api", scripted.url], capsys)
    assert code == check.OVER_LIMIT and "3 online (pool limit 50, account max_miners 2)" in out


def test_worst_finding_wins() -> None:
    findings = check.Findings()
    findings.bad("miners", "none", check.NO_MINERS)
    findings.bad("key", "wrong", check.WRONG_KEY)
    assert findings.exit_code == check.WRONG_KEY
    assert check.Findings().exit_code == check.OK


def test_exit_codes_are_documented_in_the_help(capsys) -> None:
    with pytest.raises(SystemExit):
        parse_args(check, ["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for code in (0, 1, 2, 3, 4, 5, 6, 7):
        assert f"{code} " in help_text.split("exit codes:")[1]


def test_runs_through_the_ducorig_command_table(world, capsys) -> None:
    table = {"check": ("ducorig_host.check", "check the account"), "miners": ("ducorig_host.miners", "miners"),
             "perf": ("ducorig_host.perf", "perf")}
    assert cli.dispatch("ducorig", table, ["check", "nobody", "--api", world.url]) == check.NO_ACCOUNT
    assert cli.dispatch("ducorig", table, ["miners", "alice", "--api", world.url, "--json"]) == 0
    assert cli.dispatch("ducorig", table, ["perf", "alice", "--api", world.url, "--once"]) == 0
    out = capsys.readouterr().out
    assert "FAIL  account" in out and '"online": 4' in out and "user=alice" in out
