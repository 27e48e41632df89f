"""`ducorig sim` as a command: wrong options are one-line errors before
anything starts, a controller that fails says why and exits non-zero, a
run ends with its summary and leaves no temp dir, `--pool`, `--user` and
`--key` reach a pool that is already running, and `make sim ARGS=...`
passes the options on. Runs are short (--minutes 0.05 is 3 s)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import ctrl_c_reaches_it

from ducorig_host.emulator import EmulatorConfig, EmulatorThread

ROOT = Path(__file__).resolve().parents[2]
DUCORIG = str(Path(sys.executable).with_name("ducorig"))
SAFETY_S = 180  # a net for a hung run, not a measure (a loaded 2-core CI machine is slow)
SUMMARY = ("summary:", "  shares ", "  timing ", "  memory ", "  bus ", "  CPU ")


def sim(*args: str, tmp: Path, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    """ducorig sim with its temp dirs in tmp; stdout is a pipe (no live dashboard)."""
    return subprocess.run([DUCORIG, "sim", *args], stdin=stdin, capture_output=True, text=True,
                          env=dict(os.environ, TMPDIR=str(tmp)), timeout=SAFETY_S)


@pytest.mark.parametrize("args, message", [
    (["--minutes", "0"], "argument --minutes: '0': must be more than 0"),
    (["--minutes", "-1"], "argument --minutes: '-1': must be more than 0"),
    (["--rtt", "-5"], "argument --rtt: '-5': must be at least 0"),
    (["--heap", "abc"], "argument --heap: 'abc' is not a heap size"),
    (["--heap", "0"], "argument --heap: '0' is not a heap size"),
    (["--pool", "8.8.8.8:6000"], "must not mine on a public pool"),
    (["--pool", "localhost"], "'localhost' is not HOST:PORT"),
    (["--slaves", "21"], "21 slaves: a rig has 1..20"),
    (["--workdir", "/etc/passwd"], "--workdir /etc/passwd: not a directory"),
    (["--tier", "AVR:6"], "tier 'AVR:6': expected NAME:DIFF:MIN:MAX[:REWARD_DIV]"),
    (["--tier", "AVR:6:90:330", "--pool", "127.0.0.1:6000"], "--tier sets the built-in pool's table"),
])
def test_a_wrong_option_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = sim(*args, tmp=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    error = [line for line in done.stderr.splitlines() if not line.startswith(("usage:", " "))]
    assert len(error) == 1 and error[0].startswith("ducorig sim: error: ") and message in error[0]
    assert "Traceback" not in done.stderr and not list(tmp_path.iterdir())


def test_the_console_refuses_a_pipe_on_stdin(tmp_path: Path) -> None:
    done = sim("--console", tmp=tmp_path, stdin=subprocess.PIPE)
    assert done.returncode == 2
    assert "--console needs a terminal on stdin, and this one is a pipe or a file" in done.stderr


@pytest.mark.parametrize("args, reason", [
    (["--i2c-hz", "0"], "config error: i2c.freq: 0 is not an I2C clock 10000..400000 Hz"),
    (["--i2c-hz", "5000000"], "config error: i2c.freq: 5000000 is not an I2C clock"),
    (["--heap", "10"], "MemoryError: memory allocation failed"),
])
def test_a_controller_that_cannot_start_says_why(tmp_path: Path, args: list[str], reason: str) -> None:
    done = sim(*args, "--minutes", "10", tmp=tmp_path)  # ends long before its 10 minutes
    assert done.returncode == 1
    assert "the controller stopped before its first report" in done.stderr and reason in done.stderr
    assert "summary:" not in done.stdout and not list(tmp_path.iterdir())


def test_a_run_that_ends_by_itself(tmp_path: Path) -> None:
    done = sim("--minutes", "0.05", tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ducorig sim: 3 slaves for 0:03, Ctrl-C stops early"
    assert any(line.startswith("  log   ") and line.endswith("(removed at exit)") for line in lines)
    assert all(any(line.startswith(start) for line in lines) for start in SUMMARY)
    assert not list(tmp_path.iterdir())  # the temp dir went


def test_keep_and_workdir_keep_the_log(tmp_path: Path) -> None:
    done = sim("--minutes", "0.05", "--keep", tmp=tmp_path)
    kept = next(tmp_path.glob("ducorig-sim-*"))
    assert done.returncode == 0 and f"kept {kept}" in done.stdout and (kept / "rig.log").stat().st_size > 0
    workdir = tmp_path / "mine"
    assert sim("--minutes", "0.05", "--workdir", str(workdir), tmp=tmp_path).returncode == 0
    assert (workdir / "rig.log").stat().st_size > 0


def test_pool_user_and_key_reach_a_running_pool(tmp_path: Path) -> None:
    """Mines on a pool started here, as alice with her key; `ducorig check
    --key` passes while the rig runs; Ctrl-C (SIGINT) then ends it with the
    summary and exit 0."""
    # its output goes to files: a pipe nobody reads while it waits fills up and stops the sim
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with EmulatorThread(EmulatorConfig(accounts={"alice": "s3cret"})) as pool, \
            out_path.open("w") as out_file, err_path.open("w") as err_file:
        proc = subprocess.Popen([DUCORIG, "sim", "--pool", f"127.0.0.1:{pool.pool_port}", "--user", "alice",
                                 "--key", "s3cret", "--minutes", "5"], stdin=subprocess.DEVNULL,
                                stdout=out_file, stderr=err_file, text=True,
                                env=dict(os.environ, TMPDIR=str(tmp_path)), preexec_fn=ctrl_c_reaches_it)
        try:
            deadline = time.monotonic() + SAFETY_S
            while pool.call(lambda: len(pool.emulator.miners("alice"))) < 3:  # each slave's stats published
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
            check = subprocess.run([DUCORIG, "check", "alice", "--key", "s3cret", "--api",
                                    f"http://127.0.0.1:{pool.http_port}"], capture_output=True, text=True,
                                   timeout=SAFETY_S)
            assert check.returncode == 0, check.stdout
            assert "ok    key      right" in check.stdout and "ok    miners   3 online" in check.stdout
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=SAFETY_S)
    out, err = out_path.read_text(), err_path.read_text()
    assert proc.returncode == 0, err
    assert f"  pool  127.0.0.1:{pool.pool_port} (--pool)" in out and "summary:" in out


def test_tier_passes_a_table_to_the_pool_and_the_rig_rides_out_its_bounce(tmp_path: Path) -> None:
    # a ducorig slave at ~340 H/s fits neither AVR (< 330) nor MEGA (>= 380)
    done = sim("--slaves", "1", "--tier", "AVR:4:90:330", "--tier", "MEGA:6:380:550", "--minutes", "0.3",
               "--keep", tmp=tmp_path)
    log = (next(tmp_path.glob("ducorig-sim-*")) / "rig.log").read_text()
    assert done.returncode == 0, done.stderr
    assert "pm0: the pool's tiers bounce it at" in log and "rate cap now" in log, log


def test_make_sim_passes_args() -> None:
    done = subprocess.run(["make", "-n", "--no-print-directory", "sim", "ARGS=--slaves 20"], cwd=ROOT,
                          capture_output=True, text=True, timeout=SAFETY_S)
    assert done.returncode == 0 and done.stdout.splitlines()[-1].endswith("/ducorig sim --slaves 20")
