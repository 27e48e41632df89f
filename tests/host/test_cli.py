"""`ducorig` run as a user runs it, in a subprocess without a terminal: a
failure is one line on stderr and a non-zero exit, never a traceback; the
conventions of mpremote- and esptool-style CLIs (--version, short options,
help on every option); the benches' help and progress; what the REST tools
say when the API is down, the user unknown or an option incomplete.
(Deploy and push: test_deploy.py, test_push.py.)"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import subprocess
from importlib import metadata

import pytest
from cli_support import DUCORIG, ducorig, ducorig_at_once, failed_cleanly
from test_hosttools_support import world  # noqa: F401 (fixture)

from ducorig_host import bench
from ducorig_host.bench import BENCHES
from ducorig_host.cli import BROKEN_PIPE, COMMANDS


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        return server.getsockname()[1]


def test_version() -> None:
    result = ducorig("--version")
    assert result.returncode == 0 and result.stdout == f"ducorig {metadata.version('ducorig')}\n"


@pytest.mark.parametrize("command", ["check", "miners", "perf"])
@pytest.mark.parametrize("timeout", ["-1", "0", "soon"])
def test_a_timeout_that_is_not_above_zero_is_a_usage_error(command: str, timeout: str) -> None:
    err = failed_cleanly(ducorig(command, "alice", "--timeout", timeout, "--api", "127.0.0.1:9"), 2)
    assert err.splitlines()[-1].startswith(f"ducorig {command}: error: argument -t/--timeout: '{timeout}'")


@pytest.mark.parametrize("argv, why", [
    (["pool", "--port", "99999"], "argument -p/--port: '99999': must be 0..65535"),  # an OverflowError before
    (["pool", "--rtt", "-5"], "argument --rtt: '-5': must be at least 0"),
    (["push", "rig.local", "-t", "0"], "argument -t/--timeout: '0': must be more than 0"),
    (["miners", "alice", "--count", "0"], "argument --count: '0': must be 1 or more"),
])
def test_an_option_out_of_range_is_a_usage_error(argv: list[str], why: str) -> None:
    assert failed_cleanly(ducorig(*argv), 2).splitlines()[-1] == f"ducorig {argv[0]}: error: {why}"


def test_a_reader_that_goes_away_ends_the_output_quietly() -> None:
    read, write = os.pipe()
    os.close(read)  # `ducorig portcheck --rules | head` once head has exited
    with os.fdopen(write, "wb") as gone:
        result = subprocess.run([*DUCORIG, "portcheck", "--rules"], stdout=gone, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, timeout=30)
    assert result.returncode == BROKEN_PIPE and result.stderr == b""


def test_every_option_of_every_command_has_help() -> None:
    missing = []
    for prefix, table in (("", COMMANDS), ("bench ", BENCHES)):
        for name, (module, _) in table.items():
            parser = argparse.ArgumentParser()
            importlib.import_module(module).add_arguments(parser)
            missing += [f"{prefix}{name} {'/'.join(a.option_strings) or a.dest}" for a in parser._actions
                        if not a.help]
    assert missing == []


def test_the_emulators_limits_are_explained() -> None:
    out = " ".join(ducorig("pool", "--help").stdout.split())
    assert "--max-workers N workers (connections) a user may mine with" in out
    assert "--max-shares-per-minute N results a connection may send per minute" in out


def test_bench_help_says_what_each_bench_measures_and_how_long_it_runs() -> None:
    result = ducorig("bench", "--help")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and max(map(len, lines)) <= 80
    for name in BENCHES:
        assert any(line.startswith(f"  {name} ") for line in lines)
    assert sum("default: about " in line for line in lines) == len(BENCHES)
    assert "default: about 29m46s: 18 configurations" in result.stdout  # 18 x (90 s + warm-up + start)
    assert ducorig("bench").stdout == bench.overview() + "\n"


def test_a_bench_prints_its_progress_on_stderr_and_its_figures_on_stdout() -> None:
    result = ducorig("bench", "pool", "--shares", "20", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["shares"] == 20
    first, last = result.stderr.splitlines()
    assert first.startswith("bench pool: configuration 1 of 1 (1 miner(s) x 20 shares), about ")
    assert first.endswith(" left") and last.startswith("bench pool: done in ")


def test_progress_counts_down_from_the_estimate_then_from_the_measured_steps(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    now = [100.0]
    monkeypatch.setattr(bench.time, "monotonic", lambda: now[0])
    progress = bench.Progress("cycle", 3, 60.0)
    for what in "abc":
        progress.step(what)
        now[0] += 30.0
    progress.done()
    assert capsys.readouterr().err.splitlines() == [
        "bench cycle: configuration 1 of 3 (a), about 3m00s left",
        "bench cycle: configuration 2 of 3 (b), about 1m00s left",
        "bench cycle: configuration 3 of 3 (c), about 30s left",
        "bench cycle: done in 1m30s"]


@pytest.mark.parametrize("argv, why", [
    (["--ready", "maybe"], "--ready 'maybe': use off, on or off,on"),
    (["--slaves", "3,x"], "--slaves '3,x' and --rtt '20,100,250': comma lists of numbers"),
    (["--seconds", "0"], "--seconds more than 0"),
])
def test_bench_cycle_names_a_bad_option_before_it_starts(argv: list[str], why: str) -> None:
    assert why in failed_cleanly(ducorig("bench", "cycle", *argv), 2)


# -- the REST tools ------------------------------------------------------------------------
def test_perf_checks_the_png_folder_before_any_request(closed_port: int) -> None:
    err = failed_cleanly(ducorig("perf", "alice", "--png", "/nonexistent/x.png", "--api", f"127.0.0.1:{closed_port}"),
                         2)
    assert err == "ducorig perf: /nonexistent/x.png: the folder /nonexistent does not exist\n"


def test_an_unreachable_api_is_an_exit_1_that_says_why(closed_port: int) -> None:
    api = f"127.0.0.1:{closed_port}"
    perf, miners, getpool = ducorig_at_once(["perf", "alice", "-a", api, "--count", "1"],
                                            ["miners", "alice", "-a", api, "--watch", "--count", "1"],
                                            ["getpool", "-a", api])
    refused = f"http://{api}/v2/users/alice: cannot reach the API: [Errno 111] Connection refused (after 3 attempts)"
    assert failed_cleanly(perf, 1).splitlines()[-1] == (
        f"ducorig perf: no answer in 1 request(s); the last error: {refused}")
    assert "STALE" in perf.stdout  # the live view showed it while it tried
    assert failed_cleanly(miners, 1).splitlines()[-1] == (
        f"ducorig miners: no answer in 1 request(s); the last error: {refused}")
    assert failed_cleanly(getpool, 1) == (f"ducorig getpool: http://{api}/getPool: cannot reach the API: "
                                          "[Errno 111] Connection refused (after 1 attempt)\n")


def test_an_unknown_user_is_no_such_user(world) -> None:  # noqa: F811 (the imported fixture)
    perf, watch, once = ducorig_at_once(["perf", "nobody", "-a", world.url, "-i", "0.1", "--count", "3"],
                                        ["miners", "nobody", "-a", world.url, "-w", "-i", "0.1", "--count", "3"],
                                        ["perf", "nobody", "-a", world.url, "--once"])
    said = "no such user 'nobody' (the API says: This user doesn't exist)\n"
    assert failed_cleanly(perf, 1) == f"ducorig perf: {said}" and perf.stdout == ""
    assert failed_cleanly(watch, 1) == f"ducorig miners: {said}" and watch.stdout == ""
    assert failed_cleanly(once, 1) == f"ducorig perf: {said}"


def test_an_api_without_a_scheme_is_taken_as_http_on_loopback(world) -> None:  # noqa: F811
    bare = world.url.removeprefix("http://")
    check, getpool = ducorig_at_once(["check", "alice", "-k", "s3cret", "-a", bare], ["getpool", "-a", bare])
    assert check.returncode == 0 and "ok    key      right" in check.stdout, check.stderr
    assert getpool.returncode == 0 and getpool.stdout.endswith(f"127.0.0.1:{world.emulator.pool_port}\n")
    err = failed_cleanly(ducorig("check", "alice", "-a", "ftp://example.org"), 2)
    assert "give http://HOST:PORT or https://HOST (or HOST:PORT)" in err


def test_miners_fits_80_columns_and_shows_each_slaves_ducoid(world) -> None:  # noqa: F811
    result = ducorig("miners", "alice", "-a", world.url)
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and max(map(len, lines)) <= 80
    for miner in world.rig.miners[:4]:  # alice's
        assert any(line.startswith(f"  {miner.ducoid}  ") for line in lines)
